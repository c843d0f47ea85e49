// duet/compose/wait_async.hpp — wait_async(task, timeout, token): Task.WaitAsync, `task`'s
// outcome, or TimeoutError / canceled (how it waits: compose/when_all.hpp).
//
// Outcome: the child's own outcome if it completes first; TimeoutError (faulted) if the timeout
// passes first; canceled with an OperationCanceledError carrying `token` if the token is canceled
// first. The child itself is not canceled — it keeps running.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/time/delay.hpp"
#include "duet/time/timer_wheel.hpp"

namespace duet {

namespace detail {

// WaitAsyncState<T> — races a child task, a timer and a token; the first to claim `decided_`
// completes the task and cleans up the others. References: 1 handle, 1 child node (released when
// the child completes), 1 armed timer (released by the expiry, or by whoever cancels it
// successfully), 1 token registration (released by the callback, or by whoever unregisters it
// successfully).
template <class T>
class WaitAsyncState final : public TaskState<T>, public TimerEntry, public CancellationCallbackNode {
 public:
  WaitAsyncState(Task<T> child, TimerWheel& wheel, CancellationToken token)
      : TaskState<T>(1), child_(std::move(child)), wheel_(wheel), token_(std::move(token)) {
    TimerEntry::invoke = &WaitAsyncState::on_timer;
    TimerEntry::owner = this;
    CancellationCallbackNode::invoke = &WaitAsyncState::on_cancel;
    child_node_.invoke = &WaitAsyncState::on_child;
    // No owner: the timer or the token may complete this task without the child (see
    // Continuation::owner's contract).
    child_node_.owner = nullptr;
    child_node_.parent = this;
    child_node_.run_synchronously = true;  // a completion action, not an await
  }

  void start(std::chrono::nanoseconds timeout) {
    if (token_.can_be_canceled()) {
      this->add_ref();  // the registration's reference: released by whoever unlinks the node
      if (!token_.state()->register_node(*this)) {
        this->release();
        decided_.store(true, std::memory_order_relaxed);
        this->try_complete_exception(detail::canceled_error(token_));
        return;
      }
      registered_ = true;
    }
    if (timeout >= std::chrono::nanoseconds::zero()) {
      this->add_ref();  // the armed timer's reference
      wheel_.schedule(*this, timeout);
      // A winner that tried to stop the timer before it was linked missed it: stop it here.
      if (decided_.load(std::memory_order_acquire) && wheel_.cancel(*this)) this->release();
    }
    this->add_ref();  // the child node's reference
    child_.state()->add_continuation(child_node_);
  }

 private:
  struct ChildNode : Continuation {
    WaitAsyncState* parent = nullptr;
  };

  bool claim() noexcept { return !decided_.exchange(true, std::memory_order_acq_rel); }

  // cleanup(from_timer) — after winning: unlink the token node and stop the timer. The wheel
  // lock orders this cancel against start()'s schedule, so a timer is never left armed.
  void cleanup(bool from_timer) noexcept {
    if (registered_ && token_.state()->unregister_node(*this)) this->release();
    if (!from_timer && wheel_.cancel(*this)) this->release();
  }

  static void on_child(Continuation* c) noexcept {
    WaitAsyncState* self = static_cast<ChildNode&>(*c).parent;
    if (self->claim()) {
      self->cleanup(false);
      complete_from<T>(*self, *self->child_.state());
    }
    self->release();
  }

  static void on_timer(Continuation* c) noexcept {
    WaitAsyncState* self = &static_cast<WaitAsyncState&>(static_cast<TimerEntry&>(*c));
    if (self->claim()) {
      self->cleanup(true);
      if (self->abandoned()) {
        self->try_complete_exception(detail::canceled_error(
            "wait_async: the TimerWheel running its timeout was destroyed first"));
      } else {
        self->try_complete_exception(detail::error_ptr<TimeoutError>());
      }
    }
    self->release();
  }

  static void on_cancel(CancellationCallbackNode* n) {
    WaitAsyncState* self = &static_cast<WaitAsyncState&>(*n);
    // cancel() already unlinked our node; its reference keeps `self` alive until the end.
    if (self->claim()) {
      if (self->wheel_.cancel(*self)) self->release();
      self->try_complete_exception(detail::canceled_error(self->token_));
    }
    self->release();  // the registration's reference
  }

  Task<T> child_;
  TimerWheel& wheel_;
  CancellationToken token_;
  ChildNode child_node_;
  std::atomic<bool> decided_{false};
  bool registered_ = false;  // written in start() before the timer or child can fire
};

}  // namespace detail

// wait_async(task, timeout, token, wheel) — Task.WaitAsync: see the header comment for outcomes.
// timeout == k_infinite_timeout waits without a timer; any other negative timeout, or one beyond
// TimerWheel::k_max_delay, throws ArgumentError. Returns `task` itself when it has already
// completed or nothing could interrupt it. One allocation otherwise. Thread-safe.
template <class T>
Task<T> wait_async(const Task<T>& task, std::chrono::nanoseconds timeout,
                   const CancellationToken& token = {}, TimerWheel& wheel = TimerWheel::current()) {
  if (!task.valid()) detail::throw_invalid_task();
  if (timeout < std::chrono::nanoseconds::zero() && timeout != k_infinite_timeout) {
    throw ArgumentError("wait_async: the timeout must be >= 0 or duet::k_infinite_timeout");
  }
  if (timeout > TimerWheel::k_max_delay) {
    throw ArgumentError("wait_async: the timeout exceeds TimerWheel::k_max_delay (~2.18 years); "
                        "use duet::k_infinite_timeout to wait without one");
  }
  if (task.is_completed()) return task;
  if (token.is_cancellation_requested()) return detail::canceled_task<T>(token);
  if (timeout == std::chrono::nanoseconds::zero()) {
    return from_exception<T>(std::make_exception_ptr(TimeoutError()));
  }
  if (timeout == k_infinite_timeout && !token.can_be_canceled()) return task;
  auto* s = new detail::WaitAsyncState<T>(task, wheel, token);
  Task<T> result = detail::adopt_task(static_cast<detail::TaskState<T>*>(s));
  s->start(timeout);
  return result;
}

// wait_async(task, timeout) / wait_async(task, token) — the two-argument forms.
template <class T, class Rep, class Period>
Task<T> wait_async(const Task<T>& task, std::chrono::duration<Rep, Period> timeout,
                   const CancellationToken& token = {}) {
  return wait_async(task, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), token);
}
template <class T>
Task<T> wait_async(const Task<T>& task, const CancellationToken& token) {
  return wait_async(task, std::chrono::nanoseconds(k_infinite_timeout), token);
}

}  // namespace duet
