// tests/semantic/test_time_methods.cpp — delay and cancellation inside async methods, in every
// style: a method suspended on delay() resumes when the ManualClock reaches the deadline (never
// early), on the thread that runs the expiry; a canceled delay ends the method canceled; a
// cancellation caught inside the method lets it finish; when_all / when_any awaited by a method,
// and the timeout pattern. Every timer runs on a ManualClock wheel whose expiries go to a queue the
// test drains by hand: no sleeps (ported from tests/fiber/test_fiber_time.cpp and
// tests/time/test_delay.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"
#include "queue_scheduler.hpp"

using namespace std::chrono_literals;

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;

// TimeMethods — installs a ManualClock wheel posting to `queue_` as TimerWheel::current().
template <class S>
class TimeMethods : public duet::testing::DuetTest {
 protected:
  ~TimeMethods() override {
    scope_.reset();
    wheel_.reset();
  }
  void TearDown() override {
    EXPECT_EQ(wheel_->pending(), 0u) << "a timer was left in the wheel";
    duet::testing::DuetTest::TearDown();
  }

  // advance(d) — moves virtual time and runs every expiry (and what it resumes) on this thread.
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    queue_.drain();
  }
  long long now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  }

  duet::ManualClock clock_;
  duet::testing::QueueScheduler queue_;
  std::unique_ptr<duet::TimerWheel> wheel_ = std::make_unique<duet::TimerWheel>(clock_, queue_);
  std::unique_ptr<duet::TimerWheelScope> scope_ = std::make_unique<duet::TimerWheelScope>(*wheel_);
};
TYPED_TEST_SUITE(TimeMethods, AllStyles, StyleName);

// ---- delay -------------------------------------------------------------------------------------

TYPED_TEST(TimeMethods, DelaySuspendsTheMethodUntilTheManualClockReachesTheDeadline) {
  std::vector<std::string> log;
  // log("start@now"); await Delay(100); log("first@now"); await Delay(50); log("second@now");
  // return now;
  Task<long long> t = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 0) log.push_back("start@" + std::to_string(this->now_ms()));
        return duet::delay(i == 0 ? 100ms : 50ms);
      },
      [&](int i) { log.push_back((i == 0 ? "first@" : "second@") + std::to_string(this->now_ms())); },
      [&] { return this->now_ms(); });
  EXPECT_EQ(log, (std::vector<std::string>{"start@0"}));
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(this->wheel_->pending(), 1u);

  this->advance(99ms);
  EXPECT_FALSE(t.is_completed()) << "a delay never ends early";
  EXPECT_EQ(log.size(), 1u);
  this->advance(1ms);  // 100 ms: the first delay's expiry resumes the method here, on the test thread
  EXPECT_EQ(log, (std::vector<std::string>{"start@0", "first@100"}));
  EXPECT_FALSE(t.is_completed());
  this->advance(49ms);
  EXPECT_FALSE(t.is_completed());
  this->advance(1ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 150);
  EXPECT_EQ(log, (std::vector<std::string>{"start@0", "first@100", "second@150"}));
}

TYPED_TEST(TimeMethods, TheMethodResumesOnTheThreadThatRunsTheExpiry) {
  std::thread::id resumed_on;
  Task<> t = TypeParam::task(nop, [] { return duet::delay(10ms); }, [&] { resumed_on = thread_now(); });
  // The expiry is drained on another thread: the method resumes there.
  this->clock_.advance(10ms);
  std::thread drainer([&] { this->queue_.drain(); });
  const std::thread::id drainer_id = drainer.get_id();
  drainer.join();
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(resumed_on, drainer_id);
}

TYPED_TEST(TimeMethods, ZeroDelaysNeverSuspend) {
  std::vector<std::string> log;
  Task<> t = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 0) log.push_back("Before first delay");
        return duet::delay(0ms);
      },
      [&](int i) { log.push_back(i == 0 ? "Between delays" : "After second delay"); }, nop);
  EXPECT_TRUE(t.is_completed_successfully()) << "completed inside the call: no suspension";
  EXPECT_EQ(log, (std::vector<std::string>{"Before first delay", "Between delays", "After second delay"}));
  EXPECT_EQ(this->wheel_->pending(), 0u);
}

TYPED_TEST(TimeMethods, ManyMethodsWakeInDeadlineOrder) {
  std::vector<int> woke;
  std::vector<Task<>> tasks;
  for (int ms : {30, 10, 20}) {
    tasks.push_back(TypeParam::task(nop, [ms] { return duet::delay(std::chrono::milliseconds(ms)); },
                                    [&woke, ms] { woke.push_back(ms); }));
  }
  this->advance(30ms);
  for (auto& t : tasks) EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(woke, (std::vector<int>{10, 20, 30}));
}

// ---- cancellation ------------------------------------------------------------------------------

TYPED_TEST(TimeMethods, ACanceledDelayEndsTheMethodCanceled) {
  duet::CancellationTokenSource cts;
  bool after_await = false;
  Task<int> t = TypeParam::task(nop, [&] { return duet::delay(1h, cts.token()); },
                                [&] {
                                  after_await = true;
                                  return 1;
                                });
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(this->wheel_->pending(), 1u);
  cts.cancel();
  this->queue_.drain();
  EXPECT_EQ(this->wheel_->pending(), 0u) << "the canceled delay removed its timer";
  try {
    t.wait();
    FAIL() << "the method's task was not canceled";
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token()) << "the cancellation names the source's token";
  }
  EXPECT_TRUE(t.is_canceled()) << "canceled, not faulted";
  EXPECT_FALSE(after_await);
}

TYPED_TEST(TimeMethods, CancelAfterOnTheManualClockCancelsTheAwaitedDelay) {
  duet::CancellationTokenSource cts;
  std::vector<std::string> log;
  // cts.CancelAfter(250); for (10 times) { token.ThrowIfCancellationRequested();
  //                                        await Delay(100, token); log("tick@now"); }
  Task<> t = TypeParam::loop(
      10,
      [&](int i) {
        if (i == 0) cts.cancel_after(250ms);
        cts.token().throw_if_cancellation_requested();
        return duet::delay(100ms, cts.token());
      },
      [&](int) { log.push_back("tick@" + std::to_string(this->now_ms())); }, nop);
  this->advance(100ms);
  this->advance(100ms);
  EXPECT_EQ(log, (std::vector<std::string>{"tick@100", "tick@200"}));
  EXPECT_FALSE(t.is_completed());
  this->advance(50ms);  // 250 ms: cancel_after fires; the pending delay ends canceled
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(log.size(), 2u);
}

TYPED_TEST(TimeMethods, CancellationCaughtInsideTheMethodLetsItFinishNormally) {
  using S = TypeParam;
  duet::CancellationTokenSource cts;
  // try { await Delay(1h, token); return "slept"; }
  // catch (OperationCanceledException) { await Delay(5); return "canceled, cleaned up at " + now; }
  Task<std::string> t = S::template try_recover<duet::OperationCanceledError>(
      [&] { return S::task(nop, [&] { return duet::delay(1h, cts.token()); }, [] { return 0; }); },
      [](int) { return std::string("slept"); },
      [](const duet::OperationCanceledError&) {  // an await inside the handler
        return S::task(nop, [] { return duet::delay(5ms); }, [] { return 0; });
      },
      [this](const duet::OperationCanceledError&, int) {
        return "canceled, cleaned up at " + std::to_string(this->now_ms());
      });
  this->advance(10ms);
  cts.cancel();
  this->queue_.drain();
  EXPECT_FALSE(t.is_completed());
  this->advance(5ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), "canceled, cleaned up at 15");
}

TYPED_TEST(TimeMethods, AnAlreadyCanceledTokenCancelsSynchronously) {
  Task<> t = TypeParam::task(nop, [] { return duet::delay(1s, duet::CancellationToken::canceled()); }, nop);
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(this->wheel_->pending(), 0u);
}

// ---- when_all / when_any -----------------------------------------------------------------------

// work<S>(ms, v) — `async Task<int> Work(ms, v) { await Delay(ms); return v; }`.
template <class S>
Task<int> work(std::chrono::milliseconds ms, int v) {
  return S::task(nop, [ms] { return duet::delay(ms); }, [v] { return v; });
}

TYPED_TEST(TimeMethods, WhenAllAwaitedByAMethodWaitsForTheSlowest) {
  using S = TypeParam;
  long long done_at = -1;
  Task<int> t = S::task(nop, [] { return duet::when_all(work<S>(100ms, 1), work<S>(200ms, 2)); },
                        [&](std::tuple<int, int> r) {
                          done_at = this->now_ms();
                          return std::get<0>(r) + std::get<1>(r);
                        });
  this->advance(100ms);
  EXPECT_FALSE(t.is_completed());
  this->advance(100ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 3);
  EXPECT_EQ(done_at, 200) << "concurrent: the slower child's time, not the sum";
}

TYPED_TEST(TimeMethods, WhenAllOverAVectorOfMethods) {
  using S = TypeParam;
  Task<int> t = S::task(nop,
                        [] {
                          std::vector<Task<int>> parts;
                          for (int i = 1; i <= 5; ++i) parts.push_back(work<S>(std::chrono::milliseconds(10 * i), i));
                          return duet::when_all(parts);
                        },
                        [](std::vector<int> values) {
                          int sum = 0;
                          for (int v : values) sum += v;
                          return sum;
                        });
  this->advance(50ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 15);
}

TYPED_TEST(TimeMethods, AWhenAllFaultIsRethrownInsideTheMethod) {
  using S = TypeParam;
  TaskCompletionSource<int> failing;
  Task<std::string> t = S::template try_recover<std::runtime_error>(
      [&] { return duet::when_all(work<S>(10ms, 1), failing.task()); },
      [](std::tuple<int, int>) { return std::string("no error"); },
      [](const std::runtime_error&) { return duet::from_result(0); },
      [this](const std::runtime_error& e, int) {
        return std::string("caught ") + e.what() + " at " + std::to_string(this->now_ms());
      });
  failing.set_exception(std::runtime_error("boom"));
  EXPECT_FALSE(t.is_completed()) << "when_all waits for every child, also after a fault";
  this->advance(10ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), "caught boom at 10");
}

TYPED_TEST(TimeMethods, WhenAnyAwaitedByAMethodNamesTheFirst) {
  using S = TypeParam;
  // var first = await WhenAny(slow, fast); int winner = await first.Task; int loser = await slow;
  Task<int> slow = work<S>(300ms, 3);
  Task<int> fast = work<S>(100ms, 1);
  auto first = std::make_shared<duet::WhenAnyResult<int>>();
  int winner = -1, loser = -1;
  long long winner_at = -1, loser_at = -1;
  Task<int> t = S::loop(
      3,
      [=](int i) {
        if (i == 0) {
          // the when_any await, through a method of the same style that keeps its result
          return S::task(nop, [=] { return duet::when_any(slow, fast); },
                         [first](duet::WhenAnyResult<int> r) {
                           *first = r;
                           return 0;
                         });
        }
        return i == 1 ? first->task : slow;
      },
      [&](int i, int v) {
        if (i == 1) {
          winner = v;  // completed: the fast path
          winner_at = this->now_ms();
        } else if (i == 2) {
          loser = v;  // the other one was still running
          loser_at = this->now_ms();
        }
      },
      [&] { return static_cast<int>(first->index) * 100 + winner * 10 + loser; });
  this->advance(100ms);
  EXPECT_FALSE(t.is_completed());
  this->advance(200ms);
  // A later await of a completed operation is queued to the pool (issue 12, rules 2 and 3).
  ASSERT_TRUE(t.state()->wait_for(std::chrono::minutes(1)));
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 113);  // index 1, winner 1, loser 3
  EXPECT_EQ(winner_at, 100);
  EXPECT_EQ(loser_at, 300);
}

TYPED_TEST(TimeMethods, WhenAnyAsATimeout) {
  // The timeout pattern: race the operation against a delay, then cancel the delay if it lost.
  using S = TypeParam;
  TaskCompletionSource<int> reply;
  auto call_with_timeout = [&](std::chrono::milliseconds timeout) {
    auto timer_cts = std::make_shared<duet::CancellationTokenSource>();
    return S::task(nop,
                   [&reply, timeout, timer_cts] {
                     Task<> op = S::task(nop, [&reply] { return reply.task(); }, [](int) {});
                     Task<> timer = duet::delay(timeout, timer_cts->token());
                     return duet::when_any(op, timer);
                   },
                   [this, timer_cts](duet::WhenAnyResult<void> first) -> std::string {
                     if (first.index == 1) return "timed out at " + std::to_string(this->now_ms());
                     timer_cts->cancel();  // the timer lost: remove it from the wheel
                     return "replied";
                   });
  };
  Task<std::string> slow = call_with_timeout(50ms);
  this->advance(50ms);
  ASSERT_TRUE(slow.is_completed_successfully());
  EXPECT_EQ(slow.result(), "timed out at 50");

  Task<std::string> quick = call_with_timeout(50ms);
  reply.set_result(7);  // also finishes the first call's abandoned operation
  // Two methods await `reply`: only the first resumes inline, the other is queued (rule 3).
  ASSERT_TRUE(quick.state()->wait_for(std::chrono::minutes(1)));
  ASSERT_TRUE(quick.is_completed_successfully());
  EXPECT_EQ(quick.result(), "replied");
  EXPECT_EQ(this->wheel_->pending(), 0u) << "the losing timer was canceled";
}

}  // namespace
}  // namespace semantic

// ---- issue 12: .NET fidelity rules 4 and 6, inside async methods ----------------------------------

namespace semantic::issue12 {

// Rule 4: a register_callback made inside a method runs, when a later cancel() fires it from
// outside, with the method's AsyncLocal values of registration time; unsafe_register captures
// nothing and sees the canceling thread's values.
template <class S>
class Rule4 : public duet::testing::DuetTest {};
TYPED_TEST_SUITE(Rule4, AllStyles, StyleName);

TYPED_TEST(Rule4, Rule4_RegistrationsCaptureTheExecutionContext) {
  duet::AsyncLocal<int> al;
  duet::CancellationTokenSource cts;
  std::vector<int> seen;
  duet::CancellationRegistration flowing, unsafe;
  TaskCompletionSource<int> tcs;
  // al = 7; flowing = token.Register(() => seen.Add(al)); unsafe = token.UnsafeRegister(...);
  // return await tcs.Task;
  Task<int> t = TypeParam::task(
      [&] {
        al.set_value(7);
        flowing = cts.token().register_callback([&] { seen.push_back(al.value()); });
        unsafe = cts.token().unsafe_register([&] { seen.push_back(100 + al.value()); });
      },
      [&] { return tcs.task(); }, [](int v) { return v; });
  EXPECT_EQ(al.value(), 0) << "the method's value stays inside the method";
  al.set_value(3);  // the canceling thread's own value
  cts.cancel();
  al.set_value(0);
  EXPECT_EQ(seen, (std::vector<int>{103, 7})) << "LIFO: unsafe (canceler's 3), then flowing (7)";
  tcs.set_result(5);
  EXPECT_EQ(t.result(), 5);
}

// Rule 6: a ManualClock that starts off a millisecond boundary; the wheel is built on it.
template <class S>
class Rule6 : public duet::testing::DuetTest {
 protected:
  ~Rule6() override {
    scope_.reset();
    wheel_.reset();
  }
  duet::ManualClock clock_{std::chrono::microseconds(500)};
  duet::testing::QueueScheduler queue_;
  std::unique_ptr<duet::TimerWheel> wheel_ = std::make_unique<duet::TimerWheel>(clock_, queue_);
  std::unique_ptr<duet::TimerWheelScope> scope_ = std::make_unique<duet::TimerWheelScope>(*wheel_);
};
TYPED_TEST_SUITE(Rule6, AllStyles, StyleName);

TYPED_TEST(Rule6, Rule6_DelayCompletesExactlyAtTheDeadlineFromAnOffTickStart) {
  // await Task.Delay(100); return now;
  Task<long long> t = TypeParam::task(nop, [] { return duet::delay(100ms); }, [&] {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::microseconds>(this->clock_.now()).count());
  });
  this->clock_.advance(std::chrono::microseconds(99'999));
  this->queue_.drain();
  EXPECT_FALSE(t.is_completed()) << "never early";
  this->clock_.advance(std::chrono::microseconds(1));  // exactly +100 ms
  this->queue_.drain();
  ASSERT_TRUE(t.is_completed()) << "complete at exactly +100 ms, not at the next whole ms";
  EXPECT_EQ(t.result(), 100'500);
}

TYPED_TEST(Rule6, Rule6_ZeroTimeoutSourceIsCanceledBeforeTheMethodAwaits) {
  // var cts = new CancellationTokenSource(0); try { await Task.Delay(1h, cts.Token); } catch
  // (OperationCanceledException) { return -1; } return 0;
  std::unique_ptr<duet::CancellationTokenSource> cts;
  Task<int> t = TypeParam::template try_recover<duet::OperationCanceledError>(
      [&] {
        cts = std::make_unique<duet::CancellationTokenSource>(0ms);
        EXPECT_TRUE(cts->is_cancellation_requested()) << "canceled when the constructor returned";
        return TypeParam::task(nop, [&] { return duet::delay(1h, cts->token()); }, [] { return 0; });
      },
      [](int) { return 0; }, [](const duet::OperationCanceledError&) { return duet::from_result(0); },
      [](const duet::OperationCanceledError&, int) { return -1; });
  ASSERT_TRUE(t.is_completed()) << "the delay was canceled synchronously";
  EXPECT_EQ(t.result(), -1);
  EXPECT_EQ(this->wheel_->pending(), 0u);
}

TYPED_TEST(Rule6, Rule6_InfiniteTimeoutMeansNoTimerUntilCanceled) {
  // var cts = new CancellationTokenSource(Infinite); cts.CancelAfter(10); cts.CancelAfter(Infinite);
  // await Task.Delay(Infinite, cts.Token) — only cancel() ends it.
  duet::CancellationTokenSource cts(duet::k_infinite_timeout);
  cts.cancel_after(10ms);
  cts.cancel_after(duet::k_infinite_timeout);  // disarms the pending timer
  EXPECT_EQ(this->wheel_->pending(), 0u);
  Task<int> t = TypeParam::template try_recover<duet::OperationCanceledError>(
      [&] {
        return TypeParam::task(nop, [&] { return duet::delay(duet::k_infinite_timeout, cts.token()); },
                               [] { return 0; });
      },
      [](int) { return 0; },
      [](const duet::OperationCanceledError&) { return duet::from_result(0); },
      [](const duet::OperationCanceledError&, int) { return -1; });
  this->clock_.advance(24h);
  this->queue_.drain();
  EXPECT_FALSE(t.is_completed());
  EXPECT_FALSE(cts.is_cancellation_requested());
  cts.cancel();
  this->queue_.drain();
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), -1);
}

}  // namespace semantic::issue12
