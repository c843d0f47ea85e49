// tests/dotnet/test_scheduler_task_scheduler.cpp — ports of dotnet/runtime's
// src/libraries/System.Threading.Tasks/tests/TaskScheduler/TaskSchedulerTests.cs (issue 12 item 17:
// TaskScheduler::current(), from_current_synchronization_context(), start_new with a scheduler).
// One gtest per .NET test method; the TaskScheduler.Current checks that follow are duet's own.
#include <gtest/gtest.h>

#include <atomic>
#include <semaphore>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

class TaskSchedulerTests : public duet::testing::DuetTest {};

// SimpleSynchronizationContext — counts posts, then queues them to the pool (the base behaviour).
class SimpleSynchronizationContext : public duet::SynchronizationContext {
 public:
  std::atomic<int> post_count{0};
  void post(duet::Continuation& c) noexcept override {
    ++post_count;
    duet::SynchronizationContext::post(c);
  }
};

// TaskSchedulerTests.RunBlockedInjectionTest — processor-count items block on an event that only a
// later item sets: the pool's starvation monitor must inject a thread (else: deadlock).
TEST_F(TaskSchedulerTests, RunBlockedInjectionTest) {
  std::counting_semaphore<> mre{0};
  const unsigned n = std::max(2u, std::thread::hardware_concurrency());
  duet::Scheduler& tm = duet::TaskScheduler::default_scheduler();
  std::vector<duet::Task<>> tasks;
  for (unsigned i = 0; i < n; ++i) {
    tasks.push_back(duet::start_new(tm, [&] {
      mre.acquire();
      mre.release();
    }));
  }
  duet::start_new(tm, [&] { mre.release(); }).wait();
  for (auto& t : tasks) t.wait();
}

// TaskSchedulerTests.RunSynchronizationContextTaskSchedulerTests (the StartNew half;
// RunSynchronously and MaximumConcurrencyLevel have no counterpart)
TEST_F(TaskSchedulerTests, RunSynchronizationContextTaskSchedulerTests) {
  SimpleSynchronizationContext sc;
  duet::SyncContextScope scope(&sc);
  auto sc_ts = duet::TaskScheduler::from_current_synchronization_context();
  std::atomic<bool> side_effect{false};
  duet::Task<> task = duet::start_new(*sc_ts, [&] { side_effect = true; });
  EXPECT_NO_THROW(task.wait());
  EXPECT_TRUE(task.is_completed());
  EXPECT_TRUE(side_effect);
  EXPECT_EQ(sc.post_count.load(), 1) << "exactly one post to the underlying context";
}

// TaskSchedulerTests.RunSynchronizationContextTaskSchedulerTests_Negative
TEST_F(TaskSchedulerTests, RunSynchronizationContextTaskSchedulerTests_Negative) {
  duet::SyncContextScope scope(nullptr);
  EXPECT_THROW((void)duet::TaskScheduler::from_current_synchronization_context(),
               duet::InvalidOperationError);
}

// duet: TaskScheduler::current() is the scheduler running the start_new work item, the default
// pool elsewhere (.NET's TaskScheduler.Current / Default).
TEST_F(TaskSchedulerTests, CurrentIsTheSchedulerRunningTheWorkItem) {
  duet::ManualScheduler manual;
  EXPECT_EQ(&duet::TaskScheduler::current(), &duet::TaskScheduler::default_scheduler());
  duet::Scheduler* seen = nullptr;
  duet::Task<int> t = duet::start_new(manual, [&] {
    seen = &duet::TaskScheduler::current();
    return 42;
  });
  EXPECT_FALSE(t.is_completed()) << "queued, not run inline";
  EXPECT_EQ(manual.pending(), 1u);
  EXPECT_EQ(manual.run_all(), 1u);
  EXPECT_EQ(seen, &manual);
  EXPECT_EQ(t.result(), 42);
  EXPECT_EQ(&duet::TaskScheduler::current(), &duet::TaskScheduler::default_scheduler())
      << "restored after the work item";
}

// duet: start_new flows the caller's ExecutionContext, as StartNew does, and its exception faults
// the task.
TEST_F(TaskSchedulerTests, StartNewFlowsTheExecutionContextAndFaultsOnThrow) {
  duet::ManualScheduler manual;
  duet::AsyncLocal<int> al;
  al.set_value(7);
  int seen = 0;
  auto ok = duet::start_new(manual, [&] { seen = al.value(); });
  auto bad = duet::start_new(manual, []() -> int { throw std::runtime_error("boom"); });
  al.set_value(0);
  manual.run_all();
  EXPECT_EQ(seen, 7);
  EXPECT_TRUE(ok.is_completed());
  EXPECT_EQ(bad.status(), duet::TaskStatus::faulted);
  EXPECT_THROW(bad.result(), std::runtime_error);
}

}  // namespace
