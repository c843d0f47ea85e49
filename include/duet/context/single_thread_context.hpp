// duet/context/single_thread_context.hpp — SingleThreadContext: a message loop one thread pumps (the
// seeds' "UI thread"), and the detection of the sync-over-async deadlock.
//
// The loop
// --------
// post() appends a Continuation to a FIFO queue (any thread); the owning thread runs queued items
// one at a time, with this context installed as SynchronizationContext::current(), through
// run_one(), run_until_empty(), run_until(task), run() / complete(), or
// run_until_operations_complete(). The first pumping call binds the context to its thread for
// good (a UI context belongs to one thread); pumping from another thread afterwards throws
// InvalidOperationError. An await made while an item runs captures this context (unless
// configure_await(false)) and its continuation is posted back here: "resumes on the UI thread".
//
// Exceptions. Items are Continuations and do not throw, but a callback queued with post(fn) may:
// its exception escapes from the pumping call that ran it (as an exception thrown by a WinForms
// event handler escapes Application.Run). That is where an async void method's exception goes
// (sm/async_void_method_builder.hpp).
//
// The sync-over-async deadlock
// ----------------------------
// Task::wait()/result() on a thread whose current context is this one calls blocking_wait(T).
// When that thread is the owner, the wait can only end if T completes without any item of this
// queue running — the queue's only thread is the one blocking. .NET hangs forever here. duet
// detects the cycle precisely and throws DeadlockError instead:
//
//  * Continuation::owner names the task a continuation works towards: a state-machine box sets
//    it to itself, Task.Run's work item to its task. Its contract: that task cannot complete
//    until the continuation has run.
//  * "c needs-to-run-before T": start at c.owner; if it is T, yes; else follow the owner's
//    continuation stack (TaskStateBase::continuation_head(), `next` links) to each node's owner,
//    and repeat. The tasks found are the methods awaiting (transitively) the one c resumes.
//  * When the wait starts, every item already queued is checked; while the thread stays blocked,
//    post() checks each new item. A hit sets a flag and poke_waiters() on T, so the blocked
//    wait_blocking(stop) returns and throws DeadlockError. The item stays queued and runs when
//    the thread pumps again: nothing is lost, T still completes then.
//
// Why walking the chain is safe. The walk runs under this context's queue mutex, while the owner
// is registered as blocked (it registers and unregisters under the same mutex), and c is in the
// queue. So c cannot run during the walk; by the owner contract c.owner cannot complete; a task
// that has not completed keeps every node of its continuation stack alive and never rewrites a
// pushed node's `next` (new nodes only go on top, and the acquire load of the head sees a
// consistent list). Each node on that stack belongs to a method suspended awaiting the owner,
// whose own task therefore cannot complete either — and so on by induction along the chain. No
// task the walk touches can complete, be freed, or have its list taken while we look. The walk
// stops at nodes without an owner, at the completed sentinel, and after k_deadlock_walk_budget
// tasks (a bound on pathological graphs; beyond it the wait is simply not diagnosed).
//
// No false positives: a wait from a thread that does not own the context, or on a task whose
// completion needs nothing queued here (configure_await(false) all the way down, pool work),
// blocks normally and returns. Not detected (and hanging, as in .NET): a task completed by a
// callback posted with post(fn), whose node has no owner.
//
// Thread-safety: post(), send(), complete(), operation_started/completed(), pending_count() and
// outstanding_operations() may be called from any thread; the pumping calls only from the owner.
// The destructor runs whatever is still queued, on the destroying thread, with this context
// installed; destroy it from the owner once nothing will post to it any more.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "duet/core/continuation.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"

namespace duet {

// SingleThreadContext — a SynchronizationContext whose items run on one owning thread.
class SingleThreadContext final : public SynchronizationContext {
 public:
  // k_deadlock_walk_budget — most tasks one deadlock check visits (see the header).
  static constexpr int k_deadlock_walk_budget = 4096;

  SingleThreadContext() noexcept;
  // ~SingleThreadContext — runs the items still queued (see Thread-safety above).
  ~SingleThreadContext() override;

  // post(c) — queue `c` to run on the owning thread. Any thread; never blocks on the loop.
  void post(Continuation& c) noexcept override;
  using SynchronizationContext::post;

  // send(fn) — run fn on the owning thread and wait for it; fn's exception propagates here. On
  // the owning thread (or before any thread owns the context and the caller has it current) fn
  // runs inline.
  void send(const std::function<void()>& fn) override;

  // operation_started / operation_completed — count outstanding async void operations;
  // run_until_operations_complete() pumps until the count is back to zero.
  void operation_started() noexcept override;
  void operation_completed() noexcept override;

  // blocking_wait(task) — the sync-over-async check (see the header). Throws DeadlockError.
  void blocking_wait(detail::TaskStateBase& task) override;
  // blocking_wait_any(latch, tasks) — wait_any's form of the same check: DeadlockError once every
  // one of `tasks` needs an item of this queue to run first (at most 64 tasks are diagnosed;
  // with more, the wait blocks as in .NET).
  void blocking_wait_any(detail::TaskStateBase& latch, const std::vector<detail::TaskStateBase*>& tasks) override;

  // run_one() — runs the oldest queued item, if any; false when the queue was empty. Never
  // blocks. Owner thread only.
  bool run_one();
  // run_until_empty() — runs items until the queue is empty, including items they post; returns
  // how many ran. Never blocks when there is nothing to do. Owner thread only.
  std::size_t run_until_empty();
  // run_until(task) — pumps (blocking when idle) until `task` has completed and its completion
  // has been seen here; does not rethrow the task's exception (call result()/wait() after).
  // Owner thread only. One allocation (a wake-up node).
  template <class T>
  void run_until(const Task<T>& task) {
    if (!task.valid()) detail::throw_invalid_task();
    run_until_state(*task.state());
  }
  // run() — pumps until complete() has been called and the queue is empty (Stephen Toub's
  // AsyncPump). Owner thread only.
  void run();
  // complete() — makes run() return once the queue is drained. Any thread.
  void complete() noexcept;
  // run_until_operations_complete() — pumps until outstanding_operations() is zero and the
  // queue is empty (waits for every async void method started on this context). Owner only.
  void run_until_operations_complete();

  // pending_count() — items queued now. Any thread (a snapshot).
  std::size_t pending_count() const noexcept;
  // outstanding_operations() — operation_started() calls not yet matched. Any thread.
  long outstanding_operations() const noexcept {
    return operations_.load(std::memory_order_acquire);
  }
  // is_owner_blocked() — whether the owning thread is blocked in wait()/result() right now. Any
  // thread (a snapshot; for diagnostics and tests).
  bool is_owner_blocked() const noexcept;
  // is_owner_thread() — whether the calling thread pumps this context.
  bool is_owner_thread() const noexcept {
    return owner_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

 private:
  class Pump;
  friend class Pump;

  void run_until_state(detail::TaskStateBase& task);
  // pump_while(keep_going) — runs items, blocking when idle, while keep_going() (called under
  // mutex_) is true.
  template <class KeepGoing>
  void pump_while(KeepGoing keep_going);
  void bind_owner(const char* who);
  Continuation* pop_locked() noexcept;
  void run_item(Continuation* c);
  bool needs_before(const Continuation& c, const detail::TaskStateBase& target) const noexcept;
  // block_on(poke, tasks, n) — the owner blocks until `poke` completes, or until every one of the
  // n `tasks` needs a queued item first (then DeadlockError). blocking_wait: poke is the one task.
  void block_on(detail::TaskStateBase& poke, detail::TaskStateBase* const* tasks, std::size_t n);
  // note_needed_locked(c) — mutex_ held, the owner blocked: marks the blocked tasks that `c` must
  // run before; true once all of them are marked.
  bool note_needed_locked(const Continuation& c) noexcept;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Continuation* head_ = nullptr;  // guarded by mutex_: oldest item
  Continuation* tail_ = nullptr;  // guarded by mutex_: newest item
  std::size_t count_ = 0;         // guarded by mutex_
  bool completed_ = false;        // guarded by mutex_: complete() was called
  // blocked_on_ — guarded by mutex_: the task the owner's blocked wait is poked through (the task
  // of blocking_wait, wait_any's latch), or null. blocked_tasks_ / blocked_count_: the tasks
  // whose completion would end that wait; needed_: bit i set once an item queued here must run
  // before blocked_tasks_[i] can complete.
  detail::TaskStateBase* blocked_on_ = nullptr;
  detail::TaskStateBase* const* blocked_tasks_ = nullptr;
  std::size_t blocked_count_ = 0;
  std::uint64_t needed_ = 0;
  std::atomic<bool> deadlock_{false};
  std::atomic<long> operations_{0};
  std::atomic<std::thread::id> owner_{};
};

}  // namespace duet
