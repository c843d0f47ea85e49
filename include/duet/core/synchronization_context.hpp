// duet/core/synchronization_context.hpp — SynchronizationContext: "where a continuation resumes".
//
// The rule (where an await resumes). An await captures SynchronizationContext::current() into
// the continuation it registers, unless the awaitable was configured with configure_await(false);
// when the awaited operation completes, dispatch_continuation (core/continuation.hpp) posts the
// continuation to that context unless the completing thread already runs in it. That is .NET's
// rule (TaskContinuation inlining with a stack guard) written down. In a program with no context
// at all (a console app) continuations therefore run on pool threads or inline; with a
// SingleThreadContext (context/single_thread_context.hpp) they come back to its loop. The base
// class lives in core/ because the await protocol captures it, posts to it and asks it to block.
//
// Blocking. Task::wait()/result() on a thread with a current context go through
// blocking_wait(task), which SingleThreadContext overrides to detect the sync-over-async
// deadlock. Exceptions thrown by callbacks queued with post(fn) go to the unhandled-exception
// handler, unless the thread running them is pumping a loop that lets them escape
// (detail::PostedExceptionSink).
//
// Thread-safety: post() and send() may be called from any thread; current()/set_current() act on
// the calling thread only.
#pragma once

#include <exception>
#include <functional>
#include <vector>

#include "duet/core/continuation.hpp"
#include "duet/detail/polymorphic_base.hpp"

namespace duet {

namespace detail {
class TaskStateBase;
}

// SynchronizationContext — base class of every context. The base class itself behaves as .NET's
// default context: post() queues to the thread pool, send() runs inline.
class SynchronizationContext : public detail::PolymorphicBase {
 public:
  // post(c) — queue `c` to run later on this context. Must not throw; `c` runs exactly once.
  virtual void post(Continuation& c) noexcept;

  // post(fn) — convenience: queue a callable (allocates one node).
  void post(std::function<void()> fn);

  // send(fn) — run fn on this context and wait for it; exceptions propagate to the caller.
  virtual void send(const std::function<void()>& fn);

  // operation_started / operation_completed — async void bookkeeping, as .NET calls them.
  virtual void operation_started() noexcept {}
  virtual void operation_completed() noexcept {}

  // blocking_wait(task) — called by Task::wait()/result() on a thread whose current context is
  // this one, for a task that has not completed. The default blocks until the task completes;
  // a context that owns its thread overrides it to detect the sync-over-async deadlock.
  virtual void blocking_wait(detail::TaskStateBase& task);
  // blocking_wait_any(latch, tasks) — called by wait_any on such a thread: `latch` completes
  // when the first of `tasks` does. The default blocks until `latch` completes; a context that
  // owns its thread overrides it to detect that none of `tasks` can complete.
  virtual void blocking_wait_any(detail::TaskStateBase& latch, const std::vector<detail::TaskStateBase*>& tasks);

  // current() — the calling thread's context, or null.
  static SynchronizationContext* current() noexcept { return detail::current_sync_context(); }
  // set_current(ctx) — install `ctx` (may be null) as the calling thread's context.
  static void set_current(SynchronizationContext* ctx) noexcept {
    detail::set_current_sync_context(ctx);
  }
};

namespace detail {
// PostedExceptionSink — while alive on a thread, the first exception thrown by a callback queued
// with SynchronizationContext::post(fn) and run on this thread is stored in `*slot` instead of
// going to the unhandled-exception handler (SingleThreadContext then rethrows it from its pump).
// Nests: restores the previous sink on destruction. Use on one thread.
class PostedExceptionSink {
 public:
  explicit PostedExceptionSink(std::exception_ptr* slot) noexcept;
  PostedExceptionSink(const PostedExceptionSink&) = delete;
  PostedExceptionSink& operator=(const PostedExceptionSink&) = delete;
  ~PostedExceptionSink();

 private:
  std::exception_ptr* saved_;
};
}  // namespace detail

// SyncContextScope — installs a context for a scope and restores the previous one.
class SyncContextScope {
 public:
  explicit SyncContextScope(SynchronizationContext* ctx) noexcept
      : saved_(SynchronizationContext::current()) {
    SynchronizationContext::set_current(ctx);
  }
  SyncContextScope(const SyncContextScope&) = delete;
  SyncContextScope& operator=(const SyncContextScope&) = delete;
  ~SyncContextScope() { SynchronizationContext::set_current(saved_); }

 private:
  SynchronizationContext* saved_;
};

}  // namespace duet
