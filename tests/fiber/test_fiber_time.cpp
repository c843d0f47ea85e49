// test_fiber_time.cpp — the fiber mechanism with time: a zero delay takes the await's fast path
// without a single fiber switch. How methods behave with delay and cancellation (the same in
// every style) is tested in tests/semantic/test_time_methods.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include <duet/duet.hpp>

#include "queue_scheduler.hpp"

using namespace std::chrono_literals;

namespace {

// FiberTimeTest — installs a ManualClock wheel posting to `queue_` as TimerWheel::current().
class FiberTimeTest : public ::testing::Test {
 protected:
  ~FiberTimeTest() override {
    scope_.reset();
    wheel_.reset();
  }
  void TearDown() override { EXPECT_EQ(wheel_->pending(), 0u) << "a timer was left in the wheel"; }

  duet::ManualClock clock_;
  duet::testing::QueueScheduler queue_;
  std::unique_ptr<duet::TimerWheel> wheel_ = std::make_unique<duet::TimerWheel>(clock_, queue_);
  std::unique_ptr<duet::TimerWheelScope> scope_ = std::make_unique<duet::TimerWheelScope>(*wheel_);
};

TEST_F(FiberTimeTest, ZeroDelayTakesTheFastPathWithoutSwitching) {
  std::uint64_t switches = 1;
  duet::Task<> t = duet::fiber::async([&] {
    const std::uint64_t before = duet::fiber::detail::thread_switch_count();
    duet::await(duet::delay(0ms));
    switches = duet::fiber::detail::thread_switch_count() - before;
  });
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(switches, 0u);
}

}  // namespace
