// test_fiber_time.cpp — the fiber style with time, cancellation and composition: delay() on a
// manual clock, a canceled delay ending the fiber's task canceled, when_all / when_any awaited from
// a fiber. Every timer runs on a ManualClock wheel (TimerWheelScope) whose expiries go to a queue
// the test drains by hand, so each fiber resumes on the test thread at a known instant.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

using namespace std::chrono_literals;

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::fiber::async;

// QueueScheduler — collects the wheel's expiries; drain() runs them on the calling thread.
class QueueScheduler final : public duet::Scheduler {
 public:
  void post(duet::Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    queue_.push_back(&c);
  }
  // drain() — runs everything queued, including what the items queue; returns the count.
  std::size_t drain() {
    std::size_t n = 0;
    for (;;) {
      duet::Continuation* c;
      {
        std::lock_guard<std::mutex> lk(mutex_);
        if (queue_.empty()) return n;
        c = queue_.front();
        queue_.pop_front();
      }
      duet::run_continuation(c);
      ++n;
    }
  }

 private:
  std::mutex mutex_;
  std::deque<duet::Continuation*> queue_;
};

// FiberTimeTest — installs a ManualClock wheel posting to `queue_` as TimerWheel::current().
class FiberTimeTest : public ::testing::Test {
 protected:
  ~FiberTimeTest() override {
    scope_.reset();
    wheel_.reset();
  }
  void TearDown() override { EXPECT_EQ(wheel_->pending(), 0u) << "a timer was left in the wheel"; }

  // advance(d) — moves virtual time and runs every expiry (and what it resumes) on this thread.
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    queue_.drain();
  }
  long long now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now()).count();
  }

  duet::ManualClock clock_;
  QueueScheduler queue_;
  std::unique_ptr<duet::TimerWheel> wheel_ = std::make_unique<duet::TimerWheel>(clock_, queue_);
  std::unique_ptr<duet::TimerWheelScope> scope_ = std::make_unique<duet::TimerWheelScope>(*wheel_);
};

// this_thread_id() — std::this_thread::get_id() the optimiser cannot merge across an await (see
// "Fibers migrate" in duet/fiber/fiber.hpp).
[[gnu::noinline]] std::thread::id this_thread_id() {
  asm volatile("" ::: "memory");
  return std::this_thread::get_id();
}

// ---- delay ---------------------------------------------------------------------------------

TEST_F(FiberTimeTest, DelaySuspendsTheFiberUntilTheManualClockReachesTheDeadline) {
  std::vector<std::string> log;
  Task<long long> t = async([&] {
    log.push_back("start@" + std::to_string(now_ms()));
    duet::await(duet::delay(100ms));
    log.push_back("first@" + std::to_string(now_ms()));
    duet::await(duet::delay(50ms));
    log.push_back("second@" + std::to_string(now_ms()));
    return now_ms();
  });
  EXPECT_EQ(log, (std::vector<std::string>{"start@0"}));
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(wheel_->pending(), 1u);

  advance(99ms);
  EXPECT_FALSE(t.is_completed()) << "a delay never ends early";
  EXPECT_EQ(log.size(), 1u);
  advance(1ms);  // 100 ms: the first delay's expiry resumes the fiber here, on the test thread
  EXPECT_EQ(log, (std::vector<std::string>{"start@0", "first@100"}));
  EXPECT_FALSE(t.is_completed());
  advance(49ms);
  EXPECT_FALSE(t.is_completed());
  advance(1ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 150);
  EXPECT_EQ(log, (std::vector<std::string>{"start@0", "first@100", "second@150"}));
}

TEST_F(FiberTimeTest, TheFiberResumesOnTheThreadThatRunsTheExpiry) {
  std::thread::id resumed_on;
  Task<> t = async([&] {
    duet::await(duet::delay(10ms));
    resumed_on = this_thread_id();
  });
  // The expiry is drained on another thread: the fiber migrates there.
  clock_.advance(10ms);
  std::thread drainer([&] { queue_.drain(); });
  const std::thread::id drainer_id = drainer.get_id();
  drainer.join();
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(resumed_on, drainer_id);
}

TEST_F(FiberTimeTest, ZeroDelayTakesTheFastPathWithoutSwitching) {
  std::uint64_t switches = 1;
  Task<> t = async([&] {
    const std::uint64_t before = duet::fiber::detail::thread_switch_count();
    duet::await(duet::delay(0ms));
    switches = duet::fiber::detail::thread_switch_count() - before;
  });
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(switches, 0u);
}

TEST_F(FiberTimeTest, ManyFibersWakeInDeadlineOrder) {
  std::vector<int> woke;
  std::vector<Task<>> tasks;
  for (int ms : {30, 10, 20}) {
    tasks.push_back(async([&woke, ms] {
      duet::await(duet::delay(std::chrono::milliseconds(ms)));
      woke.push_back(ms);
    }));
  }
  advance(30ms);
  for (auto& t : tasks) EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(woke, (std::vector<int>{10, 20, 30}));
}

// ---- cancellation --------------------------------------------------------------------------

TEST_F(FiberTimeTest, CanceledDelayInsideAFiberEndsTheFibersTaskCanceled) {
  duet::CancellationTokenSource cts;
  bool after_await = false;
  Task<int> t = async([&]() -> int {
    duet::await(duet::delay(1h, cts.token()));
    after_await = true;
    return 1;
  });
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(wheel_->pending(), 1u);
  cts.cancel();
  queue_.drain();
  EXPECT_EQ(wheel_->pending(), 0u) << "the canceled delay removed its timer";
  try {
    t.wait();
    FAIL() << "the fiber's task was not canceled";
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token()) << "the cancellation names the source's token";
  }
  EXPECT_TRUE(t.is_canceled()) << "canceled, not faulted";
  EXPECT_FALSE(after_await);
}

TEST_F(FiberTimeTest, CancelAfterOnTheManualClockCancelsTheAwaitedDelay) {
  duet::CancellationTokenSource cts;
  std::vector<std::string> log;
  Task<> t = async([&] {
    cts.cancel_after(250ms);
    for (int i = 0; i < 10; ++i) {
      cts.token().throw_if_cancellation_requested();
      duet::await(duet::delay(100ms, cts.token()));
      log.push_back("tick@" + std::to_string(now_ms()));
    }
  });
  advance(100ms);
  advance(100ms);
  EXPECT_EQ(log, (std::vector<std::string>{"tick@100", "tick@200"}));
  EXPECT_FALSE(t.is_completed());
  advance(50ms);  // 250 ms: cancel_after fires; the pending delay ends canceled
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(log.size(), 2u);
}

TEST_F(FiberTimeTest, CancellationCaughtInsideTheFiberLetsItFinishNormally) {
  duet::CancellationTokenSource cts;
  Task<std::string> t = async([&]() -> std::string {
    try {
      duet::await(duet::delay(1h, cts.token()));
      return "slept";
    } catch (const duet::OperationCanceledError&) {
      duet::await(duet::delay(5ms));  // an await inside the handler, after the cancellation
      return "canceled, cleaned up at " + std::to_string(now_ms());
    }
  });
  advance(10ms);
  cts.cancel();
  queue_.drain();
  EXPECT_FALSE(t.is_completed());
  advance(5ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), "canceled, cleaned up at 15");
}

TEST_F(FiberTimeTest, AlreadyCanceledTokenCancelsSynchronously) {
  Task<> t = async([] { duet::await(duet::delay(1s, duet::CancellationToken::canceled())); });
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(wheel_->pending(), 0u);
}

// ---- when_all / when_any -------------------------------------------------------------------

// work(ms, v) — a fiber that sleeps `ms` of virtual time and returns v.
Task<int> work(std::chrono::milliseconds ms, int v) {
  return async([ms, v] {
    duet::await(duet::delay(ms));
    return v;
  });
}

TEST_F(FiberTimeTest, WhenAllAwaitedFromAFiberWaitsForTheSlowest) {
  long long done_at = -1;
  Task<int> t = async([&] {
    auto [a, b] = duet::await(duet::when_all(work(100ms, 1), work(200ms, 2)));
    done_at = now_ms();
    return a + b;
  });
  advance(100ms);
  EXPECT_FALSE(t.is_completed());
  advance(100ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 3);
  EXPECT_EQ(done_at, 200) << "concurrent: the slower child's time, not the sum";
}

TEST_F(FiberTimeTest, WhenAllOverAVectorOfFibers) {
  Task<int> t = async([] {
    std::vector<Task<int>> parts;
    for (int i = 1; i <= 5; ++i) parts.push_back(work(std::chrono::milliseconds(10 * i), i));
    std::vector<int> values = duet::await(duet::when_all(parts));
    int sum = 0;
    for (int v : values) sum += v;
    return sum;
  });
  advance(50ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 15);
}

TEST_F(FiberTimeTest, WhenAllFaultRethrowsInsideTheFiber) {
  TaskCompletionSource<int> failing;
  Task<std::string> t = async([&]() -> std::string {
    try {
      duet::await(duet::when_all(work(10ms, 1), failing.task()));
      return "no error";
    } catch (const std::runtime_error& e) {
      return std::string("caught ") + e.what() + " at " + std::to_string(now_ms());
    }
  });
  failing.set_exception(std::runtime_error("boom"));
  EXPECT_FALSE(t.is_completed()) << "when_all waits for every child, also after a fault";
  advance(10ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), "caught boom at 10");
}

TEST_F(FiberTimeTest, WhenAnyAwaitedFromAFiberNamesTheFirst) {
  Task<int> t = async([&] {
    Task<int> slow = work(300ms, 3);
    Task<int> fast = work(100ms, 1);
    duet::WhenAnyResult<int> first = duet::await(duet::when_any(slow, fast));
    const int winner = duet::await(first.task);  // completed: the fast path
    EXPECT_EQ(now_ms(), 100);
    const int loser = duet::await(slow);          // the other one is still running
    EXPECT_EQ(now_ms(), 300);
    return static_cast<int>(first.index) * 100 + winner * 10 + loser;
  });
  advance(100ms);
  EXPECT_FALSE(t.is_completed());
  advance(200ms);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 113);  // index 1, winner 1, loser 3
}

TEST_F(FiberTimeTest, WhenAnyAsATimeout) {
  // The timeout pattern: race the operation against a delay, then cancel the delay if it lost.
  TaskCompletionSource<int> reply;
  auto call_with_timeout = [&](std::chrono::milliseconds timeout) {
    return async([this, &reply, timeout]() -> std::string {
      duet::CancellationTokenSource timer_cts;
      Task<> op = async([&reply] { duet::await(reply.task()); });
      Task<> timer = duet::delay(timeout, timer_cts.token());
      const auto first = duet::await(duet::when_any(op, timer));
      if (first.index == 1) return "timed out at " + std::to_string(now_ms());
      timer_cts.cancel();  // the timer lost: remove it from the wheel
      return "replied";
    });
  };
  Task<std::string> slow = call_with_timeout(50ms);
  advance(50ms);
  ASSERT_TRUE(slow.is_completed_successfully());
  EXPECT_EQ(slow.result(), "timed out at 50");

  Task<std::string> quick = call_with_timeout(50ms);
  reply.set_result(7);  // also finishes the first call's abandoned operation
  ASSERT_TRUE(quick.is_completed_successfully());
  EXPECT_EQ(quick.result(), "replied");
  EXPECT_EQ(wheel_->pending(), 0u) << "the losing timer was canceled";
}

}  // namespace
