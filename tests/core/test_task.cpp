#include <gtest/gtest.h>

#include <duet/duet.hpp>

TEST(Task, TcsCompletesOnce) {
  duet::TaskCompletionSource<int> tcs;
  EXPECT_EQ(tcs.task().status(), duet::TaskStatus::pending);
  tcs.set_result(3);
  EXPECT_EQ(tcs.task().result(), 3);
  EXPECT_THROW(tcs.set_result(4), duet::InvalidOperationError);
  EXPECT_FALSE(tcs.try_set_result(5));
  EXPECT_EQ(tcs.task().result(), 3);
}
