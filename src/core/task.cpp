// task.cpp — the cold paths of TaskStateBase: faulting, blocking waits, the last release, the
// immortal completed task, and the live-state counter.
#include "duet/core/task.hpp"

#include <string>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task_completion_source.hpp"

namespace duet {

namespace detail {

namespace {
// g_live_task_states — see live_task_states(); touched only in builds without NDEBUG.
std::atomic<std::int64_t> g_live_task_states{0};

}  // namespace

void count_task_state(int delta) noexcept {
  g_live_task_states.fetch_add(delta, std::memory_order_relaxed);
}

void TaskStateBase::wake_waiters() noexcept {
  word_.fetch_add(k_poke, std::memory_order_acq_rel);
  word_.notify_all();
}

void TaskStateBase::complete_exception_claimed(std::exception_ptr e) noexcept {
  DUET_ASSERT(e != nullptr, "completing with a null exception");
  TaskStatus s = TaskStatus::faulted;
  try {
    std::rethrow_exception(e);
  } catch (const OperationCanceledError&) {
    s = TaskStatus::canceled;
  } catch (...) {
  }
  exception_ = std::move(e);
  end_complete(s);
}

void TaskStateBase::complete_fault_claimed(std::exception_ptr e) noexcept {
  DUET_ASSERT(e != nullptr, "completing with a null exception");
  exception_ = std::move(e);
  end_complete(TaskStatus::faulted);
}

void TaskStateBase::complete_canceled_claimed(std::exception_ptr e) noexcept {
  if (!e) {
    // Out of memory for the TaskCanceledError: faulted with the std::bad_alloc instead.
    complete_exception_claimed(canceled_error());
    return;
  }
  exception_ = std::move(e);
  end_complete(TaskStatus::canceled);
}

void TaskStateBase::wait() {
  observed_.store(true, std::memory_order_relaxed);
  if (is_completed()) return;
  // On a pool worker: hand its queued items over and start a replacement (scheduler.hpp).
  BlockingRegion blocking;
  if (auto* ctx = SynchronizationContext::current()) {
    ctx->blocking_wait(*this);
  } else {
    wait_blocking();
  }
}

namespace {
// TimedWaiter — the node wait_for() registers: it signals a condition variable. Shared by the
// waiter and the node (the waiter may give up first): two references.
struct TimedWaiter final : Continuation {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;  // Guarded by m.
  std::atomic<int> refs{2};
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  static void fire(Continuation* c) noexcept {
    auto* self = static_cast<TimedWaiter*>(c);
    {
      std::lock_guard<std::mutex> lk(self->m);
      self->done = true;
    }
    self->cv.notify_all();
    self->release();
  }
};
}  // namespace

bool TaskStateBase::wait_for(std::chrono::nanoseconds timeout) {
  observed_.store(true, std::memory_order_relaxed);
  if (is_completed()) return true;
  if (timeout < std::chrono::nanoseconds::zero()) {
    wait();
    return true;
  }
  if (timeout == std::chrono::nanoseconds::zero()) return false;
  auto* w = new TimedWaiter;
  w->invoke = &TimedWaiter::fire;
  w->run_synchronously = true;
  add_continuation(*w);
  {
    BlockingRegion blocking;
    std::unique_lock<std::mutex> lk(w->m);
    w->cv.wait_for(lk, timeout, [w] { return w->done; });
  }
  w->release();
  return is_completed();
}

void TaskStateBase::rethrow_failure() const {
  observed_.store(true, std::memory_order_relaxed);
  if (rethrow_first_inner_) {
    try {
      std::rethrow_exception(exception_);
    } catch (const AggregateError& a) {
      if (!a.inner_exceptions().empty()) std::rethrow_exception(a.inner_exceptions().front());
      throw;
    }
  }
  std::rethrow_exception(exception_);
}

void TaskStateBase::last_release() noexcept {
  if (status() == TaskStatus::faulted && !observed_.load(std::memory_order_relaxed)) {
    report_unobserved_exception(exception_);
  }
  destroy();
}

TaskState<void>* TaskState<void>::completed() noexcept {
  static TaskState<void>* const s = [] {
    auto* p = new TaskState<void>(k_immortal);
    p->try_complete_value();
    return p;
  }();
  return s;
}

void throw_tcs_already_completed(const char* what) {
  throw_misuse("TaskCompletionSource::", what,
               ": an attempt was made to transition a task to a final state when it had already "
               "completed. A task completes exactly once; use the try_set_* forms when several "
               "producers race to complete it");
}

[[noreturn]] void throw_invalid_task() {
  throw InvalidOperationError(
      "this Task handle is empty (default-constructed or moved from): obtain a task from an "
      "async method, a TaskCompletionSource or a combinator before using it");
}

[[noreturn]] void throw_bad_configure_await_options(bool suppress_on_value) {
  if (suppress_on_value) {
    throw ArgumentError(
        "configure_await(ConfigureAwaitOptions::suppress_throwing) is only valid for Task<>: an "
        "await of a Task<T> that did not throw would have no value to return. Await the task as "
        "a Task<> (or catch the exception) instead");
  }
  throw ArgumentError("configure_await: unknown ConfigureAwaitOptions flag (use none, "
                      "continue_on_captured_context, suppress_throwing, force_yielding)");
}

}  // namespace detail

const char* to_string(TaskStatus s) noexcept {
  switch (s) {
    case TaskStatus::pending: return "pending";
    case TaskStatus::ran_to_completion: return "ran_to_completion";
    case TaskStatus::faulted: return "faulted";
    case TaskStatus::canceled: return "canceled";
  }
  return "?";
}

std::int64_t live_task_states() noexcept {
#ifdef NDEBUG
  return -1;
#else
  return detail::g_live_task_states.load(std::memory_order_relaxed);
#endif
}

Task<> completed_task() noexcept {
  auto* s = detail::TaskState<void>::completed();
  s->add_ref();
  return detail::adopt_task(s);
}

}  // namespace duet
