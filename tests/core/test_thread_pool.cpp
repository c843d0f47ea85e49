// test_thread_pool.cpp — ThreadPool / default_scheduler(), run() (Task.Run), yield()
// (Task.Yield), is_thread_pool_thread(), and posting existing continuations.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "duet_fixture.hpp"

namespace {

using duet::AsyncTaskMethodBuilder;
using duet::InvalidOperationError;
using duet::OperationCanceledError;
using duet::Task;
using duet::TaskCompletionSource;
using duet::ThreadPool;
using duet::testing::AllocScope;
using duet::testing::CountingContinuation;
using duet::testing::DuetTest;
using duet::testing::expect_rethrows;
using duet::testing::launch;
using duet::testing::wait_for_count;

struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using RunTest = DuetTest;

// ---------------------------------------------------------------------------------------------
// run(fn)
// ---------------------------------------------------------------------------------------------

TEST_F(RunTest, ReturnsTheValueComputedOnAPoolThread) {
  const std::thread::id caller = std::this_thread::get_id();
  Task<std::thread::id> where = duet::run([] {
    EXPECT_TRUE(duet::is_thread_pool_thread());
    return std::this_thread::get_id();
  });
  EXPECT_NE(where.result(), caller);
  Task<int> value = duet::run([] { return 6 * 7; });
  static_assert(std::is_same_v<decltype(value), Task<int>>);
  EXPECT_EQ(value.result(), 42);
}

TEST_F(RunTest, VoidFunctionGivesATaskOfVoid) {
  std::atomic<bool> ran{false};
  auto t = duet::run([&] { ran = true; });
  static_assert(std::is_same_v<decltype(t), Task<>>);
  t.wait();
  EXPECT_TRUE(ran.load());
  EXPECT_TRUE(t.is_completed_successfully());
}

TEST_F(RunTest, PropagatesTheExceptionOfFn) {
  Task<int> t = duet::run([]() -> int { throw CustomError("thrown on the pool"); });
  expect_rethrows<CustomError>([&] { (void)t.result(); }, "thrown on the pool");
  EXPECT_TRUE(t.is_faulted());
  // run(fn) has no token, so fn's OperationCanceledError is a fault too (issue 12, rule 7).
  Task<> c = duet::run([] { throw OperationCanceledError("canceled on the pool"); });
  expect_rethrows<OperationCanceledError>([&] { c.wait(); }, "canceled on the pool");
  EXPECT_TRUE(c.is_faulted());
}

TEST_F(RunTest, UnwrapsAFunctionReturningATask) {
  TaskCompletionSource<int> tcs;
  std::atomic<int> calls{0};
  auto t = duet::run([&] {
    calls.fetch_add(1);
    return tcs.task();
  });
  static_assert(std::is_same_v<decltype(t), Task<int>>, "run unwraps Task<Task<int>>");
  // fn returns the still-pending inner task; the outer one follows it, not fn's return.
  EXPECT_FALSE(t.is_completed());
  tcs.set_result(5);
  EXPECT_EQ(t.result(), 5);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(RunTest, UnwrappedTaskCarriesTheInnerFaultOrCancellation) {
  TaskCompletionSource<int> faulted;
  faulted.set_exception(CustomError("inner fault"));
  Task<int> f = duet::run([&] { return faulted.task(); });
  expect_rethrows<CustomError>([&] { (void)f.result(); }, "inner fault");

  TaskCompletionSource<> canceled;
  Task<> c = duet::run([&] { return canceled.task(); });
  canceled.set_canceled();
  expect_rethrows<duet::TaskCanceledError>([&] { c.wait(); }, "A task was canceled.");
  EXPECT_TRUE(c.is_canceled());

  // An OperationCanceledError handed over as an exception is a fault, and stays one through
  // the unwrapping (issue 12, rule 7).
  TaskCompletionSource<> oce_fault;
  Task<> o = duet::run([&] { return oce_fault.task(); });
  oce_fault.set_exception(OperationCanceledError("inner oce"));
  expect_rethrows<OperationCanceledError>([&] { o.wait(); }, "inner oce");
  EXPECT_TRUE(o.is_faulted());

  TaskCompletionSource<std::unique_ptr<int>> move_only;
  move_only.set_result(std::make_unique<int>(3));
  Task<std::unique_ptr<int>> m = duet::run([&] { return move_only.task(); });
  EXPECT_EQ(*m.result(), 3);
}

TEST_F(RunTest, FunctionReturningAnEmptyTaskFaultsWithInvalidOperation) {
  Task<int> t = duet::run([] { return Task<int>(); });
  EXPECT_THROW((void)t.result(), InvalidOperationError);
}

TEST_F(RunTest, CostsOneAllocation) {
  (void)duet::run([] { return 0; }).result();  // warm-up
  AllocScope scope;
  const int v = duet::run([] { return 1; }).result();
  const auto allocations = scope.allocations();
  EXPECT_EQ(allocations, 1u) << "state + work item + fn in one object";
  EXPECT_EQ(v, 1);
}

TEST_F(RunTest, IsThreadPoolThreadOnlyOnDefaultPoolWorkers) {
  EXPECT_FALSE(duet::is_thread_pool_thread());
  bool on_plain_thread = true;
  std::thread([&] { on_plain_thread = duet::is_thread_pool_thread(); }).join();
  EXPECT_FALSE(on_plain_thread);
  EXPECT_TRUE(duet::run([] { return duet::is_thread_pool_thread(); }).result());
  EXPECT_TRUE(duet::default_scheduler().is_worker_thread() == false);
  EXPECT_GE(duet::default_scheduler().worker_count(), 2u);
}

// ---------------------------------------------------------------------------------------------
// yield()
// ---------------------------------------------------------------------------------------------

struct YieldProbe {
  bool completed_before_suspending = true;
  int suspensions = 0;
  std::thread::id resumed_on;
  bool resumed_on_pool = false;
};

// YieldMachine — `async Task YieldAsync() { await Task.Yield(); }` in Roslyn shape.
struct YieldMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<> builder_{};
  YieldProbe* probe_ = nullptr;
  duet::YieldAwaitable::YieldAwaiter awaiter_{};

  void move_next() {
    if (state_ != 0) {
      awaiter_ = duet::get_awaiter(duet::yield());
      probe_->completed_before_suspending = awaiter_.is_completed();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        ++probe_->suspensions;
        builder_.await_on_completed(awaiter_, *this);
        return;
      }
    }
    state_ = -1;
    awaiter_.get_result();
    probe_->resumed_on = std::this_thread::get_id();
    probe_->resumed_on_pool = duet::is_thread_pool_thread();
    state_ = -2;
    builder_.set_result();
  }
};

using YieldTest = DuetTest;

// Misuse with no caller: a ThreadPool destroyed from one of its own workers cannot join itself,
// and a destructor cannot throw. In every build type the unhandled-exception handler gets one
// InvalidOperationError naming the rule and the process goes on (the pool is abandoned).
struct PoolDestroyer : duet::Continuation {
  ThreadPool* pool = nullptr;
  std::atomic<int> done{0};
  static void run(duet::Continuation* c) noexcept {
    auto* self = static_cast<PoolDestroyer*>(c);
    delete self->pool;
    self->done.store(1, std::memory_order_release);
    self->done.notify_all();
  }
};

TEST(ThreadPoolMisuse, DestroyedFromItsOwnWorkerIsReportedOnceNamingTheRule) {
  duet::testing::UnhandledRecorder unhandled;
  PoolDestroyer d;
  d.invoke = &PoolDestroyer::run;
  d.pool = new ThreadPool(2);
  d.pool->post(d);
  d.done.wait(0, std::memory_order_acquire);
  ASSERT_EQ(unhandled.count(), 1);
  const std::string m = unhandled.messages()[0];
  EXPECT_EQ(m.rfind("ThreadPool destroyed from one of its own worker threads", 0), 0u) << m;
}

TEST_F(YieldTest, AlwaysSuspendsAndResumesOnAPoolThread) {
  YieldProbe probe;
  YieldMachine sm{.probe_ = &probe};
  Task<> t = launch(sm);
  EXPECT_EQ(sm.state_, 0);
  EXPECT_FALSE(probe.completed_before_suspending);
  EXPECT_EQ(probe.suspensions, 1);
  t.wait();
  EXPECT_NE(probe.resumed_on, std::this_thread::get_id());
  EXPECT_TRUE(probe.resumed_on_pool);
}

TEST_F(YieldTest, SuspendsEvenWhenAlreadyOnAPoolThread) {
  YieldProbe probe;
  Task<> t = duet::run([&] { return launch(YieldMachine{.probe_ = &probe}); });
  t.wait();
  EXPECT_EQ(probe.suspensions, 1);
  EXPECT_TRUE(probe.resumed_on_pool);
}

TEST_F(YieldTest, PostsToTheCurrentSynchronizationContext) {
  duet::testing::RecordingContext ctx;
  duet::SyncContextScope scope(&ctx);
  YieldProbe probe;
  Task<> t = launch(YieldMachine{.probe_ = &probe});
  EXPECT_EQ(ctx.posts(), 1);
  EXPECT_FALSE(t.is_completed()) << "must wait for the context to run it";
  EXPECT_EQ(ctx.run_all(), 1);
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(probe.resumed_on, std::this_thread::get_id());
  EXPECT_FALSE(probe.resumed_on_pool);
}

// ---------------------------------------------------------------------------------------------
// Posting existing continuations
// ---------------------------------------------------------------------------------------------

using PoolTest = DuetTest;

TEST_F(PoolTest, ContinuationsPostedFromManyThreadsEachRunExactlyOnce) {
  constexpr int k_threads = 4;
  constexpr int k_per_thread = 5000;
  constexpr int k_total = k_threads * k_per_thread;
  std::atomic<int> done{0};
  auto nodes = std::make_unique<CountingContinuation[]>(k_total);
  for (int i = 0; i < k_total; ++i) nodes[i].done = &done;
  std::vector<std::thread> posters;
  for (int t = 0; t < k_threads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = t * k_per_thread; i < (t + 1) * k_per_thread; ++i) {
        duet::default_scheduler().post(nodes[i]);
      }
    });
  }
  for (auto& p : posters) p.join();
  wait_for_count(done, k_total);
  duet::testing::drain_default_pool();  // a duplicate run would have happened by now
  EXPECT_EQ(done.load(), k_total);
  for (int i = 0; i < k_total; ++i) {
    ASSERT_EQ(nodes[i].runs.load(), 1) << "node " << i;
    ASSERT_TRUE(nodes[i].ran_on_pool) << "node " << i;
  }
}

TEST_F(PoolTest, PostingAnExistingContinuationAllocatesNothing) {
  constexpr int k_nodes = 1000;
  auto nodes = std::make_unique<CountingContinuation[]>(k_nodes);
  std::atomic<int> done{0};
  for (int i = 0; i < k_nodes; ++i) nodes[i].done = &done;
  for (int i = 0; i < k_nodes; ++i) duet::default_scheduler().post(nodes[i]);  // warm-up
  wait_for_count(done, k_nodes);

  AllocScope scope;
  for (int i = 0; i < k_nodes; ++i) duet::default_scheduler().post(nodes[i]);
  wait_for_count(done, 2 * k_nodes);
  const auto allocations = scope.allocations();
  EXPECT_EQ(allocations, 0u);
}

// PoolProbe — records where it ran relative to a dedicated pool.
struct PoolProbe : duet::Continuation {
  PoolProbe() noexcept { invoke = &run; }
  const ThreadPool* pool = nullptr;
  std::atomic<int>* done = nullptr;
  std::atomic<int> runs{0};
  bool on_dedicated_worker = false;
  bool on_default_pool = true;
  duet::SynchronizationContext* install = nullptr;  // set as current while running
  duet::SynchronizationContext* saw_context = nullptr;

  static void run(duet::Continuation* c) noexcept {
    auto* self = static_cast<PoolProbe*>(c);
    self->on_dedicated_worker = self->pool->is_worker_thread();
    self->on_default_pool = duet::is_thread_pool_thread();
    self->saw_context = duet::SynchronizationContext::current();
    if (self->install) duet::SynchronizationContext::set_current(self->install);
    std::atomic<int>* done = self->done;
    self->runs.fetch_add(1);
    if (done) {
      done->fetch_add(1);
      done->notify_all();
    }
  }
};

TEST_F(PoolTest, DedicatedPoolRunsOnItsOwnWorkers) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.worker_count(), 2u);
  EXPECT_FALSE(pool.is_worker_thread());
  std::atomic<int> done{0};
  PoolProbe probes[8];
  for (auto& p : probes) {
    p.pool = &pool;
    p.done = &done;
    pool.post(p);
  }
  wait_for_count(done, 8);
  for (auto& p : probes) {
    EXPECT_EQ(p.runs.load(), 1);
    EXPECT_TRUE(p.on_dedicated_worker);
    EXPECT_FALSE(p.on_default_pool) << "a dedicated pool's worker is not a default-pool thread";
  }
}

TEST_F(PoolTest, DedicatedPoolRunsWhatIsQueuedBeforeItsDestructorReturns) {
  constexpr int k_nodes = 2000;
  auto probes = std::make_unique<PoolProbe[]>(k_nodes);
  {
    ThreadPool pool(2);
    for (int i = 0; i < k_nodes; ++i) {
      probes[i].pool = &pool;
      pool.post(probes[i]);
    }
  }  // no wait: the destructor itself must drain the queue, then join
  for (int i = 0; i < k_nodes; ++i) ASSERT_EQ(probes[i].runs.load(), 1) << "node " << i;
}

TEST_F(PoolTest, IdleDedicatedPoolDestructs) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(2);
    EXPECT_EQ(pool.worker_count(), 2u);
  }
}

TEST_F(PoolTest, AWorkerIsCleanBetweenItems) {
  // One worker, two items: the first installs a SynchronizationContext and returns; the second
  // must not see it.
  duet::testing::RecordingContext leaked;
  ThreadPool pool(1);
  std::atomic<int> done{0};
  PoolProbe first;
  PoolProbe second;
  first.pool = second.pool = &pool;
  first.done = second.done = &done;
  first.install = &leaked;
  pool.post(first);
  pool.post(second);
  wait_for_count(done, 2);
  EXPECT_EQ(second.saw_context, nullptr);
  EXPECT_TRUE(second.on_dedicated_worker);
}

TEST_F(PoolTest, DedicatedPoolPostingAnExistingContinuationAllocatesNothing) {
  ThreadPool pool(2);
  constexpr int k_nodes = 500;
  auto probes = std::make_unique<PoolProbe[]>(k_nodes);
  std::atomic<int> done{0};
  for (int i = 0; i < k_nodes; ++i) {
    probes[i].pool = &pool;
    probes[i].done = &done;
    pool.post(probes[i]);
  }
  wait_for_count(done, k_nodes);
  AllocScope scope;
  for (int i = 0; i < k_nodes; ++i) pool.post(probes[i]);
  wait_for_count(done, 2 * k_nodes);
  const auto allocations = scope.allocations();
  EXPECT_EQ(allocations, 0u);
}

}  // namespace
