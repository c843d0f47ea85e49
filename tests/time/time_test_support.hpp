// time_test_support.hpp — helpers shared by the time tests: a Scheduler the test drains by hand,
// and a fixture that installs a ManualClock wheel as TimerWheel::current().
#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

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

// ManualTimeTest — every delay()/cancel_after() in the test runs on a ManualClock wheel whose
// expiries go to the default thread pool. The wheel must be empty at TearDown (nothing leaks).
class ManualTimeTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  std::unique_ptr<TimerWheel> wheel_ = std::make_unique<TimerWheel>(clock_);
  std::unique_ptr<TimerWheelScope> scope_ = std::make_unique<TimerWheelScope>(*wheel_);

  void TearDown() override { EXPECT_EQ(wheel_->pending(), 0u) << "a timer was left in the wheel"; }
  ~ManualTimeTest() override {
    scope_.reset();
    wheel_.reset();
  }
};

}  // namespace duet::testing
