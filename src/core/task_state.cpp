// task_state.cpp — completion, continuation dispatch and blocking waits for TaskStateBase.
#include "duet/detail/task_state.hpp"

#include <thread>

#include "duet/combinators.hpp"
#include "duet/execution_context.hpp"
#include "duet/scheduler.hpp"
#include "duet/sm/builder.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"

namespace duet {

namespace detail {
void report_unobserved_exception(std::exception_ptr e) noexcept;

namespace {
// g_live_task_states — see live_task_states(); touched only in builds without NDEBUG.
std::atomic<std::int64_t> g_live_task_states{0};

// k_max_inline_depth — how deeply continuations may nest inline on one thread before dispatch
// posts to the pool instead (.NET's stack guard for inlined continuations).
constexpr int k_max_inline_depth = 32;

// inline_depth() — the calling thread's nesting counter. Not inlined, so a fiber that migrates
// between threads never keeps another thread's counter.
[[gnu::noinline]] int& inline_depth() noexcept {
  thread_local int depth = 0;
  return depth;
}

void sentinel_invoke(Continuation*) noexcept {
  DUET_ASSERT(false, "the completed-task sentinel continuation was invoked");
}
}  // namespace

void count_task_state(int delta) noexcept {
  g_live_task_states.fetch_add(delta, std::memory_order_relaxed);
}

Continuation* TaskStateBase::completed_sentinel() noexcept {
  static Continuation sentinel{&sentinel_invoke};
  return &sentinel;
}

void TaskStateBase::end_complete(TaskStatus s) noexcept {
  DUET_ASSERT(s != TaskStatus::pending, "end_complete with pending status");
  DUET_ASSERT((word_.load(std::memory_order_relaxed) & k_completing) != 0,
              "end_complete without try_begin_complete");
  const bool force_async = run_async_;
  // Take the continuations first: publishing the status is the last touch of `this`, because an
  // observer that sees it may drop the last reference at once (a TaskCompletionSource destroyed
  // right after its task is seen completed). A registration that finds the sentinel before the
  // status is published waits for it (try_add_continuation).
  Continuation* head = head_.exchange(completed_sentinel(), std::memory_order_acq_rel);
  Continuation* ordered = nullptr;  // reverse: registration order, as .NET runs them
  while (head) {
    Continuation* next = head->next;
    head->next = ordered;
    ordered = head;
    head = next;
  }
  // Publish. A blocked waiter needs a futex wake after the status is visible; the wake touches
  // the word, so the completer holds a reference across it (only when a waiter exists: the bit
  // cannot appear once the status is published, wait_blocking sets it with a CAS).
  std::uint32_t w = word_.load(std::memory_order_relaxed);
  bool guarded = false;
  for (;;) {
    DUET_ASSERT((w & k_status_mask) == 0, "a task completed twice");
    if ((w & k_waiters) && !guarded) {
      add_ref();
      guarded = true;
    }
    if (word_.compare_exchange_weak(w, w | static_cast<std::uint32_t>(s),
                                    std::memory_order_acq_rel, std::memory_order_relaxed)) {
      break;
    }
  }
  if (guarded) {
    word_.notify_all();
    release();
  }
  // From here on `this` may be destroyed by any observer: touch only the nodes.
  while (ordered) {
    Continuation* c = ordered;
    ordered = c->next;
    c->next = nullptr;
    dispatch_continuation(*c, force_async);
  }
}

void TaskStateBase::wait_for_published_status() const noexcept {
  // The completer is between two adjacent atomic operations; yield only if it was preempted.
  for (int spin = 0; !is_completed(); ++spin) {
    if (spin > 64) std::this_thread::yield();
  }
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
  if (auto* ctx = SynchronizationContext::current()) {
    ctx->blocking_wait(*this);
  } else {
    wait_blocking();
  }
}

void TaskStateBase::last_release() noexcept {
  if (status() == TaskStatus::faulted && !observed_.load(std::memory_order_relaxed)) {
    report_unobserved_exception(exception_);
  }
  destroy();
}

void TaskStateBase::dispatch_continuation(Continuation& c, bool force_async) noexcept {
  SynchronizationContext* ctx = c.context;
  if (ctx && ctx != SynchronizationContext::current()) {
    ctx->post(c);
    return;
  }
  int& depth = inline_depth();
  if (force_async || depth >= k_max_inline_depth) {
    if (ctx) {
      ctx->post(c);
    } else {
      default_scheduler().post(c);
    }
    return;
  }
  ++depth;
  run_continuation(&c);
  --inline_depth();  // re-read: the continuation may have switched fibers
}

TaskState<void>* TaskState<void>::completed() noexcept {
  static TaskState<void>* const s = [] {
    auto* p = new TaskState<void>(k_immortal);
    p->try_complete_value();
    return p;
  }();
  return s;
}

[[noreturn]] void throw_invalid_task() {
  throw InvalidOperationError(
      "this Task handle is empty (default-constructed or moved from): obtain a task from an "
      "async method, a TaskCompletionSource or a combinator before using it");
}

[[noreturn]] void throw_task_before_start() {
  throw InvalidOperationError(
      "AsyncTaskMethodBuilder::task() was called before start(): call builder.start(sm) first, "
      "then return builder.task()");
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

void run_continuation(Continuation* c) noexcept {
  detail::ExecutionContextNode* const saved = detail::ec_current();
  if (!c->flow_execution_context) {
    if (!saved) {  // fast path: default context, nothing to flow
      c->invoke(c);
      if (detail::ec_current()) detail::ec_set_current(nullptr);
      return;
    }
    detail::EcScope restore;
    c->invoke(c);
    return;
  }
  detail::ExecutionContextNode* ec = std::exchange(c->execution_context, nullptr);
  c->flow_execution_context = false;
  if (!saved && !ec) {  // fast path: default flowing into default
    c->invoke(c);
    if (detail::ec_current()) detail::ec_set_current(nullptr);
    return;
  }
  {
    detail::EcScope restore;
    if (saved != ec) detail::ec_set_current(ec);
    c->invoke(c);
  }
  detail::ec_release(ec);
}

}  // namespace duet
