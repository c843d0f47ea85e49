// queue_scheduler.hpp — QueueScheduler, a Scheduler whose posted continuations wait in a queue
// until the test drains it by hand on a thread of its choice (the manual scheduler of every
// ManualClock test: a timer wheel's expiries run exactly where and when the test says).
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>

#include <duet/duet.hpp>

namespace duet::testing {

// QueueScheduler — collects posted continuations; drain() runs them on the calling thread.
// Thread-safe post(); drain() from one thread.
class QueueScheduler final : public Scheduler {
 public:
  void post(Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    queue_.push_back(&c);
  }
  // drain() — runs everything queued (including what running items queue); returns the count.
  std::size_t drain() {
    std::size_t n = 0;
    for (;;) {
      Continuation* c;
      {
        std::lock_guard<std::mutex> lk(mutex_);
        if (queue_.empty()) return n;
        c = queue_.front();
        queue_.pop_front();
      }
      run_continuation(c);
      ++n;
    }
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lk(mutex_);
    return queue_.size();
  }

 private:
  std::mutex mutex_;
  std::deque<Continuation*> queue_;
};

}  // namespace duet::testing
