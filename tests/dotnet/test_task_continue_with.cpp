// test_task_continue_with.cpp — ports of dotnet/runtime's ContinueWith tests
// (src/libraries/System.Threading.Tasks/tests/Task/TaskContinueWithTests.cs), one gtest per .NET
// test method. `new Task(...)` + Start() becomes a TaskCompletionSource completed by the test;
// duet::continue_with(t, fn, options) is .NET's t.ContinueWith(fn, options).
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::TaskContinuationOptions;
using duet::TaskStatus;

class DotnetContinueWith : public duet::testing::DuetTest {};

// TaskContinueWithTests.cs, RunContinueWithAsyncStateCheckTests (AsyncState has no duet
// counterpart; what remains checkable is that every continuation form runs and completes).
TEST_F(DotnetContinueWith, RunContinueWithAsyncStateCheckTests) {
  TaskCompletionSource<> t;
  auto c1 = duet::continue_with(t.task(), [](const Task<>&) {});
  auto c2 = duet::continue_with(t.task(), [](const Task<>&) { return 42; });
  TaskCompletionSource<int> f;
  auto c3 = duet::continue_with(f.task(), [](const Task<int>&) {});
  auto c4 = duet::continue_with(f.task(), [](const Task<int>& antecedent) { return antecedent.result(); });
  t.set_result();
  f.set_result(1);
  duet::wait_all(c1, c2, c3, c4);
  EXPECT_EQ(c2.result(), 42);
  EXPECT_EQ(c4.result(), 1);
}

// TaskContinueWithTests.cs, RunContinuationChainingTest
TEST_F(DotnetContinueWith, RunContinuationChainingTest) {
  std::atomic<int> x{0}, y{0};
  TaskCompletionSource<> start;
  Task<> t1 = duet::continue_with(start.task(), [&](const Task<>&) { x = 1; });
  Task<> t2 = duet::continue_with(t1, [&](const Task<>&) { y = 1; });
  Task<int> t3 = duet::continue_with(t2, [](const Task<>&) { return 5; });
  Task<int> t4 = duet::unwrap(duet::continue_with(t3, [](const Task<int>&) { return duet::run([] { return 10; }); }));
  Task<std::string> t5 = duet::unwrap(duet::continue_with(t4, [](const Task<int>&) {
    return duet::run([] { return std::string("worked"); });
  }));
  start.set_result();
  EXPECT_EQ(t5.result(), "worked");
  EXPECT_EQ(t4.result(), 10);
  EXPECT_EQ(t3.result(), 5);
  EXPECT_EQ(y.load(), 1);
  EXPECT_EQ(x.load(), 1);
}

// TaskContinueWithTests.cs, RunContinueWithParamsTest_Cancellation (no parent/child tasks: the
// canceled child is a canceled task, the completed one a completed task)
TEST_F(DotnetContinueWith, RunContinueWithParamsTest_Cancellation) {
  TaskCompletionSource<> child1, child2;
  auto c1b = duet::continue_with(child1.task(), [](const Task<>&) {}, TaskContinuationOptions::not_on_canceled);
  auto c1c = duet::continue_with(child1.task(), [](const Task<>&) {});
  auto c2b = duet::continue_with(child2.task(), [](const Task<>&) {}, TaskContinuationOptions::not_on_ran_to_completion);
  auto c2c = duet::continue_with(child2.task(), [](const Task<>&) {});
  child1.set_canceled();
  child2.set_result();
  EXPECT_THROW(c1b.wait(), duet::OperationCanceledError);
  c1c.wait();
  EXPECT_THROW(c2b.wait(), duet::OperationCanceledError);
  c2c.wait();
  EXPECT_EQ(c1b.status(), TaskStatus::canceled);
  EXPECT_EQ(c1c.status(), TaskStatus::ran_to_completion);
  EXPECT_EQ(c2b.status(), TaskStatus::canceled);
  EXPECT_EQ(c2c.status(), TaskStatus::ran_to_completion);
}

// TaskContinueWithTests.cs, RunContinueWithParamsTest_IllegalArgs (the NotOnAny combination;
// LongRunning and unknown flags do not exist in duet's enum)
TEST_F(DotnetContinueWith, RunContinueWithParamsTest_IllegalArgs) {
  TaskCompletionSource<> t1;
  EXPECT_THROW((void)duet::continue_with(t1.task(), [](const Task<>&) {},
                                         TaskContinuationOptions::not_on_ran_to_completion |
                                             TaskContinuationOptions::not_on_faulted |
                                             TaskContinuationOptions::not_on_canceled),
               duet::ArgumentError);
  t1.set_result();
}

}  // namespace
