// test_cancellation.cpp — CancellationTokenSource / CancellationToken / CancellationRegistration
// against .NET's semantics; cancel_after on a ManualClock wheel.
#include <atomic>
#include <semaphore>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "time_test_support.hpp"

using namespace std::chrono_literals;
using duet::CancellationToken;
using duet::CancellationTokenSource;

namespace {

TEST(CancellationToken, NoneCannotBeCanceled) {
  CancellationToken none;
  EXPECT_FALSE(none.can_be_canceled());
  EXPECT_FALSE(none.is_cancellation_requested());
  EXPECT_NO_THROW(none.throw_if_cancellation_requested());
  bool ran = false;
  auto reg = none.register_callback([&] { ran = true; });
  EXPECT_FALSE(reg.valid());
  EXPECT_FALSE(ran);
  EXPECT_EQ(none, CancellationToken::none());
}

TEST(CancellationToken, ThrowIfCancellationRequestedCarriesTheToken) {
  CancellationTokenSource cts;
  auto token = cts.token();
  EXPECT_TRUE(token.can_be_canceled());
  EXPECT_NO_THROW(token.throw_if_cancellation_requested());
  cts.cancel();
  EXPECT_TRUE(token.is_cancellation_requested());
  EXPECT_TRUE(cts.is_cancellation_requested());
  try {
    token.throw_if_cancellation_requested();
    FAIL() << "expected OperationCanceledError";
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), token);
    EXPECT_TRUE(e.token().is_cancellation_requested());
  }
  EXPECT_TRUE(CancellationToken::canceled().is_cancellation_requested());
}

TEST(CancellationToken, CallbacksRunOnceLastRegisteredFirst) {
  CancellationTokenSource cts;
  std::vector<int> order;
  auto r1 = cts.token().register_callback([&] { order.push_back(1); });
  auto r2 = cts.token().register_callback([&] { order.push_back(2); });
  auto r3 = cts.token().register_callback([&] { order.push_back(3); });
  cts.cancel();
  cts.cancel();  // idempotent
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));
}

TEST(CancellationToken, RegisterOnCanceledTokenRunsAtOnce) {
  CancellationTokenSource cts;
  cts.cancel();
  bool ran = false;
  auto reg = cts.token().register_callback([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_FALSE(reg.valid());
  // Exceptions of an immediate callback reach the registering caller.
  EXPECT_THROW((void)cts.token().register_callback([] { throw std::runtime_error("now"); }),
               std::runtime_error);
}

TEST(CancellationToken, RegisterDuringCancelRunsAtOnce) {
  CancellationTokenSource cts;
  bool inner_ran = false;
  duet::CancellationRegistration inner;
  auto outer = cts.token().register_callback([&] {
    inner = cts.token().register_callback([&] { inner_ran = true; });
    EXPECT_TRUE(inner_ran) << "registered while notifying: runs synchronously";
  });
  cts.cancel();
  EXPECT_TRUE(inner_ran);
}

TEST(CancellationToken, CallbackExceptionsAreAggregatedAfterAllRan) {
  CancellationTokenSource cts;
  int ran = 0;
  auto r1 = cts.token().register_callback([&] { ++ran; throw std::runtime_error("first registered"); });
  auto r2 = cts.token().register_callback([&] { ++ran; });
  auto r3 = cts.token().register_callback([&] { ++ran; throw std::logic_error("last registered"); });
  try {
    cts.cancel();
    FAIL() << "expected AggregateError";
  } catch (const duet::AggregateError& e) {
    ASSERT_EQ(e.inner_exceptions().size(), 2u);
    EXPECT_EQ(duet::describe(e.inner_exceptions()[0]), "last registered");
    EXPECT_EQ(duet::describe(e.inner_exceptions()[1]), "first registered");
  }
  EXPECT_EQ(ran, 3);
  EXPECT_TRUE(cts.is_cancellation_requested());
}

TEST(CancellationRegistration, DisposeUnregisters) {
  CancellationTokenSource cts;
  bool a = false, b = false;
  auto ra = cts.token().register_callback([&] { a = true; });
  {
    auto rb = cts.token().register_callback([&] { b = true; });
  }  // destroyed: unregistered
  EXPECT_TRUE(ra.dispose());
  EXPECT_FALSE(ra.dispose()) << "idempotent";
  cts.cancel();
  EXPECT_FALSE(a);
  EXPECT_FALSE(b);
}

TEST(CancellationRegistration, DisposeAfterTheCallbackRanReturnsFalse) {
  CancellationTokenSource cts;
  int n = 0;
  auto r = cts.token().register_callback([&] { ++n; });
  cts.cancel();
  EXPECT_FALSE(r.dispose());
  EXPECT_EQ(n, 1);
}

TEST(CancellationRegistration, DisposeFromInsideItsOwnCallbackDoesNotWait) {
  CancellationTokenSource cts;
  duet::CancellationRegistration reg;
  bool ran = false;
  reg = cts.token().register_callback([&] {
    EXPECT_FALSE(reg.dispose());
    ran = true;
  });
  cts.cancel();
  EXPECT_TRUE(ran);
}

// .NET: disposing a registration whose callback is running on another thread waits for it.
TEST(CancellationRegistration, DisposeWaitsForACallbackRunningOnAnotherThread) {
  CancellationTokenSource cts;
  std::atomic<int> phase{0};  // 1: callback entered, 2: disposer about to dispose
  std::atomic<bool> disposed{false};
  bool disposed_seen_inside = false;
  auto reg = std::make_unique<duet::CancellationRegistration>(cts.token().register_callback([&] {
    phase.store(1);
    phase.notify_all();
    while (phase.load() != 2) std::this_thread::yield();
    for (int i = 0; i < 2000; ++i) {  // the disposer is (or is about to be) inside dispose()
      if (disposed.load()) disposed_seen_inside = true;
      std::this_thread::yield();
    }
  }));
  std::thread canceler([&] { cts.cancel(); });
  phase.wait(0);
  phase.store(2);
  reg->dispose();
  disposed.store(true);
  canceler.join();
  EXPECT_FALSE(disposed_seen_inside) << "dispose() returned while the callback was still running";
}

TEST(CancellationTokenSource, OperationCanceledErrorFromRunWithoutATokenFaultsTheTask) {
  // run(fn) has no token of its own, so fn's OperationCanceledError is a fault (issue 12, rule
  // 7; .NET's Task.Run without a token); the error still carries the token that was canceled.
  CancellationTokenSource cts;
  cts.cancel();
  auto token = cts.token();
  auto t = duet::run([token] { token.throw_if_cancellation_requested(); });
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
  EXPECT_TRUE(t.is_faulted());
  try {
    std::rethrow_exception(t.exception());
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), token);
  }
}

TEST(CancellationTokenSource, LinkedSourceFollowsItsParents) {
  CancellationTokenSource a, b;
  auto linked = CancellationTokenSource::create_linked(a.token(), b.token());
  bool ran = false;
  auto reg = linked.token().register_callback([&] { ran = true; });
  EXPECT_FALSE(linked.is_cancellation_requested());
  b.cancel();
  EXPECT_TRUE(linked.is_cancellation_requested());
  EXPECT_TRUE(ran);
  EXPECT_FALSE(a.is_cancellation_requested()) << "cancellation flows parent -> child only";
}

TEST(CancellationTokenSource, LinkedToACanceledTokenIsCanceledAtOnce) {
  CancellationTokenSource a;
  a.cancel();
  auto linked = CancellationTokenSource::create_linked(CancellationToken::none(), a.token());
  EXPECT_TRUE(linked.is_cancellation_requested());
}

TEST(CancellationTokenSource, DestroyedLinkedSourceUnregistersFromItsParent) {
  CancellationTokenSource parent;
  CancellationToken child_token;
  {
    auto linked = CancellationTokenSource::create_linked(parent.token());
    child_token = linked.token();
  }
  parent.cancel();
  EXPECT_FALSE(child_token.is_cancellation_requested());
}

TEST(CancellationTokenSource, MovedFromSourceThrows) {
  CancellationTokenSource a;
  CancellationTokenSource b = std::move(a);
  EXPECT_THROW((void)a.token(), duet::InvalidOperationError);  // NOLINT(bugprone-use-after-move)
  EXPECT_NO_THROW(b.cancel());
}

// cancel_after runs on a ManualClock wheel whose expiries the test drains by hand.
struct CancelAfterTest : ::testing::Test {
  duet::ManualClock clock;
  duet::testing::QueueScheduler sched;
  duet::TimerWheel wheel{clock, sched};
  void advance(std::chrono::nanoseconds d) {
    clock.advance(d);
    sched.drain();
  }
};

TEST_F(CancelAfterTest, CancelsWhenTheTimerFires) {
  CancellationTokenSource cts;
  int ran = 0;
  auto reg = cts.token().register_callback([&] { ++ran; });
  cts.cancel_after(wheel, 100ms);
  advance(99ms);
  EXPECT_FALSE(cts.is_cancellation_requested());
  advance(1ms);
  EXPECT_TRUE(cts.is_cancellation_requested());
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(wheel.pending(), 0u);
}

// Misuse with no caller: a callback that throws when cancel_after's timer cancels the source.
// The timer thread cannot rethrow it, so the unhandled-exception handler gets it exactly once,
// as an AggregateError whose message names the rule (the inner exceptions are kept).
TEST_F(CancelAfterTest, ACallbackThatThrowsIsReportedOnceNamingTheRule) {
  duet::testing::UnhandledRecorder unhandled;
  CancellationTokenSource cts;
  int ran = 0;
  auto r1 = cts.token().register_callback([&] { ++ran; throw std::runtime_error("callback threw"); });
  auto r2 = cts.token().register_callback([&] { ++ran; });
  cts.cancel_after(wheel, 10ms);
  advance(10ms);
  EXPECT_EQ(ran, 2) << "the other callbacks still run";
  ASSERT_EQ(unhandled.count(), 1);
  const std::string m = unhandled.messages()[0];
  EXPECT_EQ(m.rfind("a cancellation callback threw while cancel_after's timer canceled its source", 0), 0u) << m;
  EXPECT_NE(m.find("callback threw"), std::string::npos) << m;
}

TEST_F(CancelAfterTest, ALaterCallReArmsTheTimer) {
  CancellationTokenSource cts;
  cts.cancel_after(wheel, 100ms);
  cts.cancel_after(wheel, 200ms);
  EXPECT_EQ(wheel.pending(), 1u);
  advance(150ms);
  EXPECT_FALSE(cts.is_cancellation_requested());
  advance(50ms);
  EXPECT_TRUE(cts.is_cancellation_requested());
}

TEST_F(CancelAfterTest, ManualCancelRemovesTheTimer) {
  CancellationTokenSource cts;
  cts.cancel_after(wheel, 1h);
  cts.cancel();
  EXPECT_EQ(wheel.pending(), 0u);
  cts.cancel_after(wheel, 1ms);  // no-op once canceled
  EXPECT_EQ(wheel.pending(), 0u);
}

TEST_F(CancelAfterTest, DestroyingTheSourceStopsItsTimer) {
  CancellationToken token;
  {
    CancellationTokenSource cts;
    token = cts.token();
    cts.cancel_after(wheel, 10ms);
    EXPECT_EQ(wheel.pending(), 1u);
  }
  EXPECT_EQ(wheel.pending(), 0u);
  advance(1s);
  EXPECT_FALSE(token.is_cancellation_requested());
}

TEST_F(CancelAfterTest, DisposedWhileTheTimerIsFiringDoesNotCancel) {
  CancellationToken token;
  {
    CancellationTokenSource cts;
    token = cts.token();
    cts.cancel_after(wheel, 10ms);
    clock.advance(10ms);  // expiry posted, not yet run
  }
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_FALSE(token.is_cancellation_requested());
}

TEST_F(CancelAfterTest, ConstructorWithDelayUsesTheCurrentWheel) {
  duet::TimerWheelScope use(wheel);
  CancellationTokenSource cts(50ms);
  advance(50ms);
  EXPECT_TRUE(cts.is_cancellation_requested());
}

// -1 ms is k_infinite_timeout (it disarms); any other negative delay is rejected.
TEST_F(CancelAfterTest, NegativeDelayThrows) {
  CancellationTokenSource cts;
  EXPECT_THROW(cts.cancel_after(wheel, -2ms), duet::ArgumentError);
}

// ---- issue 12: .NET fidelity (rule 5, item 16) ---------------------------------------------------

class Issue12Cancellation : public duet::testing::DuetTest {};

// Rule 5: unregister() returns at once while the callback runs on another thread.
TEST_F(Issue12Cancellation, Rule5_UnregisterNeverWaits) {
  std::binary_semaphore running{0}, release{0};
  CancellationTokenSource cts;
  auto reg = cts.token().register_callback([&] {
    running.release();
    release.acquire();
  });
  std::thread canceler([&] { cts.cancel(); });
  running.acquire();
  EXPECT_FALSE(reg.unregister()) << "returns false at once (else this test deadlocks)";
  EXPECT_FALSE(reg.valid());
  release.release();
  canceler.join();  // cancel() freed the orphaned node (the leak checkers see it)
}

// Rule 5: dispose() from another thread returns only after the running callback has returned.
TEST_F(Issue12Cancellation, Rule5_DisposeWaitsForTheRunningCallback) {
  std::binary_semaphore running{0}, release{0};
  std::atomic<int> step{0};
  int callback_done_at = 0, dispose_returned_at = 0;
  CancellationTokenSource cts;
  auto reg = cts.token().register_callback([&] {
    running.release();
    release.acquire();
    callback_done_at = ++step;
  });
  std::thread canceler([&] { cts.cancel(); });
  running.acquire();
  std::thread disposer([&] {
    reg.dispose();
    dispose_returned_at = ++step;
  });
  release.release();
  disposer.join();
  canceler.join();
  EXPECT_EQ(callback_done_at, 1);
  EXPECT_EQ(dispose_returned_at, 2) << "dispose() returned before the callback finished";
}

// Rule 5: dispose() from inside the callback itself does not wait (it would deadlock).
TEST_F(Issue12Cancellation, Rule5_DisposeOnTheCallbacksOwnThreadDoesNotWait) {
  CancellationTokenSource cts;
  duet::CancellationRegistration reg;
  bool disposed_inside = false;
  reg = cts.token().register_callback([&] {
    EXPECT_FALSE(reg.dispose());
    disposed_inside = true;
  });
  cts.cancel();
  EXPECT_TRUE(disposed_inside);
}

// Item 16: cancel_async requests cancellation before it returns and runs the callbacks on the
// pool; its task completes when they have run, faulted when one threw.
TEST_F(Issue12Cancellation, Item16_CancelAsyncRunsTheCallbacksOnThePool) {
  CancellationTokenSource cts;
  std::atomic<bool> on_pool{false};
  auto reg = cts.token().register_callback([&] { on_pool = duet::is_thread_pool_thread(); });
  duet::Task<> t = cts.cancel_async();
  EXPECT_TRUE(cts.is_cancellation_requested()) << "requested before cancel_async returns";
  t.wait();
  EXPECT_TRUE(on_pool);
  EXPECT_TRUE(cts.cancel_async().is_completed_successfully()) << "already canceled: completed";

  CancellationTokenSource throwing;
  auto r2 = throwing.token().register_callback([] { throw std::runtime_error("cb"); });
  duet::Task<> f = throwing.cancel_async();
  EXPECT_THROW(f.wait(), duet::AggregateError);
  EXPECT_EQ(f.status(), duet::TaskStatus::faulted);
}

// Item 16: register_callback(fn, state) passes its own copy of the state.
TEST_F(Issue12Cancellation, Item16_RegisterWithState) {
  CancellationTokenSource cts;
  std::string got;
  auto reg = cts.token().register_callback([&](std::string& s) { got = s; }, std::string("state"));
  cts.cancel();
  EXPECT_EQ(got, "state");
  EXPECT_EQ(CancellationToken::none(), CancellationToken());
  EXPECT_FALSE(CancellationToken::none().can_be_canceled());
}

// Item 16: cancel(true) stops at the first throwing callback; the rest never run.
TEST_F(Issue12Cancellation, Item16_CancelThrowOnFirstExceptionSkipsTheRest) {
  CancellationTokenSource cts;
  bool older_ran = false;
  auto r1 = cts.token().register_callback([&] { older_ran = true; });
  auto r2 = cts.token().register_callback([] { throw std::runtime_error("first"); });
  EXPECT_THROW(cts.cancel(true), std::runtime_error);
  EXPECT_FALSE(older_ran);
  EXPECT_TRUE(cts.is_cancellation_requested());
  bool late = false;
  auto r3 = cts.token().register_callback([&] { late = true; });
  EXPECT_TRUE(late) << "a registration after the stop still runs at once";
}

}  // namespace
