// tests/semantic/test_coord_methods.cpp — SemaphoreSlim awaited by async methods, in every style:
// the uncontended wait completes synchronously, waiters are released in FIFO order, a canceled
// or timed-out waiter leaves the queue at once and never takes a count, cancellation racing a
// release loses no count (stress under many seeds), and SemaphoreSlim(1) with SemaphoreReleaser
// gives mutual exclusion. Timeouts run on a ManualClock wheel drained by hand: no sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include <duet/detail/cpu_relax.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"
#include "queue_scheduler.hpp"

using namespace std::chrono_literals;

namespace semantic {
namespace {

using duet::CancellationTokenSource;
using duet::SemaphoreReleaser;
using duet::SemaphoreSlim;
using duet::Task;

template <class S>
class CoordMethods : public duet::testing::DuetTest {
 protected:
  ~CoordMethods() override {
    scope_.reset();
    wheel_.reset();
  }
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    queue_.drain();
  }

  // waiter(sem, log, i, token) — async Task<bool> M() { var ok = await sem.WaitAsync(token);
  // log.Add(i); return ok; }
  static Task<bool> waiter(SemaphoreSlim& sem, duet::testing::EventLog& log, int i,
                           duet::CancellationToken token = {}) {
    return S::task(nop, [&sem, token] { return sem.wait_async(token); },
                   [&log, i](bool ok) {
                     log.add(std::to_string(i));
                     return ok;
                   });
  }

  duet::ManualClock clock_;
  duet::testing::QueueScheduler queue_;
  std::unique_ptr<duet::TimerWheel> wheel_ = std::make_unique<duet::TimerWheel>(clock_, queue_);
  std::unique_ptr<duet::TimerWheelScope> scope_ = std::make_unique<duet::TimerWheelScope>(*wheel_);
};
TYPED_TEST_SUITE(CoordMethods, AllStyles, StyleName);

TYPED_TEST(CoordMethods, SemaphoreUncontendedWaitCompletesTheMethodSynchronously) {
  SemaphoreSlim sem(2);
  duet::testing::EventLog log;
  Task<bool> a = this->waiter(sem, log, 1);
  Task<bool> b = this->waiter(sem, log, 2);
  ASSERT_TRUE(a.is_completed_successfully()) << "a free count is taken without suspending";
  ASSERT_TRUE(b.is_completed_successfully());
  EXPECT_TRUE(a.result());
  EXPECT_EQ(sem.current_count(), 0);
  EXPECT_EQ(log.events(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(sem.release(2), 0);
  EXPECT_EQ(sem.current_count(), 2);
}

TYPED_TEST(CoordMethods, SemaphoreWaitersAreReleasedInFifoOrder) {
  SemaphoreSlim sem(0);
  duet::testing::EventLog log;
  std::vector<Task<bool>> ts;
  for (int i = 0; i < 4; ++i) ts.push_back(this->waiter(sem, log, i));
  EXPECT_EQ(sem.waiter_count(), 4u);
  for (auto& t : ts) EXPECT_FALSE(t.is_completed());

  sem.release();
  EXPECT_TRUE(ts[0].result());
  for (int i = 1; i < 4; ++i) EXPECT_FALSE(ts[i].is_completed()) << "only the oldest waiter gets the count";
  EXPECT_EQ(sem.release(), 0) << "no count is free while waiters queue";
  EXPECT_TRUE(ts[1].result());
  EXPECT_FALSE(ts[2].is_completed());
  EXPECT_FALSE(ts[3].is_completed());
  EXPECT_EQ(log.events(), (std::vector<std::string>{"0", "1"}));
  // release(2) hands one count to each of the two oldest; their continuations are posted (as
  // .NET's), so the two may log in either order.
  EXPECT_EQ(sem.release(2), 0);
  EXPECT_TRUE(ts[2].result());
  EXPECT_TRUE(ts[3].result());
  EXPECT_EQ(log.events().size(), 4u);
  EXPECT_EQ(sem.current_count(), 0);
  EXPECT_EQ(sem.waiter_count(), 0u);
}

TYPED_TEST(CoordMethods, SemaphoreCanceledWaiterLeavesTheQueueAndTakesNoCount) {
  SemaphoreSlim sem(0);
  duet::testing::EventLog log;
  CancellationTokenSource cts;
  Task<bool> canceled = this->waiter(sem, log, 1, cts.token());
  Task<bool> next = this->waiter(sem, log, 2);
  cts.cancel();
  EXPECT_THROW(canceled.wait(), duet::OperationCanceledError);
  EXPECT_TRUE(canceled.is_canceled());
  EXPECT_EQ(sem.waiter_count(), 1u) << "the canceled waiter left the queue at once";
  sem.release();
  EXPECT_TRUE(next.result()) << "the count went to the next waiter, not the canceled one";
  EXPECT_EQ(sem.current_count(), 0);
  sem.release();
  EXPECT_EQ(sem.current_count(), 1);
  EXPECT_EQ(log.events(), (std::vector<std::string>{"2"}));
}

TYPED_TEST(CoordMethods, SemaphoreAlreadyCanceledTokenCancelsEvenWithAFreeCount) {
  SemaphoreSlim sem(1);
  duet::testing::EventLog log;
  Task<bool> t = this->waiter(sem, log, 1, duet::CancellationToken::canceled());
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
  EXPECT_EQ(sem.current_count(), 1) << "no count taken";
}

TYPED_TEST(CoordMethods, SemaphoreWaitTimesOutOnTheManualClockWithoutTakingACount) {
  SemaphoreSlim sem(0);
  // async Task<string> M() { var ok = await sem.WaitAsync(100ms); return ok ? "got" : "timeout"; }
  Task<std::string> t = TypeParam::task(nop, [&] { return sem.wait_async(100ms); },
                                        [](bool ok) { return std::string(ok ? "got" : "timeout"); });
  this->advance(99ms);
  EXPECT_FALSE(t.is_completed()) << "never early";
  this->advance(1ms);
  EXPECT_EQ(t.result(), "timeout");
  EXPECT_EQ(sem.waiter_count(), 0u);
  sem.release();
  EXPECT_EQ(sem.current_count(), 1) << "the timed-out waiter did not swallow the count";
  EXPECT_EQ(this->wheel_->pending(), 0u);

  // Released before the timeout: true, and the timer is gone from the wheel.
  Task<bool> took = sem.wait_async(100ms);
  EXPECT_TRUE(took.result());
  Task<std::string> u = TypeParam::task(nop, [&] { return sem.wait_async(100ms); },
                                        [](bool ok) { return std::string(ok ? "got" : "timeout"); });
  EXPECT_EQ(this->wheel_->pending(), 1u);
  sem.release();
  EXPECT_EQ(u.result(), "got");
  EXPECT_EQ(this->wheel_->pending(), 0u) << "the timer was canceled out of the wheel";
  EXPECT_EQ(sem.current_count(), 0);
}

TYPED_TEST(CoordMethods, SemaphoreZeroTimeoutNeverQueues) {
  SemaphoreSlim sem(0);
  Task<bool> t = sem.wait_async(0ms);
  ASSERT_TRUE(t.is_completed());
  EXPECT_FALSE(t.result());
  EXPECT_EQ(sem.waiter_count(), 0u);
}

TYPED_TEST(CoordMethods, SemaphoreCancellationRacingReleaseLosesNoCount) {
  // Many seeds: a waiter's token is canceled on one thread while another thread releases one
  // count. Exactly one wins: either the method got the count (true, count 0) or it was canceled
  // (the count stays free). Never both, never neither.
  const int rounds = 300;
  int got = 0, canceled = 0;
  for (int seed = 0; seed < rounds; ++seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    SemaphoreSlim sem(0);
    duet::testing::EventLog log;
    CancellationTokenSource cts;
    Task<bool> t = this->waiter(sem, log, 0, cts.token());
    std::atomic<int> go{0};
    const int spin_a = static_cast<int>(rng() % 64), spin_b = static_cast<int>(rng() % 64);
    std::thread a([&] {
      go.fetch_add(1);
      while (go.load() < 2) {}
      for (int i = 0; i < spin_a; ++i) duet::detail::cpu_relax();
      cts.cancel();
    });
    std::thread b([&] {
      go.fetch_add(1);
      while (go.load() < 2) {}
      for (int i = 0; i < spin_b; ++i) duet::detail::cpu_relax();
      sem.release();
    });
    a.join();
    b.join();
    try {
      t.wait();
      ASSERT_TRUE(t.result());
      EXPECT_EQ(sem.current_count(), 0) << "seed " << seed;
      ++got;
    } catch (const duet::OperationCanceledError&) {
      EXPECT_EQ(sem.current_count(), 1) << "seed " << seed << ": the canceled waiter lost the count";
      ++canceled;
    }
    EXPECT_EQ(sem.waiter_count(), 0u);
  }
  EXPECT_EQ(got + canceled, rounds);
}

TYPED_TEST(CoordMethods, SemaphoreSlimOneWithReleaserIsMutualExclusion) {
  // Four methods on the pool, each: for (i < 200) { await sem.WaitAsync(); using (releaser) {
  // ++shared; } } — a plain int, guarded only by the semaphore (TSan checks it).
  SemaphoreSlim sem(1);
  int shared = 0;
  std::atomic<int> inside{0};
  std::vector<Task<int>> ts;
  for (int m = 0; m < 4; ++m) {
    ts.push_back(duet::run([&] {
      return TypeParam::loop(
          200, [&](int) { return sem.wait_async(); },
          [&](int, bool ok) {
            EXPECT_TRUE(ok);
            SemaphoreReleaser guard(sem);
            EXPECT_EQ(inside.fetch_add(1), 0) << "two methods inside the critical section";
            ++shared;
            inside.fetch_sub(1);
          },
          [] { return 1; });
    }));
  }
  for (auto& t : ts) EXPECT_EQ(t.result(), 1);
  EXPECT_EQ(shared, 800);
  EXPECT_EQ(sem.current_count(), 1);
}

TYPED_TEST(CoordMethods, SemaphoreDestroyedWithAQueuedWaiterFaultsTheMethod) {
  duet::testing::EventLog log;
  Task<bool> t;
  {
    SemaphoreSlim sem(0);
    t = this->waiter(sem, log, 1);
  }
  try {
    t.wait();
    ADD_FAILURE() << "expected a fault";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("SemaphoreSlim destroyed"), std::string::npos) << e.what();
  }
}

TYPED_TEST(CoordMethods, SemaphoreReleaseAboveMaxThrowsAndChangesNothing) {
  SemaphoreSlim sem(1, 2);
  EXPECT_EQ(sem.release(), 1);
  EXPECT_THROW(sem.release(), duet::SemaphoreFullError);
  EXPECT_EQ(sem.current_count(), 2);
  EXPECT_THROW(sem.release(0), duet::ArgumentError);
  EXPECT_THROW(SemaphoreSlim(3, 2), duet::ArgumentError);
  EXPECT_THROW((void)sem.wait_async(-5ms), duet::ArgumentError);
}

// ---- PeriodicTimer -------------------------------------------------------------------------------

TYPED_TEST(CoordMethods, PeriodicTimerTickResumesTheMethodNeverEarly) {
  duet::PeriodicTimer timer(100ms);
  // async Task<long> M() { await timer.WaitForNextTickAsync(); return now; }
  auto now_ms = [this] {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(this->clock_.now()).count());
  };
  Task<long long> t = TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); },
                                      [now_ms](bool ok) { return ok ? now_ms() : -1; });
  this->advance(99ms);
  EXPECT_FALSE(t.is_completed());
  this->advance(1ms);
  EXPECT_EQ(t.result(), 100);
}

TYPED_TEST(CoordMethods, PeriodicTimerMissedTicksCoalesceIntoOne) {
  duet::PeriodicTimer timer(100ms);
  this->advance(350ms);  // ticks at 100, 200 and 300 with nobody waiting
  auto wait_method = [&] {
    return TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); }, [](bool ok) { return ok; });
  };
  Task<bool> first = wait_method();
  ASSERT_TRUE(first.is_completed()) << "a tick came while nobody waited: the wait completes at once";
  EXPECT_TRUE(first.result());
  Task<bool> second = wait_method();
  EXPECT_FALSE(second.is_completed()) << "three missed ticks coalesced into one signal";
  this->advance(49ms);
  EXPECT_FALSE(second.is_completed()) << "the next tick is on the grid: 400 ms";
  this->advance(1ms);
  EXPECT_TRUE(second.result());
}

TYPED_TEST(CoordMethods, PeriodicTimerWaitIsFalseAfterDispose) {
  duet::PeriodicTimer timer(100ms);
  auto wait_method = [&] {
    return TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); }, [](bool ok) { return ok; });
  };
  Task<bool> pending = wait_method();
  timer.dispose();
  EXPECT_FALSE(pending.result()) << "dispose ends the pending wait false";
  Task<bool> later = wait_method();
  ASSERT_TRUE(later.is_completed());
  EXPECT_FALSE(later.result());
  EXPECT_EQ(this->wheel_->pending(), 0u) << "the timer left the wheel";
}

TYPED_TEST(CoordMethods, PeriodicTimerCanceledWaitLeavesTheTimerTicking) {
  duet::PeriodicTimer timer(100ms);
  CancellationTokenSource cts;
  Task<bool> canceled = TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(cts.token()); },
                                        [](bool ok) { return ok; });
  cts.cancel();
  EXPECT_THROW((void)canceled.result(), duet::OperationCanceledError);
  Task<bool> next = TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); }, [](bool ok) { return ok; });
  this->advance(100ms);
  EXPECT_TRUE(next.result());
}

TYPED_TEST(CoordMethods, PeriodicTimerRejectsASecondConcurrentWait) {
  duet::PeriodicTimer timer(100ms);
  Task<bool> first = TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); }, [](bool ok) { return ok; });
  Task<bool> second = TypeParam::task(nop, [&] { return timer.wait_for_next_tick_async(); }, [](bool ok) { return ok; });
  EXPECT_THROW((void)second.result(), duet::InvalidOperationError);
  this->advance(100ms);
  EXPECT_TRUE(first.result());
  EXPECT_THROW(duet::PeriodicTimer(0ms), duet::ArgumentError);
}

// ---- parallel_for_each_async ---------------------------------------------------------------------

// Gated — per element a gate the test opens, and a count of started bodies.
struct Gated {
  explicit Gated(int n) : gates(static_cast<std::size_t>(n)) {}
  std::vector<duet::TaskCompletionSource<>> gates;
  std::atomic<int> started{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  void enter() {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {}
    started.fetch_add(1);
    started.notify_all();
  }
  void wait_started(int n) {
    for (int s = started.load(); s < n; s = started.load()) started.wait(s);
  }
};

TYPED_TEST(CoordMethods, ParallelForEachRunsAtMostMaxDegreeBodiesAtOnce) {
  std::vector<int> items{0, 1, 2, 3, 4};
  Gated g(5);
  std::vector<std::atomic<int>> done(5);
  // body: async Task<int> B(int x, token) { enter(); await gates[x]; leave(); return x; }
  Task<> t = duet::parallel_for_each_async(items, duet::ParallelOptions{2, {}}, [&](int x, const duet::CancellationToken&) {
    return TypeParam::task([&g] { g.enter(); }, [&g, x] { return g.gates[static_cast<std::size_t>(x)].task(); },
                           [&g, &done, x] {
                             g.in_flight.fetch_sub(1);
                             done[static_cast<std::size_t>(x)].fetch_add(1);
                             return x;
                           });
  });
  g.wait_started(2);
  EXPECT_EQ(g.started.load(), 2) << "two workers: the third element waits for a free worker";
  for (int i = 0; i < 5; ++i) {
    g.gates[static_cast<std::size_t>(i)].set_result();
    if (i + 3 <= 5) g.wait_started(i + 3);
  }
  t.wait();
  EXPECT_LE(g.max_in_flight.load(), 2);
  for (auto& d : done) EXPECT_EQ(d.load(), 1) << "every element exactly once";
}

TYPED_TEST(CoordMethods, ParallelForEachFirstFailureCancelsTheRestAndFaultsWithEveryError) {
  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7};
  Gated g(8);
  Task<> t = duet::parallel_for_each_async(items, duet::ParallelOptions{3, {}}, [&](int x, const duet::CancellationToken& token) {
    return TypeParam::task([&g] { g.enter(); },
                           [&g, x, token] {
                             // element 0 fails at once; 1 fails when its gate opens; 2 waits on
                             // the linked token (canceled by the first failure).
                             if (x == 2) return duet::delay(duet::k_infinite_timeout, token);
                             return g.gates[static_cast<std::size_t>(x)].task();
                           },
                           [&g, x] {
                             g.in_flight.fetch_sub(1);
                             if (x < 2) throw std::runtime_error("body " + std::to_string(x) + " failed");
                             return x;
                           });
  });
  g.wait_started(3);
  g.gates[0].set_result();  // body 0 throws: the linked token is canceled, body 2 ends canceled
  g.gates[1].set_result();  // body 1 throws too: both errors are kept
  try {
    t.wait();
    ADD_FAILURE() << "expected a fault";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos);
  }
  ASSERT_TRUE(t.is_faulted()) << "faulted, not canceled: the cancellation came from the failure";
  try {
    std::rethrow_exception(t.exception());
  } catch (const duet::AggregateError& a) {
    EXPECT_EQ(a.inner_exceptions().size(), 2u) << "both failures, and not the caused cancellation";
  }
  EXPECT_EQ(g.started.load(), 3) << "no element started after the first failure";
}

TYPED_TEST(CoordMethods, ParallelForEachCallersTokenCancelsTheLoop) {
  std::vector<int> items{0, 1, 2, 3};
  Gated g(4);
  CancellationTokenSource cts;
  Task<> t = duet::parallel_for_each_async(items, duet::ParallelOptions{2, cts.token()}, [&](int, const duet::CancellationToken& token) {
    return TypeParam::task([&g] { g.enter(); }, [token] { return duet::delay(duet::k_infinite_timeout, token); },
                           [] { return 0; });
  });
  g.wait_started(2);
  cts.cancel();
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(g.started.load(), 2);
  EXPECT_THROW((void)duet::parallel_for_each_async(items, duet::ParallelOptions{0, {}},
                                                   [](int, const duet::CancellationToken&) { return duet::completed_task(); }),
               duet::ArgumentError);
}

}  // namespace
}  // namespace semantic
