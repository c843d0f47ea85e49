// tests/semantic/test_dotnet_rules.cpp — the .NET fidelity rules of issue 12 that involve an async
// method, each a test named after its rule, in every style. (The mechanism halves, where no
// method is involved — awaiter registration, builder misuse, TaskCompletionSource — live in
// tests/core and the ports in tests/dotnet.)
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::TaskStatus;

[[gnu::noinline]] duet::SynchronizationContext* current_context() {
  asm volatile("" ::: "memory");
  return duet::SynchronizationContext::current();
}

// Observed — the thread, the context and the pool flag where a method resumed.
struct Observed {
  std::atomic<bool> taken{false};
  std::thread::id thread;
  duet::SynchronizationContext* context = nullptr;
  bool pool = false;
  [[gnu::noinline]] void take() {
    thread = thread_now();
    context = current_context();
    pool = duet::is_thread_pool_thread();
    taken = true;
  }
};

template <class S>
class DotnetRules : public duet::testing::DuetTest {};
TYPED_TEST_SUITE(DotnetRules, AllStyles, StyleName);

// ---- rule 1: a foreign context never leaks into a resumed method ----------------------------

TYPED_TEST(DotnetRules, Rule1_ConfigureAwaitFalseNeverResumesInTheCompletersContext) {
  duet::testing::RecordingContext ui;  // the completing thread's own context
  TaskCompletionSource<> tcs;
  Observed after;
  Task<> t = TypeParam::task(nop, [&] { return tcs.task().configure_await(false); }, [&] { after.take(); });
  {
    duet::SyncContextScope completer_context(&ui);
    tcs.set_result();
  }
  t.wait();
  EXPECT_NE(after.thread, std::this_thread::get_id()) << "resumed inline under the completer's context";
  EXPECT_EQ(after.context, nullptr);
  EXPECT_TRUE(after.pool);
  EXPECT_EQ(ui.posts(), 0) << "nothing was posted to the context the method never captured";
}

TYPED_TEST(DotnetRules, Rule1_AnAwaitWithNoContextCurrentResumesOnThePoolNotUnderTheCompletersContext) {
  duet::testing::RecordingContext ui;
  TaskCompletionSource<int> tcs;
  Observed after;
  Task<int> t = TypeParam::task(nop, [&] { return tcs.task(); }, [&](int v) {
    after.take();
    return v;
  });
  {
    duet::SyncContextScope completer_context(&ui);
    tcs.set_result(5);
  }
  EXPECT_EQ(t.result(), 5);
  EXPECT_EQ(after.context, nullptr);
  EXPECT_TRUE(after.pool);
  EXPECT_EQ(ui.posts(), 0);
}

TYPED_TEST(DotnetRules, Rule1_WithNoContextAnywhereTheContinuationStillRunsInline) {
  TaskCompletionSource<> tcs;
  Observed after;
  Task<> t = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { after.take(); });
  tcs.set_result();
  EXPECT_TRUE(t.is_completed());  // the default context on both sides: inline, as .NET
  EXPECT_EQ(after.thread, std::this_thread::get_id());
}

// ---- rule 3: of several awaiters of one task, only the first runs inline --------------------

TYPED_TEST(DotnetRules, Rule3_OnlyTheFirstAwaiterOfATaskRunsInlineTheRestAreQueued) {
  TaskCompletionSource<> tcs;
  Observed first, second, third;
  Task<> a = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { first.take(); });
  Task<> b = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { second.take(); });
  Task<> c = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { third.take(); });
  tcs.set_result();
  EXPECT_TRUE(a.is_completed());
  EXPECT_EQ(first.thread, std::this_thread::get_id());
  b.wait();
  c.wait();
  EXPECT_TRUE(second.pool);
  EXPECT_TRUE(third.pool);
}

TYPED_TEST(DotnetRules, Rule3_LaterAwaitersWithAContextArePostedToItOnce) {
  duet::testing::RecordingContext ui;
  duet::SyncContextScope scope(&ui);
  TaskCompletionSource<> tcs;
  Observed first, second;
  Task<> a = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { first.take(); });
  Task<> b = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { second.take(); });
  tcs.set_result();  // on the context's own thread: the first inline, the second posted
  EXPECT_TRUE(a.is_completed());
  EXPECT_FALSE(b.is_completed());
  EXPECT_EQ(ui.posts(), 1);
  EXPECT_EQ(ui.run_all(), 1);
  EXPECT_TRUE(b.is_completed());
  EXPECT_EQ(second.context, &ui);
}

// ---- rule 7: canceled versus faulted --------------------------------------------------------

TYPED_TEST(DotnetRules, Rule7_AMethodThatThrowsOperationCanceledEndsCanceledWithANullException) {
  TaskCompletionSource<> tcs;
  Task<> t = TypeParam::task(nop, [&] { return tcs.task(); }, [] { throw duet::OperationCanceledError("stop"); });
  tcs.set_result();
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.status(), TaskStatus::canceled);
  EXPECT_EQ(t.exception(), nullptr);  // .NET's Task.Exception of a canceled task
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
}

TYPED_TEST(DotnetRules, Rule7_AwaitingATaskFaultedWithOperationCanceledCancelsTheMethod) {
  TaskCompletionSource<int> tcs;
  tcs.set_exception(duet::OperationCanceledError("handed over"));
  EXPECT_EQ(tcs.task().status(), TaskStatus::faulted);  // TCS: a fault, whatever the type
  Task<int> t = TypeParam::task(nop, [&] { return tcs.task(); }, [](int v) { return v; });
  t.state()->wait();
  EXPECT_EQ(t.status(), TaskStatus::canceled);  // the method's builder: the OCE cancels it
}

TYPED_TEST(DotnetRules, Rule7_AMethodCatchesTheOperationCanceledOfAFaultedTaskAndCompletes) {
  Task<int> faulted = duet::from_exception<int>(std::make_exception_ptr(duet::OperationCanceledError("oce")));
  EXPECT_TRUE(faulted.is_faulted());  // from_exception: a fault, whatever the type
  Task<std::string> t = TypeParam::template try_recover<duet::OperationCanceledError>(
      [faulted] { return faulted; }, [](int) { return std::string("no exception"); },
      [](const duet::OperationCanceledError&) { return duet::from_result(0); },
      [](const duet::OperationCanceledError& e, int) { return std::string("caught ") + e.what(); });
  EXPECT_EQ(t.result(), "caught oce");
}

// ---- rule 9: an async void method reports operation_completed ---------------------------------

TYPED_TEST(DotnetRules, Rule9_AsyncVoidReportsOperationCompletedOnResultAndOnFault) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope scope(&ui);
  TaskCompletionSource<> ok, bad;
  TypeParam::fire(nop, [&] { return ok.task(); }, nop);
  TypeParam::fire(nop, [&] { return bad.task(); }, nop);
  EXPECT_EQ(ui.outstanding_operations(), 2);
  ok.set_result();
  EXPECT_EQ(ui.outstanding_operations(), 1);
  bad.set_exception(std::runtime_error("async void fault"));
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_THROW(ui.run_until_empty(), std::runtime_error);  // the fault, thrown asynchronously
}

}  // namespace
}  // namespace semantic
