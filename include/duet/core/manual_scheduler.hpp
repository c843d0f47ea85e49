// duet/core/manual_scheduler.hpp — ManualScheduler: a Scheduler whose posted work waits until the
// caller runs it by hand, on a thread of its choice (for testing code deterministically: give it
// to a TimerWheel, to start_new, or wrap it in a SynchronizationContext).
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>

#include "duet/core/continuation.hpp"
#include "duet/core/scheduler.hpp"

namespace duet {

// ManualScheduler — post() queues; run_one() / run_all() run queued items (FIFO) on the calling
// thread through run_continuation (the poster's ExecutionContext flows). post() is thread-safe;
// run from one thread at a time. Items still queued at destruction never run: drain first (the
// destructor cannot run them — their owners may be gone — and a task waiting on them never
// completes).
class ManualScheduler final : public Scheduler {
 public:
  ManualScheduler() = default;
  void post(Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    queue_.push_back(&c);  // a deque push can throw only on OOM (std::terminate via noexcept)
  }
  // run_one() — runs the oldest queued item; false when none was queued.
  bool run_one() {
    Continuation* c;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      if (queue_.empty()) return false;
      c = queue_.front();
      queue_.pop_front();
    }
    run_continuation(c);
    return true;
  }
  // run_all() — runs items until none is queued, including those the running items post;
  // returns how many ran.
  std::size_t run_all() {
    std::size_t n = 0;
    while (run_one()) ++n;
    return n;
  }
  // pending() — how many items are queued now.
  std::size_t pending() const {
    std::lock_guard<std::mutex> lk(mutex_);
    return queue_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Continuation*> queue_;
};

}  // namespace duet
