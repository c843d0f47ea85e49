// test_task_continue_with.cpp — ports of dotnet/runtime's ContinueWith tests
// (src/libraries/System.Threading.Tasks/tests/Task/TaskContinueWithTests.cs), one gtest per .NET
// test method. `new Task(...)` + Start() becomes a TaskCompletionSource completed by the test;
// duet::continue_with(t, fn[, token][, options][, scheduler]) is .NET's t.ContinueWith(fn, ...).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <future>
#include <string>
#include <thread>

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

// TaskContinueWithTests.cs, RunContinueWithPreCancelTests (no LongRunning; ManualResetEvent is a
// std::promise the continuations block on, as the .NET test's do)
TEST_F(DotnetContinueWith, RunContinueWithPreCancelTests) {
  duet::CancellationTokenSource cts;
  cts.cancel();
  std::promise<void> mres;
  std::shared_future<void> mres_set = mres.get_future().share();
  std::array<std::atomic<int>, 6> done_count{};
  done_count[2] = 1;  // pre-counted: the pre-canceled continuations never run
  done_count[4] = 1;
  TaskCompletionSource<> t1;
  Task<> c1 = duet::continue_with(t1.task(), [&](const Task<>&) { ++done_count[1]; });
  Task<> c2 = duet::continue_with(c1, [&](const Task<>&) { mres_set.wait(); ++done_count[2]; }, cts.token());
  Task<> c3 = duet::continue_with(c2, [&](const Task<>&) { mres_set.wait(); ++done_count[3]; });
  Task<> c4 = duet::continue_with(
      c3, [&](const Task<>&) { mres_set.wait(); ++done_count[4]; }, cts.token(),
      TaskContinuationOptions::lazy_cancellation, duet::default_scheduler());
  Task<> c5 = duet::continue_with(c4, [&](const Task<>&) { mres_set.wait(); ++done_count[5]; });
  EXPECT_TRUE(c2.is_completed()) << "c2 is canceled upon construction";
  EXPECT_FALSE(c4.is_completed()) << "c4 (lazy_cancellation) waits for its antecedent";
  EXPECT_FALSE(c1.is_completed());
  EXPECT_FALSE(c3.is_completed()) << "c3 blocks until mres is set";
  EXPECT_FALSE(c5.is_completed());
  EXPECT_THROW(c2.wait(), duet::OperationCanceledError);
  mres.set_value();
  c3.wait();
  EXPECT_THROW(c4.wait(), duet::OperationCanceledError);
  c5.wait();
  EXPECT_FALSE(c1.is_completed()) << "c1's antecedent has not completed";
  t1.set_result();
  done_count[0] = 1;  // t1's own body (a TaskCompletionSource here)
  c1.wait();
  for (std::size_t i = 0; i < done_count.size(); ++i) EXPECT_EQ(done_count[i].load(), 1) << "doneCount[" << i << "]";
}

// TaskContinueWithTests.cs, RunContinuationCancelTest
TEST_F(DotnetContinueWith, RunContinuationCancelTest) {
  std::atomic<bool> t1_ran{false}, t2_ran{false}, t3_ran{false};
  TaskCompletionSource<> t1;
  duet::CancellationTokenSource cts_for_t2;
  Task<> t2 = duet::continue_with(t1.task(), [&](const Task<>&) { t2_ran = true; }, cts_for_t2.token());
  Task<> t3 = duet::continue_with(t2, [&](const Task<>&) { t3_ran = true; });
  cts_for_t2.cancel();  // cancels the middle task of the chain: t3 runs at once
  t3.wait();
  EXPECT_TRUE(t3_ran.load());
  EXPECT_TRUE(t2.is_canceled());
  t1.set_result();  // completing t1 later does not run the canceled t2
  t1_ran = true;
  t1.task().wait();
  EXPECT_TRUE(t1_ran.load());
  EXPECT_FALSE(t2_ran.load()) << "t2 should not have run";
}

// TaskContinueWithTests.cs, TaskScheduler_Used (QUWITaskScheduler becomes a ManualScheduler: fn
// runs when, and only when, that scheduler runs its queue)
TEST_F(DotnetContinueWith, TaskScheduler_Used) {
  duet::ManualScheduler scheduler;
  TaskCompletionSource<> antecedent;
  std::atomic<int> ran{0};
  duet::CancellationTokenSource cts;
  Task<> a = duet::continue_with(antecedent.task(), [&](const Task<>&) { ++ran; }, scheduler);
  Task<int> b = duet::continue_with(
      antecedent.task(), [&](const Task<>&) { return ++ran, 42; }, cts.token(), TaskContinuationOptions::none,
      scheduler);
  antecedent.set_result();
  EXPECT_EQ(ran.load(), 0) << "queued to the given scheduler, not run on the pool";
  EXPECT_FALSE(a.is_completed());
  // The antecedent's completion may itself be dispatched through the pool (the schedule
  // shuffler does that), so the two items reach the scheduler soon, not necessarily at once.
  std::size_t ran_by_scheduler = 0;
  while (ran_by_scheduler < 2) {
    ran_by_scheduler += scheduler.run_all();
    std::this_thread::yield();
  }
  EXPECT_EQ(ran_by_scheduler, 2u);
  EXPECT_EQ(ran.load(), 2);
  a.wait();
  EXPECT_EQ(b.result(), 42);
}

// TaskContinueWithTests.cs, RunContinueWithAllParamsTestsNoState (no LongRunning: the antecedent
// pre-completed or not, of Task or Task<int>, the token pre-canceled or not, a Task or a Task<int>
// continuation, each with every parameter given)
TEST_F(DotnetContinueWith, RunContinueWithAllParamsTestsNoState) {
  for (bool pre_canceled : {true, false}) {
    duet::CancellationTokenSource cts;
    if (pre_canceled) cts.cancel();
    for (bool pre_completed : {true, false}) {
      TaskCompletionSource<int> future_antecedent;
      TaskCompletionSource<> antecedent;
      if (pre_completed) {
        future_antecedent.set_result(5);
        antecedent.set_result();
      }
      std::atomic<int> ran{0};
      Task<int> c1 = duet::continue_with(
          future_antecedent.task(), [&](const Task<int>&) { return ++ran, 5; }, cts.token(),
          TaskContinuationOptions::none, duet::default_scheduler());
      Task<int> c2 = duet::continue_with(
          antecedent.task(), [&](const Task<>&) { return ++ran, 5; }, cts.token(), TaskContinuationOptions::none,
          duet::default_scheduler());
      Task<> c3 = duet::continue_with(
          future_antecedent.task(), [&](const Task<int>&) { ++ran; }, cts.token(), TaskContinuationOptions::none,
          duet::default_scheduler());
      Task<> c4 = duet::continue_with(
          antecedent.task(), [&](const Task<>&) { ++ran; }, cts.token(), TaskContinuationOptions::none,
          duet::default_scheduler());
      if (pre_canceled) {
        EXPECT_TRUE(c1.is_canceled() && c2.is_canceled() && c3.is_canceled() && c4.is_canceled())
            << "a pre-canceled token cancels the continuation at construction";
      }
      if (!pre_completed) {
        future_antecedent.set_result(5);
        antecedent.set_result();
      }
      if (pre_canceled) {
        EXPECT_THROW(c1.wait(), duet::OperationCanceledError);
        EXPECT_THROW(c4.wait(), duet::OperationCanceledError);
        EXPECT_EQ(ran.load(), 0);
      } else {
        EXPECT_EQ(c1.result(), 5);
        EXPECT_EQ(c2.result(), 5);
        c3.wait();
        c4.wait();
        EXPECT_EQ(ran.load(), 4);
      }
    }
  }
}

}  // namespace
