// tests/semantic/test_deadlock.cpp — the sync-over-async deadlock through async methods, in every
// style: detected (DeadlockError) when the owner of a SingleThreadContext blocks on a method whose
// continuation is queued to that context, directly or through a chain of methods, and never
// reported when the wait can end; wait_any included, which throws once none of its tasks can
// complete (ported from tests/context/test_deadlock.cpp and
// tests/fiber/test_fiber_context.cpp; blocking on plain pool work stays in tests/context).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;

// wait_until(pred) — spins (yielding) until pred() holds; for another thread's state, no sleeps.
template <class Pred>
void wait_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

template <class S>
class Deadlock : public duet::testing::DuetTest {
 protected:
  duet::SingleThreadContext ui;

  // complete_once_blocked(tcs) — completes `tcs` from another thread only after the UI thread is
  // blocked in wait()/result(), so the continuation is posted while the owner waits.
  std::thread complete_once_blocked(TaskCompletionSource<int>& tcs) {
    return std::thread([this, &tcs] {
      wait_until([&] { return ui.is_owner_blocked(); });
      tcs.set_result(1);
    });
  }
};
TYPED_TEST_SUITE(Deadlock, AllStyles, StyleName);

// get_value<S>(tcs, capture) — `async Task<int> GetValueAsync() { return await tcs.Task + 1; }`,
// awaiting with or without the captured context.
template <class S>
Task<int> get_value(TaskCompletionSource<int>& tcs, bool capture) {
  return S::task(nop, [&tcs, capture] { return tcs.task().configure_await(capture); },
                 [](int v) { return v + 1; });
}

TYPED_TEST(Deadlock, ResultOnTheUiThreadThrowsWhenTheContinuationIsPostedLater) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  Task<int> t = get_value<TypeParam>(tcs, true);
  std::thread completer = this->complete_once_blocked(tcs);
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
  EXPECT_EQ(this->ui.pending_count(), 1u) << "the method's continuation stays queued";
  this->ui.run_until(t);
  EXPECT_EQ(t.result(), 2);
}

TYPED_TEST(Deadlock, WaitOnTheUiThreadThrowsWhenTheContinuationIsAlreadyQueued) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  Task<int> t = get_value<TypeParam>(tcs, true);
  std::thread([&] { tcs.set_result(1); }).join();  // posted to the loop before the wait starts
  EXPECT_EQ(this->ui.pending_count(), 1u);
  EXPECT_THROW(t.wait(), duet::DeadlockError);
  this->ui.run_until(t);
  EXPECT_EQ(t.result(), 2);
}

TYPED_TEST(Deadlock, DetectedThroughAChainOfMethods) {
  // handler -> middle -> get_value: the continuation posted is get_value's; the UI thread blocks
  // on handler, two owners up the chain.
  using S = TypeParam;
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  auto middle = [&] { return S::task(nop, [&] { return get_value<S>(tcs, true); }, [](int v) { return v * 10; }); };
  Task<int> handler = S::task(nop, middle, [](int v) { return v + 5; });
  std::thread completer = this->complete_once_blocked(tcs);
  EXPECT_THROW((void)handler.result(), duet::DeadlockError);
  completer.join();
  this->ui.run_until(handler);
  EXPECT_EQ(handler.result(), 25);
}

TYPED_TEST(Deadlock, ConfigureAwaitFalseDownTheChainFixesIt) {
  using S = TypeParam;
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  auto middle = [&] {
    return S::task(nop, [&] { return get_value<S>(tcs, false).configure_await(false); },
                   [](int v) { return v * 10; });
  };
  Task<int> handler = S::task(nop, [&] { return middle().configure_await(false); }, [](int v) { return v + 5; });
  std::thread completer = this->complete_once_blocked(tcs);
  EXPECT_EQ(handler.result(), 25);  // blocking works: no continuation needs the UI thread
  completer.join();
  EXPECT_EQ(this->ui.pending_count(), 0u);
}

TYPED_TEST(Deadlock, WaitAnyThrowsOnceEveryTaskNeedsTheUiThread) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> a, b;
  Task<int> ta = get_value<TypeParam>(a, true);
  Task<int> tb = get_value<TypeParam>(b, true);
  std::thread([&] { a.set_result(1); }).join();  // ta's continuation is queued before the wait
  std::thread completer([&] {
    wait_until([&] { return this->ui.is_owner_blocked(); });
    b.set_result(2);  // tb's too, while the owner waits: now neither task can complete
  });
  EXPECT_THROW((void)duet::wait_any(ta, tb), duet::DeadlockError);
  completer.join();
  EXPECT_EQ(this->ui.pending_count(), 2u) << "nothing lost: both continuations stay queued";
  this->ui.run_until(tb);
  EXPECT_EQ(ta.result(), 2);
  EXPECT_EQ(tb.result(), 3);
}

TYPED_TEST(Deadlock, WaitAnyBlocksNormallyWhileOneTaskCanStillComplete) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> a, b;
  Task<int> ta = get_value<TypeParam>(a, true);   // needs the UI thread
  Task<int> tb = get_value<TypeParam>(b, false);  // configure_await(false): does not
  std::thread([&] { a.set_result(1); }).join();  // ta's continuation is queued: ta is stuck
  std::thread completer([&] {
    wait_until([&] { return this->ui.is_owner_blocked(); });
    b.set_result(5);
  });
  EXPECT_EQ(duet::wait_any(ta, tb), 1) << "tb completes on the pool: no deadlock to report";
  completer.join();
  EXPECT_EQ(tb.result(), 6);
  this->ui.run_until(ta);
  EXPECT_EQ(ta.result(), 2);
}

TYPED_TEST(Deadlock, BlockingFromAPoolThreadWorks) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  Task<int> t = get_value<TypeParam>(tcs, true);         // its continuation must run on the UI loop
  Task<int> blocker = duet::run([t] { return t.result(); });  // a pool thread blocks on it
  duet::run([&] { tcs.set_result(1); }).wait();
  this->ui.run_until(blocker);  // the UI thread pumps; the pool thread's wait ends
  EXPECT_EQ(blocker.result(), 2);
}

TYPED_TEST(Deadlock, BlockingOnAThreadThatIsNotTheOwnerWorks) {
  this->ui.run_until_empty();  // this thread owns the loop
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  Task<int> t = get_value<TypeParam>(tcs, true);
  std::atomic<int> got{0};
  std::thread other([&] {
    duet::SyncContextScope other_scope(&this->ui);  // same context current, but not its owner
    got = t.result();
    this->ui.complete();
  });
  duet::run([&] { tcs.set_result(1); }).wait();  // the continuation is posted to the loop
  this->ui.run();  // the owner pumps it; the other thread's wait ends normally
  other.join();
  EXPECT_EQ(got.load(), 2);
}

TYPED_TEST(Deadlock, AnUnrelatedQueuedContinuationIsNoFalsePositive) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> unrelated_tcs, tcs;
  Task<int> unrelated = get_value<TypeParam>(unrelated_tcs, true);
  std::thread([&] { unrelated_tcs.set_result(1); }).join();  // its continuation is queued here
  ASSERT_EQ(this->ui.pending_count(), 1u);
  // Block on a task that needs nothing from the loop; it completes from another thread both
  // before and after the wait starts, and the loop's queue keeps the unrelated item.
  Task<int> pool_task = duet::run([&] { return tcs.task().result(); });
  std::thread completer = this->complete_once_blocked(tcs);
  EXPECT_EQ(pool_task.result(), 1);
  completer.join();
  this->ui.run_until(unrelated);
  EXPECT_EQ(unrelated.result(), 2);
}

TYPED_TEST(Deadlock, WhenAnyWithOneChildNeedingTheLoopIsNoFalsePositive) {
  // One child's continuation waits on the UI loop, but when_any can complete through the other
  // child: blocking on it must work (its nodes carry no owner: it does not need every child).
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> slow, fast;
  Task<int> needs_ui = get_value<TypeParam>(slow, true);
  Task<int> other = get_value<TypeParam>(fast, false);
  auto any = duet::when_any(needs_ui, other);
  std::thread([&] { slow.set_result(1); }).join();  // needs_ui's continuation is queued here
  ASSERT_EQ(this->ui.pending_count(), 1u);
  std::atomic<bool> returned{false};
  std::thread completer([&] {
    wait_until([&] { return this->ui.is_owner_blocked() || returned.load(); });
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
  this->ui.run_until(needs_ui);
  EXPECT_EQ(needs_ui.result(), 2);
}

TYPED_TEST(Deadlock, WhenAllOfAChildNeedingTheLoopIsDetected) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> a, b;
  Task<int> needs_ui = get_value<TypeParam>(a, true);
  Task<int> other = get_value<TypeParam>(b, false);
  auto all = duet::when_all(needs_ui, other);
  b.set_result(0);
  std::thread completer = this->complete_once_blocked(a);
  EXPECT_THROW(all.wait(), duet::DeadlockError);
  completer.join();
  this->ui.run_until(all);
  EXPECT_NO_THROW(all.wait());
}

TYPED_TEST(Deadlock, BlockingOnACompletedTaskNeverConsultsTheContext) {
  duet::SyncContextScope scope(&this->ui);
  TaskCompletionSource<int> tcs;
  Task<int> t = get_value<TypeParam>(tcs, true);
  tcs.set_result(4);  // completes on this (the UI) thread: the continuation ran inline
  EXPECT_EQ(t.result(), 5);
}

}  // namespace
}  // namespace semantic
