// test_deadlock.cpp — the sync-over-async deadlock: detected (DeadlockError) when the owner of a
// SingleThreadContext blocks on a task that needs a continuation queued to that context, and
// never reported when the wait can end.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include <duet/duet.hpp>

#include "context_machines.hpp"

using ctx_test::async_await;
using ctx_test::Nothing;

namespace {

struct DeadlockTest : ::testing::Test {
  duet::SingleThreadContext ui;

  // complete_once_blocked(tcs) — completes `tcs` from another thread only after the UI thread is
  // blocked in wait()/result(), so the continuation is posted while the owner waits.
  std::thread complete_once_blocked(duet::TaskCompletionSource<int>& tcs) {
    return std::thread([this, &tcs] {
      ctx_test::wait_until([&] { return ui.is_owner_blocked(); });
      tcs.set_result(1);
    });
  }
};

// get_value(tcs, capture) — `async Task<int> GetValueAsync() { return await tcs.Task + 1; }`,
// awaiting with or without the captured context.
duet::Task<int> get_value(duet::TaskCompletionSource<int>& tcs, bool capture) {
  return async_await(Nothing{}, [&tcs, capture] { return tcs.task().configure_await(capture); },
                     [](int v) { return v + 1; });
}

TEST_F(DeadlockTest, ResultOnTheUiThreadThrowsWhenTheContinuationIsPostedLater) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = get_value(tcs, true);
  std::thread completer = complete_once_blocked(tcs);
  std::string message;
  try {
    (void)t.result();
    ADD_FAILURE() << "result() returned: no deadlock was detected";
  } catch (const duet::DeadlockError& e) {
    message = e.what();
  }
  completer.join();
  // The message names the cycle and both fixes.
  EXPECT_NE(message.find("sync-over-async deadlock"), std::string::npos) << message;
  EXPECT_NE(message.find("await the task instead of blocking"), std::string::npos) << message;
  EXPECT_NE(message.find("configure_await(false)"), std::string::npos) << message;
  // Nothing is lost: the continuation is still queued and completes the task when pumped.
  EXPECT_FALSE(t.is_completed());
  ui.run_until(t);
  EXPECT_EQ(t.result(), 2);
}

TEST_F(DeadlockTest, WaitOnTheUiThreadThrowsWhenTheContinuationIsAlreadyQueued) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = get_value(tcs, true);
  std::thread([&] { tcs.set_result(1); }).join();  // posted to the loop before the wait starts
  EXPECT_EQ(ui.pending_count(), 1u);
  EXPECT_THROW(t.wait(), duet::DeadlockError);
  ui.run_until(t);
  EXPECT_EQ(t.result(), 2);
}

TEST_F(DeadlockTest, DetectedThroughAChainOfMethods) {
  // ui_handler -> middle -> get_value: the continuation posted is get_value's; the UI thread
  // blocks on ui_handler, two owners up the chain.
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto middle = [&] { return async_await(Nothing{}, [&] { return get_value(tcs, true); },
                                         [](int v) { return v * 10; }); };
  auto handler = async_await(Nothing{}, middle, [](int v) { return v + 5; });
  std::thread completer = complete_once_blocked(tcs);
  EXPECT_THROW((void)handler.result(), duet::DeadlockError);
  completer.join();
  ui.run_until(handler);
  EXPECT_EQ(handler.result(), 25);
}

TEST_F(DeadlockTest, ConfigureAwaitFalseDownTheChainFixesIt) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto middle = [&] {
    return async_await(Nothing{}, [&] { return get_value(tcs, false).configure_await(false); },
                       [](int v) { return v * 10; });
  };
  auto handler = async_await(Nothing{}, [&] { return middle().configure_await(false); },
                             [](int v) { return v + 5; });
  std::thread completer = complete_once_blocked(tcs);
  EXPECT_EQ(handler.result(), 25);  // blocking works: no continuation needs the UI thread
  completer.join();
  EXPECT_EQ(ui.pending_count(), 0u);
}

TEST_F(DeadlockTest, BlockingFromAPoolThreadWorks) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = get_value(tcs, true);  // its continuation must run on the UI loop
  auto blocker = duet::run([t] { return t.result(); });  // a pool thread blocks on it
  duet::run([&] { tcs.set_result(1); }).wait();
  ui.run_until(blocker);  // the UI thread pumps; the pool thread's wait ends
  EXPECT_EQ(blocker.result(), 2);
}

TEST_F(DeadlockTest, BlockingOnAThreadThatIsNotTheOwnerWorks) {
  ui.run_until_empty();  // this thread owns the loop
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = get_value(tcs, true);
  std::atomic<int> got{0};
  std::thread other([&] {
    duet::SyncContextScope other_scope(&ui);  // same context current, but not its owner
    got = t.result();
    ui.complete();
  });
  duet::run([&] { tcs.set_result(1); }).wait();  // the continuation is posted to the loop
  ui.run();  // the owner pumps it; the other thread's wait ends normally
  other.join();
  EXPECT_EQ(got.load(), 2);
}

TEST_F(DeadlockTest, BlockingOnATaskThatDoesNotNeedTheContextWorks) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = duet::run([&] { return tcs.task().result() * 3; });  // pool work, no context
  std::thread completer([&] { tcs.set_result(2); });
  EXPECT_EQ(t.result(), 6);
  completer.join();
}

TEST_F(DeadlockTest, AnUnrelatedQueuedContinuationIsNoFalsePositive) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> unrelated_tcs, tcs;
  auto unrelated = get_value(unrelated_tcs, true);
  std::thread([&] { unrelated_tcs.set_result(1); }).join();  // its continuation is queued here
  ASSERT_EQ(ui.pending_count(), 1u);
  // Block on a task that needs nothing from the loop; it completes from another thread both
  // before and after the wait starts, and the loop's queue keeps the unrelated item.
  auto pool_task = duet::run([&] { return tcs.task().result(); });
  std::thread completer = complete_once_blocked(tcs);
  EXPECT_EQ(pool_task.result(), 1);
  completer.join();
  ui.run_until(unrelated);
  EXPECT_EQ(unrelated.result(), 2);
}

TEST_F(DeadlockTest, WhenAnyWithOneChildNeedingTheLoopIsNoFalsePositive) {
  // One child's continuation waits on the UI loop, but when_any can complete through the other
  // child: blocking on it must work (its nodes carry no owner: it does not need every child).
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> slow, fast;
  auto needs_ui = get_value(slow, true);
  auto other = get_value(fast, false);
  auto any = duet::when_any(needs_ui, other);
  std::thread([&] { slow.set_result(1); }).join();  // needs_ui's continuation is queued here
  ASSERT_EQ(ui.pending_count(), 1u);
  std::atomic<bool> returned{false};
  std::thread completer([&] {
    ctx_test::wait_until([&] { return ui.is_owner_blocked() || returned.load(); });
    fast.set_result(2);  // completes `other`, hence `any`
  });
  std::size_t index = 99;
  try {
    index = any.result().index;
  } catch (const duet::DeadlockError&) {
    ADD_FAILURE() << "false positive: when_any can complete through its other child";
  }
  returned = true;
  completer.join();
  EXPECT_EQ(index, 1u);
  ui.run_until(needs_ui);
  EXPECT_EQ(needs_ui.result(), 2);
}

TEST_F(DeadlockTest, WhenAllOfAChildNeedingTheLoopIsDetected) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> a, b;
  auto needs_ui = get_value(a, true);
  auto other = get_value(b, false);
  auto all = duet::when_all(needs_ui, other);
  b.set_result(0);
  std::thread completer = complete_once_blocked(a);
  EXPECT_THROW(all.wait(), duet::DeadlockError);
  completer.join();
  ui.run_until(all);
  EXPECT_NO_THROW(all.wait());
}

TEST_F(DeadlockTest, BlockingOnACompletedTaskNeverConsultsTheContext) {
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<int> tcs;
  auto t = get_value(tcs, true);
  tcs.set_result(4);  // completes on this (the UI) thread: the continuation ran inline
  EXPECT_EQ(t.result(), 5);
}

}  // namespace
