// duet/scheduler.hpp — the Scheduler interface, the ThreadPool, default_scheduler().
//
// Policy apart from mechanism (as Boost.Fiber's algorithm): a Scheduler only knows how to run a
// Continuation later. ThreadPool is one policy; tests can drive their own (ManualScheduler in
// tests/support) and SingleThreadContext is another.
//
// ThreadPool (simple and correct; a later issue makes it fast): N worker threads share one
// multi-producer/multi-consumer lock-free queue (Boost.Lockfree) whose node free-list is
// preallocated, so posting an existing Continuation allocates nothing in steady state. Idle
// workers spin briefly, then park on a condition variable; a post wakes one parked worker.
// Every work item runs through run_continuation(), so the poster's ExecutionContext flows and the
// worker's own context is the default one between items.
#pragma once

#include <cstddef>
#include <memory>

#include "duet/core/continuation.hpp"

namespace duet {

// Scheduler — runs continuations later. post() is thread-safe and must not throw.
class Scheduler {
 public:
  Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  virtual ~Scheduler() = default;

  // post(c) — run `c` (through run_continuation) exactly once, later, on some thread.
  virtual void post(Continuation& c) noexcept = 0;
};

// ThreadPool — a fixed set of worker threads (see the header comment).
// Thread-safety: post() from any thread; the destructor from a thread that is not a worker.
class ThreadPool final : public Scheduler {
 public:
  // ThreadPool(workers) — starts `workers` threads (0: std::thread::hardware_concurrency(), at
  // least 2).
  explicit ThreadPool(unsigned workers = 0);
  // ~ThreadPool — runs what is queued, then stops and joins the workers.
  ~ThreadPool() override;

  void post(Continuation& c) noexcept override;

  // worker_count() — the number of worker threads.
  unsigned worker_count() const noexcept;
  // is_worker_thread() — whether the calling thread is one of this pool's workers.
  bool is_worker_thread() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// default_scheduler() — the process-wide pool, started on first use (Task.Run's TaskScheduler).
ThreadPool& default_scheduler();

// is_thread_pool_thread() — whether the calling thread is a default_scheduler() worker.
bool is_thread_pool_thread() noexcept;

}  // namespace duet
