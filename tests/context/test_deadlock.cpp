// test_deadlock.cpp — deadlock detection without any async method: blocking on plain pool work
// from the loop's owner is no deadlock. Deadlocks through async methods (detected, and the false
// positives avoided) are tested in every style in tests/semantic/test_deadlock.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include <duet/duet.hpp>

namespace {

struct DeadlockTest : ::testing::Test {
  duet::SingleThreadContext ui;
};

TEST_F(DeadlockTest, BlockingOnATaskThatDoesNotNeedTheContextWorks) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = duet::run([&] { return tcs.task().result() * 3; });  // pool work, no context
  std::thread completer([&] { tcs.set_result(2); });
  EXPECT_EQ(t.result(), 6);
  completer.join();
}

}  // namespace
