// tests/semantic/test_styles.cpp — the semantic suite, run once per registered style (styles.hpp).
// Inputs are TaskCompletionSources completed on the test thread, so continuations run inline
// and every intermediate state (pending, what the log holds while suspended) is observable.
#include <gtest/gtest.h>

#include "duet_fixture.hpp"

#include <algorithm>
#include <string>

#include "styles.hpp"

namespace styles {

std::vector<const Style*>& registered_styles() {
  static std::vector<const Style*> all;
  return all;
}

namespace {

using duet::Task;
using duet::TaskCompletionSource;

template <class T>
std::string what_of(const Task<T>& t) {
  try {
    t.wait();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

class StyleTest : public duet::testing::DuetTest, public ::testing::WithParamInterface<const Style*> {
 protected:
  const Style& s() const { return *GetParam(); }
  Log log_;
};

// ---- completion and suspension -----------------------------------------------------------------

TEST_P(StyleTest, CompletesSynchronouslyWithoutAwait) {
  Task<int> t = s().return_value(7);
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), 7);
}

TEST_P(StyleTest, CompletedAwaitsDoNotSuspend) {
  Task<int> t = s().add(duet::from_result(1), duet::from_result(2));
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), 3);
}

TEST_P(StyleTest, SuspendsUntilEachAwaitCompletes) {
  TaskCompletionSource<int> a, b;
  Task<int> t = s().add(a.task(), b.task());
  EXPECT_FALSE(t.is_completed());
  a.set_result(1);
  EXPECT_FALSE(t.is_completed());
  b.set_result(2);
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), 3);
}

TEST_P(StyleTest, SecondAwaitAlreadyCompletedAfterResume) {
  TaskCompletionSource<int> a;
  Task<int> t = s().add(a.task(), duet::from_result(40));
  EXPECT_FALSE(t.is_completed());
  a.set_result(2);
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), 42);
}

// ---- exceptions ----------------------------------------------------------------------------------

TEST_P(StyleTest, ExceptionBeforeFirstAwaitFaultsSynchronously) {
  TaskCompletionSource<int> a;
  Task<int> t = s().throw_before_await(-1, a.task());
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), TestError);
  EXPECT_EQ(what_of(t), "before");
  Task<int> ok = s().throw_before_await(1, a.task());  // the path that does not throw
  EXPECT_FALSE(ok.is_completed());
  a.set_result(2);
  EXPECT_EQ(ok.result(), 3);
}

TEST_P(StyleTest, ExceptionAfterAwaitFaultsOnResume) {
  TaskCompletionSource<int> a;
  Task<int> t = s().throw_after_await(a.task());
  EXPECT_FALSE(t.is_completed());
  a.set_result(4);
  ASSERT_TRUE(t.is_completed());
  EXPECT_TRUE(t.is_faulted());
  EXPECT_EQ(what_of(t), "after 4");
}

TEST_P(StyleTest, AwaitedFaultPropagates) {
  TaskCompletionSource<int> a;
  Task<int> t = s().add(a.task(), duet::from_result(1));
  a.set_exception(TestError("inner"));
  EXPECT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), TestError);
}

TEST_P(StyleTest, AwaitedCancellationCancels) {
  TaskCompletionSource<int> b;
  Task<int> t = s().add(duet::from_result(1), b.task());
  b.set_canceled();
  EXPECT_TRUE(t.is_canceled());
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
}

// ---- try / catch / finally matrix ------------------------------------------------------------------

TEST_P(StyleTest, TryNormalPathRunsFinallyOnce) {
  TaskCompletionSource<int> in;
  Task<int> t = s().try_catch_finally(log_, in.task());
  EXPECT_EQ(log_.str(), "enter try");  // suspended inside the try: finally has not run
  in.set_result(5);
  EXPECT_EQ(log_.str(), "enter try got:5 finally end");
  EXPECT_EQ(t.result(), 5);
}

TEST_P(StyleTest, TrySynchronousPath) {
  Task<int> t = s().try_catch_finally(log_, duet::from_result(3));
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(log_.str(), "enter try got:3 finally end");
  EXPECT_EQ(t.result(), 3);
}

TEST_P(StyleTest, TryCaughtExceptionRunsCatchThenFinally) {
  TaskCompletionSource<int> in;
  Task<int> t = s().try_catch_finally(log_, in.task());
  in.set_exception(TestError("boom"));
  EXPECT_EQ(log_.str(), "enter try catch:boom finally end");
  EXPECT_EQ(t.result(), -1);
}

TEST_P(StyleTest, TryUncaughtExceptionRunsFinallyAndFaults) {
  TaskCompletionSource<int> in;
  Task<int> t = s().try_catch_finally(log_, in.task());
  in.set_exception(OtherError("other"));
  EXPECT_EQ(log_.str(), "enter try finally");
  EXPECT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), OtherError);
}

TEST_P(StyleTest, TryCancellationRunsFinallyAndCancels) {
  TaskCompletionSource<int> in;
  Task<int> t = s().try_catch_finally(log_, in.task());
  in.set_canceled();
  EXPECT_EQ(log_.str(), "enter try finally");
  EXPECT_TRUE(t.is_canceled());
}

TEST_P(StyleTest, EarlyReturnRunsFinally) {
  TaskCompletionSource<int> in;
  Task<int> t = s().return_from_try(log_, in.task());
  EXPECT_EQ(log_.str(), "try");
  in.set_result(5);
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_EQ(t.result(), 50);
}

TEST_P(StyleTest, NoEarlyReturnFallsThroughFinally) {
  Task<int> t = s().return_from_try(log_, duet::from_result(0));
  EXPECT_EQ(log_.str(), "try not-returned finally end");
  EXPECT_EQ(t.result(), 0);
}

TEST_P(StyleTest, EarlyReturnPathWithException) {
  TaskCompletionSource<int> in;
  Task<int> t = s().return_from_try(log_, in.task());
  in.set_exception(TestError("x"));
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_THROW(t.wait(), TestError);
}

TEST_P(StyleTest, AwaitInCatch) {
  TaskCompletionSource<int> in, handler;
  Task<int> t = s().await_in_catch(log_, in.task(), handler.task());
  in.set_exception(TestError("e1"));
  EXPECT_EQ(log_.str(), "catch:e1");  // suspended inside the catch block
  EXPECT_FALSE(t.is_completed());
  handler.set_result(9);
  EXPECT_EQ(log_.str(), "catch:e1 handled:9:e1 finally");
  EXPECT_EQ(t.result(), 9);
}

TEST_P(StyleTest, AwaitInCatchThenRethrow) {
  TaskCompletionSource<int> in, handler;
  Task<int> t = s().await_in_catch(log_, in.task(), handler.task());
  in.set_exception(TestError("e2"));
  handler.set_result(-1);
  EXPECT_EQ(log_.str(), "catch:e2 handled:-1:e2 finally");
  EXPECT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), TestError);
  EXPECT_EQ(what_of(t), "e2");
}

TEST_P(StyleTest, AwaitInCatchFaultedHandlerRunsFinally) {
  TaskCompletionSource<int> in, handler;
  Task<int> t = s().await_in_catch(log_, in.task(), handler.task());
  in.set_exception(TestError("e3"));
  handler.set_exception(OtherError("handler failed"));
  EXPECT_EQ(log_.str(), "catch:e3 finally");
  EXPECT_THROW(t.wait(), OtherError);
}

TEST_P(StyleTest, AwaitInCatchNotEnteredWithoutException) {
  TaskCompletionSource<int> handler;
  Task<int> t = s().await_in_catch(log_, duet::from_result(3), handler.task());
  EXPECT_EQ(log_.str(), "got:3 finally");
  EXPECT_EQ(t.result(), 3);
}

TEST_P(StyleTest, CancellationIsNotCaughtByTypedCatch) {
  TaskCompletionSource<int> in, handler;
  Task<int> t = s().await_in_catch(log_, in.task(), handler.task());
  in.set_canceled();
  EXPECT_EQ(log_.str(), "finally");
  EXPECT_TRUE(t.is_canceled());
}

TEST_P(StyleTest, AwaitInFinallyNormal) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().await_in_finally(log_, in.task(), cleanup.task());
  in.set_result(5);
  EXPECT_EQ(log_.str(), "try got:5 finally");  // suspended inside the finally block
  EXPECT_FALSE(t.is_completed());
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "try got:5 finally cleaned end");
  EXPECT_EQ(t.result(), 5);
}

TEST_P(StyleTest, AwaitInFinallyAfterEarlyReturn) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().await_in_finally(log_, in.task(), cleanup.task());
  in.set_result(7);
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_FALSE(t.is_completed());  // returned, but the finally block is still running
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "try finally cleaned");
  EXPECT_EQ(t.result(), 70);
}

TEST_P(StyleTest, AwaitInFinallyWithPendingException) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().await_in_finally(log_, in.task(), cleanup.task());
  in.set_exception(TestError("pending"));
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_FALSE(t.is_completed());
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "try finally cleaned");
  EXPECT_EQ(what_of(t), "pending");
}

TEST_P(StyleTest, AwaitInFinallyWithPendingCancellation) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().await_in_finally(log_, in.task(), cleanup.task());
  in.set_canceled();
  EXPECT_FALSE(t.is_completed());
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "try finally cleaned");
  EXPECT_TRUE(t.is_canceled());
}

TEST_P(StyleTest, ExceptionInFinallyReplacesPendingOne) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().await_in_finally(log_, in.task(), cleanup.task());
  in.set_exception(TestError("first"));
  cleanup.set_exception(OtherError("second"));
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_THROW(t.wait(), OtherError);
}

TEST_P(StyleTest, NestedNormal) {
  Task<int> t = s().nested(log_, duet::from_result(1), duet::completed_task());
  EXPECT_EQ(log_.str(), "inner-try inner-got:1 inner-finally inner-finally-end after-inner outer-finally end");
  EXPECT_EQ(t.result(), 1);
}

TEST_P(StyleTest, NestedEarlyReturnRunsBothFinallyBlocks) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().nested(log_, in.task(), cleanup.task());
  in.set_result(42);
  EXPECT_EQ(log_.str(), "inner-try inner-finally");
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "inner-try inner-finally inner-finally-end outer-finally");
  EXPECT_EQ(t.result(), 420);
}

TEST_P(StyleTest, NestedExceptionFromCatchCaughtOutside) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().nested(log_, in.task(), cleanup.task());
  in.set_exception(TestError("x"));
  EXPECT_EQ(log_.str(), "inner-try inner-catch:x");
  cleanup.set_result();
  EXPECT_EQ(log_.str(),
            "inner-try inner-catch:x inner-finally inner-finally-end outer-catch:from inner catch: x "
            "outer-finally end");
  EXPECT_EQ(t.result(), -2);
}

TEST_P(StyleTest, NestedCancellationRunsBothFinallyBlocks) {
  TaskCompletionSource<int> in;
  TaskCompletionSource<> cleanup;
  Task<int> t = s().nested(log_, in.task(), cleanup.task());
  in.set_canceled();
  EXPECT_EQ(log_.str(), "inner-try inner-finally");
  cleanup.set_result();
  EXPECT_EQ(log_.str(), "inner-try inner-finally inner-finally-end outer-finally");
  EXPECT_TRUE(t.is_canceled());
}

// ---- loops ------------------------------------------------------------------------------------------

TEST_P(StyleTest, TryInsideLoopWithAwaitInCatch) {
  TaskCompletionSource<int> third;
  TaskCompletionSource<> backoff;
  std::vector<Task<int>> attempts{duet::from_exception<int>(std::make_exception_ptr(TestError("a"))),
                                  duet::from_exception<int>(std::make_exception_ptr(TestError("b"))),
                                  third.task()};
  Task<int> t = s().retry(log_, attempts, backoff.task());
  EXPECT_EQ(log_.str(), "retry:a");
  backoff.set_result();
  EXPECT_EQ(log_.str(), "retry:a retry:b");
  EXPECT_FALSE(t.is_completed());
  third.set_result(8);
  EXPECT_EQ(log_.str(), "retry:a retry:b ok:8");
  EXPECT_EQ(t.result(), 8);
}

TEST_P(StyleTest, TryInsideLoopGivesUp) {
  std::vector<Task<int>> attempts{duet::from_exception<int>(std::make_exception_ptr(TestError("a"))),
                                  duet::from_exception<int>(std::make_exception_ptr(TestError("b")))};
  Task<int> t = s().retry(log_, attempts, duet::completed_task());
  EXPECT_EQ(log_.str(), "retry:a retry:b gave-up");
  EXPECT_EQ(t.result(), -1);
}

TEST_P(StyleTest, ForLoopWithAwaits) {
  TaskCompletionSource<int> second;
  Task<int> t = s().sum_loop({duet::from_result(1), second.task(), duet::from_result(3)});
  EXPECT_FALSE(t.is_completed());
  second.set_result(2);
  EXPECT_EQ(t.result(), 6);
  EXPECT_EQ(s().sum_loop({}).result(), 0);
}

TEST_P(StyleTest, WhileLoopWithYieldResumesOnThePool) {
  Task<int> t = s().yield_loop(5);
  EXPECT_EQ(t.result(), 5);
}

// ---- result types -------------------------------------------------------------------------------------

TEST_P(StyleTest, StringResult) {
  TaskCompletionSource<std::string> a, b;
  Task<std::string> t = s().concat(a.task(), b.task());
  a.set_result("ab");
  b.set_result(std::string(40, 'c'));  // long enough to live on the heap
  EXPECT_EQ(t.result(), "ab+" + std::string(40, 'c'));
}

TEST_P(StyleTest, MoveOnlyResult) {
  TaskCompletionSource<std::unique_ptr<int>> in;
  Task<std::unique_ptr<int>> t = s().bump_unique(in.task());
  in.set_result(std::make_unique<int>(41));
  std::unique_ptr<int> p = t.result();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
}

TEST_P(StyleTest, VoidResult) {
  TaskCompletionSource<> in;
  Task<> t = s().void_method(log_, in.task());
  EXPECT_EQ(log_.str(), "start");
  EXPECT_FALSE(t.is_completed());
  in.set_result();
  EXPECT_EQ(log_.str(), "start done");
  EXPECT_TRUE(t.is_completed_successfully());
}

TEST_P(StyleTest, VoidFaulted) {
  TaskCompletionSource<> in;
  Task<> t = s().void_method(log_, in.task());
  in.set_exception(TestError("v"));
  EXPECT_EQ(log_.str(), "start");
  EXPECT_THROW(t.wait(), TestError);
}

// ---- try statements nested three deep, void and ValueTask returns through finally blocks -------

TEST_P(StyleTest, ThreeLevelsOfTryNormal) {
  TaskCompletionSource<> gate;
  Task<std::string> t = s().shapes(gate.task(), 0);
  EXPECT_EQ(t.status(), duet::TaskStatus::pending);
  gate.set_result();
  EXPECT_EQ(t.result(), "t3 f3 f1 f1f end");
}

TEST_P(StyleTest, RethrowInsideATryInsideACatchAll) {
  TaskCompletionSource<> gate;
  Task<std::string> t = s().shapes(gate.task(), 1);
  gate.set_result();
  EXPECT_EQ(t.result(), "t3 f3 catch-all inner:deep f1 f1f end");
}

TEST_P(StyleTest, ReturnFromThreeLevelsRunsEveryFinallyWithAwaits) {
  TaskCompletionSource<> gate;
  Task<std::string> t = s().shapes(gate.task(), 2);
  gate.set_result();
  // The value is computed at the return, before the finally blocks run (as in C#).
  EXPECT_EQ(t.result(), "t3 returned");
}

TEST_P(StyleTest, VoidReturnInsideTry) {
  TaskCompletionSource<> gate;
  Task<> t = s().void_return_in_try(log_, gate.task());
  EXPECT_EQ(log_.str(), "");
  gate.set_result();
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(log_.str(), "finally");
}

TEST_P(StyleTest, ValueTaskMethodReturnsThroughAFinallyThatAwaits) {
  TaskCompletionSource<> first, second;
  duet::ValueTask<> vt = s().value_task_return_through_finally(log_, first.task(), second.task());
  EXPECT_FALSE(vt.is_completed());
  first.set_result();  // resumes in the try body; the return runs the finally, which suspends again
  EXPECT_EQ(log_.str(), "try finally");
  EXPECT_FALSE(vt.is_completed());
  second.set_result();
  EXPECT_TRUE(vt.is_completed_successfully());
  vt.result();
  EXPECT_EQ(log_.str(), "try finally after-await-in-finally");
}

INSTANTIATE_TEST_SUITE_P(AllStyles, StyleTest, ::testing::ValuesIn(registered_styles()),
                         [](const ::testing::TestParamInfo<const Style*>& param_info) {
                           return std::string(param_info.param->name);
                         });

// Guards against a style file silently missing from the build.
TEST(StyleRegistry, AllThreeStylesAreRegistered) {
  std::vector<std::string> names;
  for (const Style* st : registered_styles()) names.emplace_back(st->name);
  EXPECT_NE(std::find(names.begin(), names.end(), "explicit"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "dsl"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "fiber"), names.end());
}

}  // namespace
}  // namespace styles
