// duet/core/scheduler.hpp — the Scheduler interface, the ThreadPool, default_scheduler().
//
// Policy apart from mechanism (as Boost.Fiber's algorithm): a Scheduler only knows how to run a
// Continuation later. ThreadPool is one policy; tests can drive their own (ManualScheduler,
// core/manual_scheduler.hpp) and SingleThreadContext is another.
//
// ThreadPool — a work-stealing pool in the manner of Go's and tokio's schedulers, with .NET's
// thread injection for blocking. The mechanism lives in src/core/thread_pool.cpp and
// duet/detail/work_stealing_ring.hpp (the ring's own invariants and races).
//
// Queues. Every worker owns
//  * a LIFO slot: a post from a worker goes there, and the item it displaces goes to the ring,
//    so a message-passing chain (an item that posts the next) stays on one worker and hot in
//    cache, touching no shared line;
//  * a bounded ring of 256 (a Chase-Lev deque): only the owner pushes and pops at its bottom;
//    idle workers steal half of it, oldest first, one CAS per item. When the ring is full, the
//    owner moves its older half to the global queue in one batch.
// Posts from threads outside the pool go to the global injection queue (an intrusive list under
// a mutex, taken in batches of up to len/workers + 1 into the taker's ring). A worker picks, in
// order: every 61st pick, the global queue first (so external work waits at most 61 picks
// behind local work) and, when its ring's oldest item has stayed the oldest while the worker
// spent 100 ms of CPU time on newer ones, that item (the starvation bound of the LIFO order: two
// items posting each other through the slot cannot keep the rest of the ring waiting forever,
// even with no thief around); its slot; its ring's bottom; the global queue; then it searches:
// steals half of a random victim's ring, spinning a little, and finally parks on a futex.
//
// Why the owner's order is LIFO (Go's and tokio's rings are FIFO behind the slot): in fork/join
// work (skynet: each node posts ten children, then awaits them) newest-first is a depth-first
// walk whose live set is the frontier, tens of items, while oldest-first is breadth-first and
// keeps the whole tree alive; thieves still take the oldest, biggest pieces. The slot is what a
// FIFO design needs for locality; here it saves the ring's seq_cst fence on the
// post-one-run-one path (a message-passing chain touches only the slot).
//
// Wake-ups. At most half of the non-blocked workers search at once. A post that makes work
// stealable (a ring push, a global push) wakes a parked worker only when no worker is searching,
// and the woken worker starts as a searcher, so a burst of posts costs one wake-up, not one per
// post. Posts into the LIFO slot wake no one: the owner is running and will take it next. No
// lost wake-ups: a poster publishes the item, then (seq_cst fence) reads the searching and
// parked counts; a parker counts itself parked, then (fence) re-checks every queue; a searcher
// that stops re-checks as it parks, and the last searcher that found work wakes one more.
//
// Blocking compensation (.NET 6+). A worker that blocks in Task::wait()/result() on an incomplete
// task (detail::BlockingRegion) first moves its slot and ring to the global queue, then, when
// fewer than min_threads() workers are left unblocked, starts a replacement at once (up to
// max_threads(), by default workers + 256). Workers above min_threads() that stay idle for the
// idle timeout retire. A starvation monitor thread checks every 100 ms: when work is queued and
// no item has started for 500 ms (every worker stuck in a long item), it wakes or starts one more
// worker, and it moves the slot item of a worker stuck in one item for 500 ms to the global queue.
//
// What limits scaling, and the answer (reasoned on paper; this machine has 2 cores):
//  * 16 cores. Posts from workers touch only the poster's own slot and ring, so the shared lines
//    are the global queue, the searching/parked counters and the victims' `top`. The global
//    queue is taken in batches (one lock per len/workers items) and looked at every 61 picks, so
//    its mutex sees a handful of acquisitions per thousand items; external producers contend
//    with each other on it (one lock each, like Asio) — a sharded injector would be the next
//    step. Steals move half a ring per victim visit, so a thief returns after one visit with
//    enough to run for a while. The searching cap (half) stops 15 idle workers from hammering
//    one victim's `top` line.
//  * 64 cores. Wake-ups dominate: a futex wake is ~2-5 us, so waking per post would cap a
//    producer at a few hundred thousand posts/s. Waking only when no one searches, and the woken
//    worker waking the next only after it found work, turns a burst into a chain of wake-ups
//    whose length follows the work actually available. The parked list is under one mutex, taken
//    only on the park/wake slow path. Victim selection starts at a random worker so thieves
//    spread out; the steal cost per item is one CAS on the victim's `top`, amortised by
//    stealing half. The remaining O(workers) walks (a thief's scan, the parker's re-check, the
//    monitor) happen only on the idle path.
// Every work item runs through run_continuation(), so the poster's ExecutionContext flows and the
// worker's own context is the default one between items.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "duet/core/continuation.hpp"
#include "duet/detail/polymorphic_base.hpp"

namespace duet {

// Scheduler — runs continuations later. post() is thread-safe and must not throw.
class Scheduler : public detail::PolymorphicBase {
 public:
  // post(c) — run `c` (through run_continuation) exactly once, later, on some thread.
  virtual void post(Continuation& c) noexcept = 0;
};

// ThreadPool — see the header comment.
// Thread-safety: every member from any thread, except the destructor, which must not run on one
// of the pool's own workers.
class ThreadPool final : public Scheduler {
 public:
  // ThreadPool(workers) — starts `workers` threads (0: std::thread::hardware_concurrency(), at
  // least 2); min_threads() is `workers`, max_threads() is `workers` + 256. Throws
  // std::system_error when a thread cannot be started.
  explicit ThreadPool(unsigned workers = 0);
  // ~ThreadPool — runs what is queued, then stops and joins the workers. Precondition: no worker
  // is blocked on something only a thread that is gone could complete.
  ~ThreadPool() override;

  // post(c) — queues `c` (see the header comment). Never allocates, never throws.
  void post(Continuation& c) noexcept override;

  // thread_count() — the worker threads alive now, blocked ones included (.NET ThreadCount).
  unsigned thread_count() const noexcept;
  // worker_count() — the same as thread_count().
  unsigned worker_count() const noexcept { return thread_count(); }
  // pending_work_item_count() — items queued and not yet started (a snapshot; .NET
  // PendingWorkItemCount).
  std::size_t pending_work_item_count() const noexcept;

  // set_min_threads(n) — the workers kept alive and the number of unblocked workers that
  // blocking compensation maintains; starts threads at once up to `n`. Returns false (and
  // changes nothing) when n is 0 or above max_threads(), as .NET's SetMinThreads does.
  bool set_min_threads(unsigned n);
  // set_max_threads(n) — the most threads compensation and the starvation monitor may start.
  // Returns false (and changes nothing) when n is below min_threads() or above
  // k_thread_limit. Threads above a lowered maximum retire when idle.
  bool set_max_threads(unsigned n) noexcept;
  unsigned min_threads() const noexcept;
  unsigned max_threads() const noexcept;
  // set_idle_timeout(d) — how long a worker above min_threads() stays parked before it retires
  // (default 20 s, as .NET's).
  void set_idle_timeout(std::chrono::milliseconds d) noexcept;

  // k_thread_limit — the largest max_threads() a pool accepts.
  static constexpr unsigned k_thread_limit = 4096;

  // is_worker_thread() — whether the calling thread is one of this pool's workers.
  bool is_worker_thread() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

namespace detail {
// BlockingRegion — brackets a blocking wait (Task::wait()/result()). On a ThreadPool worker its
// constructor hands the worker's queued items to the others and starts a replacement when too
// few workers are left unblocked; its destructor counts the worker unblocked again. Elsewhere it
// does nothing. Construct it on the blocking thread, in the scope of the wait.
class BlockingRegion {
 public:
  BlockingRegion() noexcept;
  ~BlockingRegion();
  BlockingRegion(const BlockingRegion&) = delete;
  BlockingRegion& operator=(const BlockingRegion&) = delete;

 private:
  void* worker_;  // the calling thread's worker, or null
};
}  // namespace detail

// default_scheduler() — the process-wide pool, started on first use (Task.Run's TaskScheduler).
ThreadPool& default_scheduler();

// is_thread_pool_thread() — whether the calling thread is a default_scheduler() worker.
bool is_thread_pool_thread() noexcept;

// TaskScheduler — .NET's TaskScheduler statics over duet's Scheduler (a Scheduler *is* a
// TaskScheduler here; start_new(scheduler, fn) in compose/start_new.hpp runs work on one).
class TaskScheduler {
 public:
  // current() — the Scheduler running the current start_new work item on this thread
  // (.NET's TaskScheduler.Current), else default_scheduler() (.NET's TaskScheduler.Default).
  static Scheduler& current() noexcept;
  // default_scheduler() — the pool (.NET's TaskScheduler.Default).
  static Scheduler& default_scheduler() noexcept;
  // from_current_synchronization_context() — a Scheduler that posts to the calling thread's
  // SynchronizationContext::current() (.NET's TaskScheduler.FromCurrentSynchronizationContext).
  // Throws InvalidOperationError when the thread has none. The context must outlive it.
  static std::unique_ptr<Scheduler> from_current_synchronization_context();
};

namespace detail {
// CurrentSchedulerScope — makes `s` TaskScheduler::current() on this thread for its lifetime.
class CurrentSchedulerScope {
 public:
  explicit CurrentSchedulerScope(Scheduler* s) noexcept;
  ~CurrentSchedulerScope();
  CurrentSchedulerScope(const CurrentSchedulerScope&) = delete;
  CurrentSchedulerScope& operator=(const CurrentSchedulerScope&) = delete;

 private:
  Scheduler* saved_;
};
}  // namespace detail

}  // namespace duet
