// duet/when.hpp — time and composition: delay, when_all, when_any, wait_async.
//
// delay(d, token)            Task.Delay: a task completed `d` from now by the TimerWheel.
// when_all(tasks...)         Task.WhenAll: completes when every task has completed.
// when_any(tasks...)         Task.WhenAny: completes with the first task to complete.
// wait_async(task, t, token) Task.WaitAsync: `task`'s outcome, or TimeoutError / canceled.
//
// How they wait. Every combinator is one heap object that *is* the result task's state and
// embeds everything it waits with: one intrusive Continuation per child task, the TimerEntry,
// the cancellation callback node. No std::function, no per-child allocation (when_all over a
// range allocates its node array once). Child continuations are registered with
// configure_await(false) semantics (no SynchronizationContext, no ExecutionContext): they only
// count and complete the combined task; the user's own continuations on the combined task then
// resume where their awaits captured.
//
// Outcomes (.NET's rules):
//  * when_all: faulted when any child faulted — exception() is an AggregateError of every
//    fault, in argument order (a child that is itself a when_all contributes its inner
//    exceptions, flattened one level), while await / wait() / result() rethrow the *first* inner
//    exception, as awaiting Task.WhenAll does; else canceled when any child was canceled
//    (rethrowing the first canceled child's OperationCanceledError); else the results.
//    A Task<> child contributes std::monostate to the tuple (the empty placeholder for "no
//    value"); when every child is a Task<>, when_all returns Task<> itself, as .NET does.
//  * when_any: always ran_to_completion with {index, task} of the first child to complete,
//    whatever that child's status; await the returned task to observe it.
//  * wait_async: the child's own outcome if it completes first; TimeoutError (faulted) if the
//    timeout passes first; canceled with an OperationCanceledError carrying `token` if the token
//    is canceled first. The child itself is not canceled — it keeps running.
//
// Caveat shared with every intrusive continuation stack: a child that never completes keeps the
// combinator's state alive (its node stays registered; .NET unlinks it, a Treiber stack cannot).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "duet/cancellation.hpp"
#include "duet/combinators.hpp"
#include "duet/errors.hpp"
#include "duet/task.hpp"
#include "duet/timer_wheel.hpp"

namespace duet {

// k_infinite_timeout — "no timeout" for delay() and wait_async() (.NET's Timeout.InfiniteTimeSpan,
// -1 ms).
inline constexpr std::chrono::milliseconds k_infinite_timeout{-1};

// ---------------------------------------------------------------------------------------------
// delay

// delay(wheel, d, token) — a Task<> that completes `d` from now on `wheel` (rounded up to the
// wheel's 1 ms tick; never early). d == 0 returns the completed task synchronously without
// allocating; d == k_infinite_timeout never completes unless `token` is canceled; any other
// negative d, or d > TimerWheel::k_max_delay, throws ArgumentError. An already-canceled token
// gives a canceled task; canceling `token` later removes the timer in O(1) and ends the task
// canceled (awaiting it throws TaskCanceledError carrying `token`). One allocation: the task
// state, which embeds the timer entry and the cancellation callback node. Thread-safe.
Task<> delay(TimerWheel& wheel, std::chrono::nanoseconds d, const CancellationToken& token = {});

// delay(d, token) — delay on TimerWheel::current() (the default wheel, or a TimerWheelScope's).
template <class Rep, class Period>
Task<> delay(std::chrono::duration<Rep, Period> d, const CancellationToken& token = {}) {
  return delay(TimerWheel::current(), std::chrono::duration_cast<std::chrono::nanoseconds>(d),
               token);
}

namespace detail {

// canceled_task<T>(token) — a canceled Task<T> whose exception carries `token`.
template <class T>
Task<T> canceled_task(const CancellationToken& token) {
  auto* s = new TaskState<T>();
  s->try_complete_exception(detail::canceled_error(token));
  return adopt_task(s);
}

// complete_from(target, child) — copies a completed child's outcome into `target`.
template <class T>
void complete_from(TaskState<T>& target, TaskState<T>& child) noexcept {
  switch (child.status()) {
    case TaskStatus::ran_to_completion:
      if constexpr (std::is_void_v<T>) {
        target.try_complete_value();
      } else {
        try {
          target.try_complete_value(child.take_result());
        } catch (...) {
          target.try_complete_exception(std::current_exception());
        }
      }
      break;
    case TaskStatus::canceled:
      target.try_complete_canceled(child.exception());
      break;
    case TaskStatus::faulted:
      if (target.try_begin_complete()) {
        if (child.rethrows_first_inner()) target.set_rethrow_first_inner();
        target.complete_exception_claimed(child.exception());
      }
      break;
    case TaskStatus::pending:
      DUET_ASSERT(false, "complete_from on a pending child");
      break;
  }
}

// when_all_element_t<T> — what a Task<T> contributes to when_all's tuple.
template <class T>
using when_all_element_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
when_all_element_t<T> take_element(TaskStateBase* s) {
  if constexpr (std::is_void_v<T>) {
    static_cast<TaskState<void>*>(s)->take_result();
    return std::monostate{};
  } else {
    return static_cast<TaskState<T>*>(s)->take_result();
  }
}

// TupleCollect<Ts...> — builds when_all's tuple from the children, in order.
template <class... Ts>
struct TupleCollect {
  using result_type = std::tuple<when_all_element_t<Ts>...>;
  static result_type collect(const std::vector<TaskStateBase*>& c) {
    return collect(c, std::index_sequence_for<Ts...>{});
  }
  template <std::size_t... Is>
  static result_type collect(const std::vector<TaskStateBase*>& c, std::index_sequence<Is...>) {
    return result_type{take_element<Ts>(c[Is])...};
  }
};

// VectorCollect<T> — builds when_all's vector from the children, in order.
template <class T>
struct VectorCollect {
  using result_type = std::vector<T>;
  static result_type collect(const std::vector<TaskStateBase*>& c) {
    std::vector<T> v;
    v.reserve(c.size());
    for (TaskStateBase* s : c) v.push_back(static_cast<TaskState<T>*>(s)->take_result());
    return v;
  }
};

// VoidCollect — when_all over Task<> children only.
struct VoidCollect {
  using result_type = void;
};

// collect_failures(children, faults, canceled) — gathers faults (flattening when_all children)
// and the first cancellation, in child order. Marks every failed child observed.
void collect_failures(const std::vector<TaskStateBase*>& children,
                      std::vector<std::exception_ptr>& faults, std::exception_ptr& canceled);

// WhenAllState<Collect> — the state of one when_all. refs: 1 handle + 1 "pending", released by
// the last child continuation after it completed the task.
template <class Collect>
class WhenAllState final : public TaskState<typename Collect::result_type> {
  using R = typename Collect::result_type;

 public:
  // Takes over one reference per child, only once nothing can throw any more: when the node
  // array cannot be allocated, `children` is left as it was and the caller releases them.
  explicit WhenAllState(std::vector<TaskStateBase*>&& children)
      : TaskState<R>(2), nodes_(new Node[children.size()]), remaining_(children.size()) {
    children_.swap(children);
  }

  // start() — registers one node per child. May complete the task before it returns.
  void start() noexcept {
    const std::size_t n = children_.size();
    for (std::size_t i = 0; i < n; ++i) {
      nodes_[i].invoke = &WhenAllState::on_child;
      nodes_[i].owner = this;
      nodes_[i].parent = this;
      children_[i]->add_continuation(nodes_[i]);  // may run on_child inline
    }
  }

 protected:
  ~WhenAllState() override {
    for (TaskStateBase* c : children_) c->release();
  }

 private:
  struct Node : Continuation {
    WhenAllState* parent = nullptr;
  };

  static void on_child(Continuation* c) noexcept {
    WhenAllState* self = static_cast<Node&>(*c).parent;
    if (self->remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    self->finish();
    self->release();  // the pending reference
  }

  // finish() — completes the task from the children. Out of memory while gathering the faults
  // or building the AggregateError faults it with the std::bad_alloc.
  void finish() noexcept {
    try {
      finish_or_throw();
    } catch (...) {
      this->try_complete_exception(std::current_exception());
    }
  }
  void finish_or_throw() {
    std::vector<std::exception_ptr> faults;
    std::exception_ptr canceled;
    collect_failures(children_, faults, canceled);
    if (!faults.empty()) {
      std::exception_ptr all = std::make_exception_ptr(AggregateError(std::move(faults)));
      if (this->try_begin_complete()) {
        this->set_rethrow_first_inner();
        this->complete_exception_claimed(std::move(all));
      }
    } else if (canceled) {
      this->try_complete_canceled(std::move(canceled));
    } else if constexpr (std::is_void_v<R>) {
      this->try_complete_value();
    } else {
      try {
        this->try_complete_value(Collect::collect(children_));
      } catch (...) {
        this->try_complete_exception(std::current_exception());
      }
    }
  }

  std::vector<TaskStateBase*> children_;
  std::unique_ptr<Node[]> nodes_;
  std::atomic<std::size_t> remaining_;
};

template <class Collect>
auto start_when_all(std::vector<TaskStateBase*> children) {
  using R = typename Collect::result_type;
  WhenAllState<Collect>* s = nullptr;
  try {
    s = new WhenAllState<Collect>(std::move(children));
  } catch (...) {  // out of memory: the references taken on the children go back
    for (auto* c : children) c->release();
    throw;
  }
  Task<R> task = adopt_task(static_cast<TaskState<R>*>(s));
  s->start();
  return task;
}

template <class T>
TaskStateBase* take_child(const Task<T>& t) {
  if (!t.valid()) throw_invalid_task();
  t.state()->add_ref();
  return t.state();
}

template <class R>
struct is_task : std::false_type {};
template <class U>
struct is_task<Task<U>> : std::true_type {};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// when_all

// when_all(tasks...) — Task<std::tuple<E...>> where E is T for a Task<T> and std::monostate for a
// Task<>; Task<> when every argument is a Task<>. See the header comment for outcomes.
// Throws InvalidOperationError for an empty handle. Two allocations (state + node array).
template <class... Ts>
  requires(sizeof...(Ts) > 0)
auto when_all(const Task<Ts>&... tasks) {
  std::vector<detail::TaskStateBase*> children;
  children.reserve(sizeof...(Ts));
  try {
    (children.push_back(detail::take_child(tasks)), ...);
  } catch (...) {
    for (auto* c : children) c->release();
    throw;
  }
  if constexpr ((std::is_void_v<Ts> && ...)) {
    return detail::start_when_all<detail::VoidCollect>(std::move(children));
  } else {
    return detail::start_when_all<detail::TupleCollect<Ts...>>(std::move(children));
  }
}

// when_all(range) — over a range of Task<T>: Task<std::vector<T>> (results in range order), or
// Task<> for Task<> elements. An empty range gives a completed task.
template <std::ranges::input_range Range>
  requires detail::is_task<std::remove_cvref_t<std::ranges::range_value_t<Range>>>::value
auto when_all(Range&& tasks) {
  using TaskT = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
  using T = typename TaskT::result_type;
  std::vector<detail::TaskStateBase*> children;
  try {
    for (const auto& t : tasks) children.push_back(detail::take_child(t));
  } catch (...) {
    for (auto* c : children) c->release();
    throw;
  }
  if constexpr (std::is_void_v<T>) {
    if (children.empty()) return completed_task();
    return detail::start_when_all<detail::VoidCollect>(std::move(children));
  } else {
    if (children.empty()) return from_result(std::vector<T>{});
    return detail::start_when_all<detail::VectorCollect<T>>(std::move(children));
  }
}

// ---------------------------------------------------------------------------------------------
// when_any

// WhenAnyResult<T> — which task completed first: its position among the arguments and the task.
template <class T>
struct WhenAnyResult {
  std::size_t index = 0;
  Task<T> task;
};

namespace detail {

// WhenAnyState<T> — refs: 1 handle + 1 per child node (each node releases its own when its
// child completes, so late children never touch a freed state).
template <class T>
class WhenAnyState final : public TaskState<WhenAnyResult<T>> {
 public:
  explicit WhenAnyState(std::vector<Task<T>> children)
      : TaskState<WhenAnyResult<T>>(static_cast<std::uint32_t>(1 + children.size())),
        children_(std::move(children)),
        nodes_(new Node[children_.size()]) {}

  void start() noexcept {
    for (std::size_t i = 0; i < children_.size(); ++i) {
      nodes_[i].invoke = &WhenAnyState::on_child;
      // No owner: when_any completes through any one child, so it does not need this node to
      // run (Continuation::owner's contract; deadlock detection would report a false cycle).
      nodes_[i].owner = nullptr;
      nodes_[i].parent = this;
      nodes_[i].index = i;
      children_[i].state()->add_continuation(nodes_[i]);
    }
  }

 private:
  struct Node : Continuation {
    WhenAnyState* parent = nullptr;
    std::size_t index = 0;
  };

  static void on_child(Continuation* c) noexcept {
    Node* node = &static_cast<Node&>(*c);
    WhenAnyState* self = node->parent;
    if (!self->decided_.exchange(true, std::memory_order_acq_rel)) {
      try {
        self->try_complete_value(WhenAnyResult<T>{node->index, self->children_[node->index]});
      } catch (...) {
        self->try_complete_exception(std::current_exception());
      }
    }
    self->release();
  }

  std::vector<Task<T>> children_;
  std::unique_ptr<Node[]> nodes_;
  std::atomic<bool> decided_{false};
};

template <class T>
Task<WhenAnyResult<T>> start_when_any(std::vector<Task<T>> children) {
  if (children.empty()) {
    throw ArgumentError("when_any needs at least one task: with none, nothing could ever complete "
                        "first (.NET throws ArgumentException too)");
  }
  for (const auto& t : children) {
    if (!t.valid()) throw_invalid_task();
  }
  auto* s = new WhenAnyState<T>(std::move(children));
  Task<WhenAnyResult<T>> task = adopt_task(static_cast<TaskState<WhenAnyResult<T>>*>(s));
  s->start();
  return task;
}

}  // namespace detail

// when_any(tasks...) — Task<WhenAnyResult<T>> naming the first of `tasks` to complete. All
// arguments must be Task<T> of one T. Two allocations.
template <class T, class... Rest>
  requires(std::is_same_v<Rest, T> && ...)
Task<WhenAnyResult<T>> when_any(const Task<T>& first, const Task<Rest>&... rest) {
  return detail::start_when_any<T>(std::vector<Task<T>>{first, rest...});
}

// when_any(range) — over a range of Task<T>. An empty range throws ArgumentError.
template <std::ranges::input_range Range>
  requires detail::is_task<std::remove_cvref_t<std::ranges::range_value_t<Range>>>::value
auto when_any(Range&& tasks) {
  using TaskT = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
  using T = typename TaskT::result_type;
  std::vector<Task<T>> children;
  for (const auto& t : tasks) children.push_back(t);
  return detail::start_when_any<T>(std::move(children));
}

// ---------------------------------------------------------------------------------------------
// wait_async

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
