// time_test_support.hpp — helpers shared by the time tests: QueueScheduler (tests/support), and a
// fixture that installs a ManualClock wheel as TimerWheel::current().
#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

#include <duet/duet.hpp>

#include "queue_scheduler.hpp"

namespace duet::testing {

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
