// test_thread_pool_compensation.cpp — ThreadPool's thread injection: blocking compensation for
// workers that block in Task::wait()/result(), the starvation monitor, surplus retirement, and
// the .NET-style knobs (set_min_threads / set_max_threads / thread_count /
// pending_work_item_count).
//
// Every assertion is about an outcome (it finished; this many threads existed at once), never
// about how long something took. within() only turns a hang (the behaviour before compensation
// existed) into a failure, with a bound far above any expected time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "stress_support.hpp"

namespace {

using duet::Continuation;
using duet::TaskCompletionSource;
using duet::ThreadPool;
using duet::testing::CountingContinuation;
using duet::testing::DuetTest;

using duet::testing::within;

// Blocker — a pool item that counts itself started, then blocks in wait()/result() on `gate`.
struct Blocker : Continuation {
  Blocker() noexcept { invoke = &run; }
  TaskCompletionSource<int>* gate = nullptr;
  std::atomic<int>* started = nullptr;
  std::atomic<int>* finished = nullptr;
  bool use_result = false;
  int value = 0;
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<Blocker*>(c);
    self->started->fetch_add(1);
    duet::Task<int> t = self->gate->task();
    if (self->use_result) {
      self->value = t.result();
    } else {
      t.wait();
      self->value = t.result();
    }
    self->finished->fetch_add(1);
  }
};

// Completer — a pool item that completes `gate`.
struct Completer : Continuation {
  Completer() noexcept { invoke = &run; }
  TaskCompletionSource<int>* gate = nullptr;
  std::atomic<bool> ran{false};
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<Completer*>(c);
    self->gate->set_result(7);
    self->ran.store(true);
  }
};

// Spinner — a pool item that blocks its worker WITHOUT telling the pool (a spin on a flag, as a
// long computation or a foreign lock would), until `release` is set.
struct Spinner : Continuation {
  Spinner() noexcept { invoke = &run; }
  std::atomic<bool>* release = nullptr;
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  Continuation* post_first = nullptr;  // posted from inside the item before spinning
  ThreadPool* pool = nullptr;
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<Spinner*>(c);
    if (self->post_first) self->pool->post(*self->post_first);
    self->started.store(true);
    while (!self->release->load()) std::this_thread::yield();
    self->finished.store(true);
  }
};

// Releaser — sets a flag.
struct Releaser : Continuation {
  Releaser() noexcept { invoke = &run; }
  std::atomic<bool>* flag = nullptr;
  static void run(Continuation* c) noexcept { static_cast<Releaser*>(c)->flag->store(true); }
};

using CompensationTest = DuetTest;

TEST_F(CompensationTest, SixtyFourItemsBlockedInWaitOnTwoWorkersAllFinish) {
  ThreadPool pool(2);
  constexpr int k_blockers = 64;
  TaskCompletionSource<int> gate;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  auto blockers = std::make_unique<Blocker[]>(k_blockers);
  for (int i = 0; i < k_blockers; ++i) {
    blockers[i].gate = &gate;
    blockers[i].started = &started;
    blockers[i].finished = &finished;
    blockers[i].use_result = (i % 2) == 1;
    pool.post(blockers[i]);
  }
  // All 64 are inside their item at the same time, so the pool ran them on 64 threads at once:
  // every block started a replacement.
  ASSERT_TRUE(within([&] { return started.load() == k_blockers; }))
      << "only " << started.load() << " of 64 blockers started: no compensation";
  EXPECT_EQ(finished.load(), 0);
  EXPECT_TRUE(within([&] { return pool.thread_count() >= k_blockers + 2u; }))
      << "64 blocked workers plus the 2 the pool keeps unblocked: " << pool.thread_count();
  EXPECT_LE(pool.thread_count(), pool.max_threads());

  // The 65th item, posted last, completes the task the 64 wait on.
  Completer completer;
  completer.gate = &gate;
  pool.post(completer);
  ASSERT_TRUE(within([&] { return finished.load() == k_blockers; }))
      << finished.load() << " of 64 blockers finished";
  EXPECT_TRUE(within([&] { return completer.ran.load(); }));
  for (int i = 0; i < k_blockers; ++i) EXPECT_EQ(blockers[i].value, 7) << "blocker " << i;
}

TEST_F(CompensationTest, BlockersPostedTogetherWithTheirCompleterAllFinish) {
  // The completer is queued among the blockers (in the middle), on one worker.
  ThreadPool pool(1);
  constexpr int k_blockers = 32;
  TaskCompletionSource<int> gate;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  auto blockers = std::make_unique<Blocker[]>(k_blockers);
  Completer completer;
  completer.gate = &gate;
  for (int i = 0; i < k_blockers; ++i) {
    blockers[i].gate = &gate;
    blockers[i].started = &started;
    blockers[i].finished = &finished;
    pool.post(blockers[i]);
    if (i == k_blockers / 2) pool.post(completer);
  }
  ASSERT_TRUE(within([&] { return finished.load() == k_blockers; }));
  // The blockers may finish before the completer's own last step, which follows set_result.
  EXPECT_TRUE(within([&] { return completer.ran.load(); }));
}

TEST_F(CompensationTest, TheKnobsValidateLikeDotNet) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.thread_count(), 2u);
  EXPECT_EQ(pool.min_threads(), 2u);
  EXPECT_EQ(pool.max_threads(), 2u + 256u);
  EXPECT_FALSE(pool.set_min_threads(0));
  EXPECT_FALSE(pool.set_min_threads(pool.max_threads() + 1));
  EXPECT_FALSE(pool.set_max_threads(1)) << "below min_threads()";
  EXPECT_FALSE(pool.set_max_threads(ThreadPool::k_thread_limit + 1));
  EXPECT_EQ(pool.min_threads(), 2u);
  EXPECT_EQ(pool.max_threads(), 258u);

  EXPECT_TRUE(pool.set_min_threads(4));
  EXPECT_EQ(pool.min_threads(), 4u);
  EXPECT_EQ(pool.thread_count(), 4u) << "raising the minimum starts the threads at once";
  EXPECT_TRUE(pool.set_max_threads(4));
  EXPECT_EQ(pool.max_threads(), 4u);
  EXPECT_FALSE(pool.set_min_threads(5));
}

TEST_F(CompensationTest, CompensationStopsAtMaxThreads) {
  ThreadPool pool(1);
  ASSERT_TRUE(pool.set_max_threads(3));
  TaskCompletionSource<int> gate;
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  constexpr int k_blockers = 5;
  auto blockers = std::make_unique<Blocker[]>(k_blockers);
  for (int i = 0; i < k_blockers; ++i) {
    blockers[i].gate = &gate;
    blockers[i].started = &started;
    blockers[i].finished = &finished;
    pool.post(blockers[i]);
  }
  ASSERT_TRUE(within([&] { return started.load() == 3; }));
  EXPECT_TRUE(within([&] { return pool.pending_work_item_count() == 2; }))
      << "two blockers wait for a thread: " << pool.pending_work_item_count();
  EXPECT_EQ(pool.thread_count(), 3u);
  gate.set_result(1);  // from the test thread: releases the three, which then run the rest
  ASSERT_TRUE(within([&] { return finished.load() == k_blockers; }));
  EXPECT_LE(pool.thread_count(), 3u);
}

TEST_F(CompensationTest, PendingWorkItemCountCountsQueuedItems) {
  ThreadPool pool(1);
  ASSERT_TRUE(pool.set_max_threads(1));  // the monitor may not add a worker
  std::atomic<bool> release{false};
  Spinner spinner;
  spinner.release = &release;
  pool.post(spinner);
  ASSERT_TRUE(within([&] { return spinner.started.load(); }));
  EXPECT_EQ(pool.pending_work_item_count(), 0u);
  std::atomic<int> done{0};
  CountingContinuation items[10];
  for (auto& it : items) {
    it.done = &done;
    pool.post(it);
  }
  EXPECT_EQ(pool.pending_work_item_count(), 10u);
  release.store(true);
  duet::testing::wait_for_count(done, 10);
  EXPECT_EQ(pool.pending_work_item_count(), 0u);
}

TEST_F(CompensationTest, StarvationMonitorAddsAWorkerWhenEveryWorkerIsStuck) {
  // The only worker spins (not in wait(): nothing tells the pool) until the item queued behind
  // it runs. Only the starvation monitor can get that item a thread.
  ThreadPool pool(1);
  std::atomic<bool> release{false};
  Spinner spinner;
  spinner.release = &release;
  pool.post(spinner);
  ASSERT_TRUE(within([&] { return spinner.started.load(); }));
  Releaser releaser;
  releaser.flag = &release;
  pool.post(releaser);
  ASSERT_TRUE(within([&] { return spinner.finished.load(); }));
  EXPECT_GE(pool.thread_count(), 2u);
}

TEST_F(CompensationTest, TheSlotItemOfAStuckWorkerIsRescued) {
  // The spinner posts its releaser from its own worker, so the releaser sits in that worker's
  // LIFO slot, which other workers do not steal; the monitor moves it to the global queue once
  // the worker has started nothing for a while.
  ThreadPool pool(2);
  std::atomic<bool> release{false};
  Releaser releaser;
  releaser.flag = &release;
  Spinner spinner;
  spinner.release = &release;
  spinner.pool = &pool;
  spinner.post_first = &releaser;
  pool.post(spinner);
  ASSERT_TRUE(within([&] { return spinner.finished.load(); }));
}

TEST_F(CompensationTest, SurplusWorkersRetireWhenIdleAndSlotsAreReused) {
  ThreadPool pool(1);
  pool.set_idle_timeout(std::chrono::milliseconds(1));
  for (int round = 0; round < 3; ++round) {
    TaskCompletionSource<int> gate;
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    Blocker blocker;
    blocker.gate = &gate;
    blocker.started = &started;
    blocker.finished = &finished;
    pool.post(blocker);
    ASSERT_TRUE(within([&] { return started.load() == 1; }));
    // A replacement exists: it runs an item while the only worker blocks. (Not polled through
    // thread_count(): with a 1 ms idle timeout the idle replacement may retire between polls.)
    std::atomic<bool> probed{false};
    Releaser probe;
    probe.flag = &probed;
    pool.post(probe);
    EXPECT_TRUE(within([&] { return probed.load(); })) << "round " << round << ": no replacement";
    gate.set_result(round);
    ASSERT_TRUE(within([&] { return finished.load() == 1; }));
    ASSERT_TRUE(within([&] { return pool.thread_count() == 1; }))
        << "round " << round << ": the surplus worker did not retire";
  }
}

TEST_F(CompensationTest, WaitOffThePoolStartsNoThread) {
  ThreadPool pool(2);
  TaskCompletionSource<int> gate;
  std::thread t([&] { EXPECT_EQ(gate.task().result(), 3); });
  gate.set_result(3);
  t.join();
  EXPECT_EQ(pool.thread_count(), 2u);
}

TEST_F(CompensationTest, DefaultPoolWorkerBlockingOnRunFinishes) {
  // Task.Run(() => Task.Run(...).Result) nested deeper than the default pool has workers.
  const unsigned depth = duet::default_scheduler().min_threads() + 4;
  std::function<int(unsigned)> nest = [&](unsigned d) -> int {
    if (d == 0) return 1;
    return duet::run([&, d] { return nest(d - 1); }).result() + 1;
  };
  duet::Task<int> t = duet::run([&] { return nest(depth); });
  ASSERT_TRUE(within([&] { return t.is_completed(); }));
  EXPECT_EQ(t.result(), static_cast<int>(depth) + 1);
}

}  // namespace
