// test_delay.cpp — delay() itself: fast paths, expiry, cancellation, allocation count, all on a
// ManualClock wheel (TimerWheelScope). Methods awaiting delays, in every style, are tested in
// tests/semantic/test_time_methods.cpp.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "time_test_support.hpp"

using namespace std::chrono_literals;

namespace {

using DelayTest = duet::testing::ManualTimeTest;

TEST_F(DelayTest, ZeroCompletesSynchronouslyWithoutAllocating) {
  (void)duet::completed_task();  // the shared completed task is created once, on first use
  duet::testing::AllocScope scope;
  auto t = duet::delay(0ms);
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_TRUE(t.is_completed_successfully());
}

TEST_F(DelayTest, NegativeOrTooLongThrowsArgumentError) {
  EXPECT_THROW((void)duet::delay(-1ns), duet::ArgumentError);
  EXPECT_THROW((void)duet::delay(-5ms), duet::ArgumentError);
  EXPECT_THROW((void)duet::delay(duet::TimerWheel::k_max_delay + 1ms), duet::ArgumentError);
}

TEST_F(DelayTest, CompletesWhenTheClockReachesTheDeadline) {
  auto t = duet::delay(100ms);
  EXPECT_FALSE(t.is_completed());
  clock_.advance(99ms);
  EXPECT_FALSE(t.is_completed()) << "the expiry of a delay is never posted early";
  clock_.advance(1ms);
  t.wait();
  EXPECT_TRUE(t.is_completed_successfully());
}

TEST_F(DelayTest, OneAllocationTheStateEmbedsTimerAndCallbackNode) {
  duet::CancellationTokenSource cts;
  auto token = cts.token();
  duet::testing::AllocScope scope;
  auto t = duet::delay(10ms, token);
  EXPECT_EQ(scope.allocations(), 1u);
  clock_.advance(10ms);
  t.wait();
}

TEST_F(DelayTest, CancelingRemovesTheTimerAndEndsCanceled) {
  duet::CancellationTokenSource cts;
  auto t = duet::delay(1h, cts.token());
  EXPECT_EQ(wheel_->pending(), 1u);
  cts.cancel();
  EXPECT_EQ(wheel_->pending(), 0u) << "a canceled delay removes its timer at once";
  EXPECT_TRUE(t.is_canceled());
  try {
    t.wait();
    FAIL() << "awaiting a canceled delay throws";
  } catch (const duet::TaskCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token());
  }
}

TEST_F(DelayTest, AlreadyCanceledTokenGivesACanceledTask) {
  auto t = duet::delay(1s, duet::CancellationToken::canceled());
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(wheel_->pending(), 0u);
  // .NET checks the token before the zero fast path.
  EXPECT_TRUE(duet::delay(0ms, duet::CancellationToken::canceled()).is_canceled());
}

TEST_F(DelayTest, CancelAfterExpiryChangesNothing) {
  duet::CancellationTokenSource cts;
  auto t = duet::delay(5ms, cts.token());
  clock_.advance(5ms);
  t.wait();
  cts.cancel();
  EXPECT_TRUE(t.is_completed_successfully());
}

TEST_F(DelayTest, InfiniteDelayEndsOnlyByCancellation) {
  duet::CancellationTokenSource cts;
  auto t = duet::delay(duet::k_infinite_timeout, cts.token());
  EXPECT_EQ(wheel_->pending(), 0u);
  clock_.advance(24h);
  EXPECT_FALSE(t.is_completed());
  cts.cancel();
  EXPECT_TRUE(t.is_canceled());
}

TEST_F(DelayTest, CancelAfterOnTheCurrentWheelCancelsADelay) {
  duet::CancellationTokenSource cts;
  cts.cancel_after(30ms);
  auto t = duet::delay(1h, cts.token());
  clock_.advance(30ms);
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
  EXPECT_EQ(wheel_->pending(), 0u);
}

TEST(DelayWheelLifetime, DestroyedWheelCancelsPendingDelays) {
  duet::ManualClock clock;
  duet::Task<> t;
  {
    duet::TimerWheel wheel(clock);
    t = duet::delay(wheel, std::chrono::nanoseconds(1h));
  }
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
  EXPECT_TRUE(t.is_canceled());
}

}  // namespace
