// test_when.cpp — when_all, when_any and wait_async: results, fault aggregation, cancellation,
// timeouts (ManualClock).
#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include <duet/duet.hpp>

#include "time_test_support.hpp"

using namespace std::chrono_literals;
using duet::Task;
using duet::TaskCompletionSource;

namespace {

using WhenTest = duet::testing::ManualTimeTest;

TEST(WhenAll, VariadicDifferentTypesGivesATuple) {
  TaskCompletionSource<int> a;
  TaskCompletionSource<std::string> b;
  TaskCompletionSource<> c;
  Task<std::tuple<int, std::string, std::monostate>> all = duet::when_all(a.task(), b.task(), c.task());
  EXPECT_FALSE(all.is_completed());
  b.set_result("two");
  c.set_result();
  EXPECT_FALSE(all.is_completed());
  a.set_result(1);
  ASSERT_TRUE(all.is_completed_successfully());
  auto [x, y, z] = all.result();
  EXPECT_EQ(x, 1);
  EXPECT_EQ(y, "two");
  (void)z;
}

TEST(WhenAll, AllVoidGivesTaskOfVoid) {
  TaskCompletionSource<> a, b;
  Task<> all = duet::when_all(a.task(), b.task());
  a.set_result();
  EXPECT_FALSE(all.is_completed());
  b.set_result();
  EXPECT_TRUE(all.is_completed_successfully());
}

TEST(WhenAll, AlreadyCompletedChildrenCompleteAtOnce) {
  auto all = duet::when_all(duet::from_result(1), duet::from_result(2.5));
  ASSERT_TRUE(all.is_completed_successfully());
  EXPECT_EQ(std::get<0>(all.result()), 1);
  EXPECT_EQ(std::get<1>(all.result()), 2.5);
}

TEST(WhenAll, RangeGivesAVectorInOrder) {
  std::vector<TaskCompletionSource<int>> sources(5);
  std::vector<Task<int>> tasks;
  for (auto& s : sources) tasks.push_back(s.task());
  Task<std::vector<int>> all = duet::when_all(tasks);
  for (int i = 4; i >= 0; --i) sources[static_cast<std::size_t>(i)].set_result(i * 10);
  EXPECT_EQ(all.result(), (std::vector<int>{0, 10, 20, 30, 40}));
}

TEST(WhenAll, EmptyRangesCompleteAtOnce) {
  std::vector<Task<int>> none;
  EXPECT_TRUE(duet::when_all(none).result().empty());
  std::vector<Task<>> none_void;
  Task<> v = duet::when_all(none_void);
  EXPECT_TRUE(v.is_completed_successfully());
}

TEST(WhenAll, FaultsAggregateAndAwaitRethrowsTheFirst) {
  TaskCompletionSource<int> a, b, c;
  auto all = duet::when_all(std::vector<Task<int>>{a.task(), b.task(), c.task()});
  c.set_exception(std::logic_error("third"));
  a.set_exception(std::runtime_error("first"));
  b.set_result(2);
  ASSERT_TRUE(all.is_faulted());
  // exception() holds every fault, in argument order.
  try {
    std::rethrow_exception(all.exception());
  } catch (const duet::AggregateError& e) {
    ASSERT_EQ(e.inner_exceptions().size(), 2u);
    EXPECT_EQ(duet::describe(e.inner_exceptions()[0]), "first");
    EXPECT_EQ(duet::describe(e.inner_exceptions()[1]), "third");
  }
  // await / wait / result rethrow the first inner exception, as .NET's await does.
  EXPECT_THROW(all.wait(), std::runtime_error);
  try {
    (void)all.get_awaiter().get_result();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
}

TEST(WhenAll, FaultBeatsCancellation) {
  TaskCompletionSource<> a, b;
  auto all = duet::when_all(a.task(), b.task());
  a.set_canceled();
  b.set_exception(std::runtime_error("boom"));
  EXPECT_TRUE(all.is_faulted());
  EXPECT_THROW(all.wait(), std::runtime_error);
}

TEST(WhenAll, CanceledWhenAnyCanceledAndNoneFaulted) {
  TaskCompletionSource<int> a;
  TaskCompletionSource<> b;
  duet::CancellationTokenSource cts;
  cts.cancel();
  auto all = duet::when_all(a.task(), b.task());
  a.set_result(1);
  b.set_canceled(cts.token());  // set_exception(OCE) would fault b (issue 12, rule 7)
  ASSERT_TRUE(all.is_canceled());
  try {
    all.wait();
    FAIL();
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token()) << "the first canceled child's exception is rethrown";
  }
}

TEST(WhenAll, NestedWhenAllFlattensItsFaults) {
  TaskCompletionSource<> a, b, c;
  auto inner = duet::when_all(a.task(), b.task());
  auto outer = duet::when_all(inner, c.task());
  a.set_exception(std::runtime_error("a"));
  b.set_exception(std::runtime_error("b"));
  c.set_exception(std::runtime_error("c"));
  try {
    std::rethrow_exception(outer.exception());
  } catch (const duet::AggregateError& e) {
    ASSERT_EQ(e.inner_exceptions().size(), 3u);
    EXPECT_EQ(duet::describe(e.inner_exceptions()[0]), "a");
    EXPECT_EQ(duet::describe(e.inner_exceptions()[2]), "c");
  }
}

TEST(WhenAll, EmptyHandleThrows) {
  EXPECT_THROW((void)duet::when_all(Task<int>(), duet::from_result(1)), duet::InvalidOperationError);
}

TEST_F(WhenTest, WhenAllOfDelaysTakesTheLongest) {
  auto all = duet::when_all(duet::delay(1s), duet::delay(2s));
  clock_.advance(1s);
  EXPECT_FALSE(all.is_completed());
  clock_.advance(1s);
  all.wait();
  EXPECT_TRUE(all.is_completed_successfully());
}

TEST(WhenAny, NamesTheFirstToComplete) {
  TaskCompletionSource<int> a, b, c;
  auto any = duet::when_any(a.task(), b.task(), c.task());
  EXPECT_FALSE(any.is_completed());
  b.set_exception(std::runtime_error("b failed"));
  ASSERT_TRUE(any.is_completed_successfully()) << "when_any succeeds whatever the child did";
  auto r = any.result();
  EXPECT_EQ(r.index, 1u);
  EXPECT_TRUE(r.task == b.task());
  EXPECT_TRUE(r.task.is_faulted());
  a.set_result(1);
  c.set_result(3);
  EXPECT_EQ(any.result().index, 1u);
}

TEST(WhenAny, RangeAndAlreadyCompleted) {
  TaskCompletionSource<> pending;
  std::vector<Task<>> tasks{pending.task(), duet::completed_task()};
  auto any = duet::when_any(tasks);
  EXPECT_EQ(any.result().index, 1u);
  pending.set_result();
}

TEST(WhenAny, MixedResultTypesGiveTheWinnerAsAPlainTask) {
  // Task.WhenAny(params Task[]) over a Task<int>, a Task<string> and a Task: the winner's index
  // and a Task<> with its outcome.
  TaskCompletionSource<int> a;
  TaskCompletionSource<std::string> b;
  TaskCompletionSource<> c;
  Task<duet::WhenAnyResult<void>> any = duet::when_any(a.task(), b.task(), c.task());
  EXPECT_FALSE(any.is_completed());
  b.set_result("second");
  a.set_result(1);
  ASSERT_TRUE(any.is_completed_successfully());
  duet::WhenAnyResult<void> r = any.result();
  EXPECT_EQ(r.index, 1u);
  EXPECT_TRUE(r.task.is_completed_successfully());
  EXPECT_EQ(b.task().result(), "second") << "the value stays on the original task, which index names";
  c.set_result();  // the loser's continuation list still holds the when_any: complete it (no leak)
}

TEST(WhenAny, MixedResultTypesCarryTheWinnersFaultAndCancellation) {
  TaskCompletionSource<int> a;
  TaskCompletionSource<double> b;
  auto faulted = duet::when_any(a.task(), b.task());
  a.set_exception(std::make_exception_ptr(std::runtime_error("first failed")));
  duet::WhenAnyResult<void> r = faulted.result();
  EXPECT_EQ(r.index, 0u);
  EXPECT_TRUE(r.task.is_faulted());
  EXPECT_THROW(r.task.wait(), std::runtime_error);

  TaskCompletionSource<int> c;
  duet::CancellationTokenSource cts;
  cts.cancel();
  auto canceled = duet::when_any(c.task(), duet::detail::canceled_task<bool>(cts.token()));
  r = canceled.result();
  EXPECT_EQ(r.index, 1u);
  EXPECT_TRUE(r.task.is_canceled());
  EXPECT_THROW(r.task.wait(), duet::OperationCanceledError);
  b.set_result(1.0);
  c.set_result(3);
}

TEST(WhenAny, MixedResultTypesRejectAnEmptyHandle) {
  TaskCompletionSource<int> a;
  EXPECT_THROW((void)duet::when_any(a.task(), Task<std::string>()), duet::InvalidOperationError);
  a.set_result(0);
}

TEST(WhenAny, EmptyRangeThrows) {
  std::vector<Task<int>> none;
  EXPECT_THROW((void)duet::when_any(none), duet::ArgumentError);
}

TEST_F(WhenTest, WaitAsyncPassesTheResultThrough) {
  TaskCompletionSource<int> tcs;
  auto w = duet::wait_async(tcs.task(), 1s);
  tcs.set_result(7);
  EXPECT_EQ(w.result(), 7);
  EXPECT_EQ(wheel_->pending(), 0u) << "the timeout timer is removed when the task wins";
}

TEST_F(WhenTest, WaitAsyncTimesOut) {
  TaskCompletionSource<int> tcs;
  auto w = duet::wait_async(tcs.task(), 500ms);
  clock_.advance(499ms);
  EXPECT_FALSE(w.is_completed());
  clock_.advance(1ms);
  EXPECT_THROW(w.wait(), duet::TimeoutError);
  EXPECT_TRUE(w.is_faulted());
  tcs.set_result(1);  // the child is not affected, and finishing it later is harmless
  EXPECT_THROW(w.wait(), duet::TimeoutError);
}

TEST_F(WhenTest, WaitAsyncIsCanceledByItsToken) {
  TaskCompletionSource<> tcs;
  duet::CancellationTokenSource cts;
  auto w = duet::wait_async(tcs.task(), 1h, cts.token());
  cts.cancel();
  ASSERT_TRUE(w.is_canceled());
  EXPECT_EQ(wheel_->pending(), 0u);
  try {
    w.wait();
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token());
  }
  EXPECT_FALSE(tcs.task().is_completed()) << "wait_async does not cancel the awaited task";
  tcs.set_result();
}

TEST_F(WhenTest, WaitAsyncTokenOnlyAndFastPaths) {
  TaskCompletionSource<int> tcs;
  duet::CancellationTokenSource cts;
  auto w = duet::wait_async(tcs.task(), cts.token());
  EXPECT_EQ(wheel_->pending(), 0u);
  tcs.set_result(5);
  EXPECT_EQ(w.result(), 5);
  // Completed task: returned as is. Canceled token: canceled. Zero timeout: TimeoutError.
  auto done = duet::from_result(1);
  EXPECT_TRUE(duet::wait_async(done, 1s) == done);
  TaskCompletionSource<int> p;
  EXPECT_TRUE(duet::wait_async(p.task(), 1s, duet::CancellationToken::canceled()).is_canceled());
  EXPECT_THROW(duet::wait_async(p.task(), 0ms).wait(), duet::TimeoutError);
  EXPECT_THROW((void)duet::wait_async(p.task(), -2ms), duet::ArgumentError);
  p.set_result(0);
}

TEST_F(WhenTest, WaitAsyncPropagatesFaultsAndCancellation) {
  TaskCompletionSource<int> a, b;
  auto wa = duet::wait_async(a.task(), 1s);
  auto wb = duet::wait_async(b.task(), 1s);
  a.set_exception(std::runtime_error("inner"));
  b.set_canceled();
  EXPECT_THROW(wa.wait(), std::runtime_error);
  EXPECT_TRUE(wb.is_canceled());
}

}  // namespace
