// test_value_task.cpp — ValueTask<T>, its awaiter, IValueTaskSource and
// ManualResetValueTaskSourceCore: the three kinds, the await-once rule in all its forms, as_task,
// preserve, configure_await, and the source's completion protocol.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include <duet/duet.hpp>

#include "vt_support.hpp"

using duet::InvalidOperationError;
using duet::ValueTask;
using duet::ValueTaskSourceStatus;
using Flags = duet::ValueTaskSourceOnCompletedFlags;
using vt_test::Flag;
using vt_test::message_of;
using vt_test::TestSource;

namespace {
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST(ValueTask, ValueKindIsCompletedAndAllocatesNothing) {
  static_assert(sizeof(ValueTask<int>) <= 16, "ValueTask<int> stays two words");
  EXPECT_ALLOCATIONS(0, {
    ValueTask<int> vt(42);
    EXPECT_EQ(vt.kind(), ValueTask<int>::Kind::value);
    EXPECT_TRUE(vt.is_completed());
    EXPECT_TRUE(vt.is_completed_successfully());
    EXPECT_FALSE(vt.is_faulted());
    EXPECT_FALSE(vt.is_canceled());
    auto a = vt.get_awaiter();
    EXPECT_TRUE(a.is_completed());
    EXPECT_EQ(a.get_result(), 42);
  });
}

TEST(ValueTask, DefaultIsCompletedWithDefaultValue) {
  ValueTask<int> vt;
  EXPECT_TRUE(vt.is_completed_successfully());
  EXPECT_EQ(vt.result(), 0);
  ValueTask<> v;
  EXPECT_TRUE(v.is_completed_successfully());
  v.get_awaiter().get_result();
}

TEST(ValueTask, SecondAwaitOfTheSameValueTaskThrowsNamingTheRule) {
  ValueTask<int> vt(1);
  auto a = vt.get_awaiter();
  EXPECT_EQ(a.get_result(), 1);
  const std::string msg = message_of([&] { (void)vt.get_awaiter(); });
  EXPECT_TRUE(contains(msg, "awaited twice")) << msg;
  EXPECT_TRUE(contains(msg, "may be awaited only once")) << msg;
  EXPECT_TRUE(contains(msg, "as_task() or preserve()")) << msg;
  EXPECT_THROW((void)vt.is_completed(), InvalidOperationError);
  EXPECT_THROW((void)vt.as_task(), InvalidOperationError);
}

TEST(ValueTask, AwaiterGetResultTwiceThrows) {
  ValueTask<int> vt(7);
  auto a = vt.get_awaiter();
  EXPECT_EQ(a.get_result(), 7);
  EXPECT_THROW(a.get_result(), InvalidOperationError);
  EXPECT_THROW((void)a.is_completed(), InvalidOperationError);
}

TEST(ValueTask, MovedFromIsConsumed) {
  ValueTask<int> a(3);
  ValueTask<int> b(std::move(a));
  EXPECT_EQ(a.kind(), ValueTask<int>::Kind::consumed);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW((void)a.get_awaiter(), InvalidOperationError);
  EXPECT_EQ(b.result(), 3);
}

TEST(ValueTask, TaskKindFollowsTheTask) {
  duet::TaskCompletionSource<int> tcs;
  ValueTask<int> vt(tcs.task());
  EXPECT_EQ(vt.kind(), ValueTask<int>::Kind::task);
  EXPECT_FALSE(vt.is_completed());
  auto a = vt.get_awaiter();
  Flag f;
  a.unsafe_on_completed(f);
  EXPECT_EQ(f.runs.load(), 0);
  tcs.set_result(9);
  EXPECT_EQ(f.runs.load(), 1);
  EXPECT_TRUE(a.is_completed());
  EXPECT_EQ(a.get_result(), 9);
}

TEST(ValueTask, EmptyTaskIsRejected) {
  EXPECT_THROW((void)ValueTask<int>(duet::Task<int>()), InvalidOperationError);
}

TEST(ValueTask, StatusOfFaultedAndCanceledTasks) {
  ValueTask<int> f(duet::from_exception<int>(std::make_exception_ptr(std::runtime_error("x"))));
  EXPECT_TRUE(f.is_faulted());
  EXPECT_TRUE(f.is_completed());
  EXPECT_FALSE(f.is_completed_successfully());
  EXPECT_THROW(f.get_awaiter().get_result(), std::runtime_error);
  ValueTask<int> c(duet::from_canceled<int>());
  EXPECT_TRUE(c.is_canceled());
  EXPECT_THROW(c.get_awaiter().get_result(), duet::OperationCanceledError);
}

TEST(ValueTask, SourceKindCompletesThroughTheCore) {
  TestSource<int> src;
  ValueTask<int> vt = src.value_task();
  EXPECT_EQ(vt.kind(), ValueTask<int>::Kind::source);
  EXPECT_EQ(vt.source(), &src);
  EXPECT_FALSE(vt.is_completed());
  auto a = vt.get_awaiter();
  EXPECT_FALSE(a.is_completed());
  Flag f;
  a.unsafe_on_completed(f);
  EXPECT_EQ(f.runs.load(), 0);
  src.core.set_result(5);
  EXPECT_EQ(f.runs.load(), 1);  // run inline by default
  EXPECT_EQ(f.thread, std::this_thread::get_id());
  EXPECT_TRUE(a.is_completed());
  EXPECT_EQ(a.get_result(), 5);
  EXPECT_EQ(src.abandoned, 0);
}

TEST(ValueTask, AwaitAfterTheSourceWasResetThrowsNamingTheRule) {
  TestSource<int> src;
  ValueTask<int> vt = src.value_task();
  const short token = vt.token();
  src.core.set_result(1);
  src.core.reset();  // the producer reuses the source for another operation
  EXPECT_NE(src.core.version(), token);
  const std::string msg = message_of([&] { (void)vt.is_completed(); });
  EXPECT_TRUE(contains(msg, "may be awaited only once")) << msg;
  EXPECT_TRUE(contains(msg, "reset")) << msg;
  auto a = vt.get_awaiter();
  EXPECT_THROW((void)a.is_completed(), InvalidOperationError);
  EXPECT_THROW((void)src.get_result(token), InvalidOperationError);
  // The awaiter dies holding a stale token: on_abandoned sees the old token.
}

TEST(ValueTask, StaleTokenInOnCompletedFaultsTheAwaitInsteadOfTerminating) {
  TestSource<int> src;
  ValueTask<int> vt = src.value_task();
  src.core.reset();
  auto a = vt.get_awaiter();
  Flag f;
  a.on_completed(f);  // noexcept: the error becomes the await's result
  f.wait_ran();       // queued, never run inside on_completed (issue 12, rule 2)
  EXPECT_EQ(f.runs.load(), 1);
  EXPECT_THROW(a.get_result(), InvalidOperationError);
}

TEST(ValueTask, ConcurrentAwaitThrowsNamingTheRule) {
  TestSource<int> src;
  auto a1 = src.value_task().get_awaiter();
  auto a2 = src.value_task().get_awaiter();  // same source, same version: a second awaiter
  Flag f1, f2;
  a1.unsafe_on_completed(f1);
  a2.unsafe_on_completed(f2);
  f2.wait_ran();  // resumed (queued: issue 12, rule 2), with the error
  EXPECT_EQ(f2.runs.load(), 1);
  const std::string msg = message_of([&] { a2.get_result(); });
  EXPECT_TRUE(contains(msg, "awaited concurrently")) << msg;
  EXPECT_EQ(f1.runs.load(), 0);
  src.core.set_result(11);
  EXPECT_EQ(f1.runs.load(), 1);
  EXPECT_EQ(a1.get_result(), 11);  // the first awaiter is unaffected
}

TEST(ValueTask, RegisteringOnACompletedSourceQueuesTheContinuation) {
  TestSource<int> src;
  src.core.set_result(4);
  auto a = src.value_task().get_awaiter();
  EXPECT_TRUE(a.is_completed());
  Flag f;
  a.unsafe_on_completed(f);
  f.wait_ran();  // never synchronously: queued to the pool (issue 12, rule 2)
  EXPECT_NE(f.thread, std::this_thread::get_id());
  EXPECT_EQ(f.runs.load(), 1);
  EXPECT_EQ(a.get_result(), 4);
}

TEST(ValueTask, AbandonedSourceValueTaskTellsTheSource) {
  TestSource<int> src;
  {
    ValueTask<int> vt = src.value_task();
  }
  EXPECT_EQ(src.abandoned, 1);
  EXPECT_EQ(src.abandoned_token, src.core.version());
  {
    ValueTask<int> vt = src.value_task();
    ValueTask<int> moved = std::move(vt);
    src.core.set_result(1);
    EXPECT_EQ(moved.get_awaiter().get_result(), 1);  // consumed: no abandonment
  }
  EXPECT_EQ(src.abandoned, 1);
}

TEST(ValueTask, AsTaskOfAPendingSourceCompletesLater) {
  TestSource<int> src;
  duet::Task<int> t = src.value_task().as_task();
  EXPECT_FALSE(t.is_completed());
  src.core.set_result(21);
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), 21);
  EXPECT_EQ(t.result(), 21);  // a Task may be read any number of times
  EXPECT_EQ(src.abandoned, 0);
}

TEST(ValueTask, AsTaskOfAFaultedSourceFaults) {
  TestSource<int> src;
  duet::Task<int> t = src.value_task().as_task();
  src.core.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_TRUE(t.is_faulted());
  EXPECT_THROW(t.result(), std::runtime_error);
}

TEST(ValueTask, AsTaskOfValueAndTask) {
  EXPECT_EQ(ValueTask<int>(8).as_task().result(), 8);
  duet::TaskCompletionSource<int> tcs;
  duet::Task<int> same = ValueTask<int>(tcs.task()).as_task();
  EXPECT_TRUE(same == tcs.task());
  (void)duet::completed_task();  // the shared completed task is created on first use
  EXPECT_ALLOCATIONS(0, { (void)ValueTask<>().as_task(); });
}

TEST(ValueTask, PreserveAllowsManyAwaits) {
  TestSource<int> src;
  ValueTask<int> p = src.value_task().preserve();
  EXPECT_EQ(p.kind(), ValueTask<int>::Kind::task);
  auto a1 = p.get_awaiter();
  auto a2 = p.get_awaiter();
  src.core.set_result(6);
  EXPECT_EQ(a1.get_result(), 6);
  EXPECT_EQ(a2.get_result(), 6);
  EXPECT_EQ(p.get_awaiter().get_result(), 6);
  EXPECT_EQ(p.as_task().result(), 6);

  ValueTask<std::string> v = ValueTask<std::string>(std::string("hi")).preserve();
  EXPECT_EQ(v.kind(), ValueTask<std::string>::Kind::value);
  EXPECT_EQ(v.get_awaiter().get_result(), "hi");
  EXPECT_EQ(v.get_awaiter().get_result(), "hi");
}

TEST(ValueTask, MoveOnlyResults) {
  ValueTask<std::unique_ptr<int>> v(std::make_unique<int>(3));
  EXPECT_EQ(*v.get_awaiter().get_result(), 3);
  TestSource<std::unique_ptr<int>> src;
  auto a = src.value_task().get_awaiter();
  src.core.set_result(std::make_unique<int>(4));
  EXPECT_EQ(*a.get_result(), 4);
  auto p = ValueTask<std::unique_ptr<int>>(std::make_unique<int>(5)).preserve();
  EXPECT_EQ(p.kind(), ValueTask<std::unique_ptr<int>>::Kind::task);
  EXPECT_EQ(*p.get_awaiter().get_result(), 5);
}

TEST(ValueTask, ConfigureAwaitDecidesTheCapturedContext) {
  vt_test::RecordingContext ctx;
  duet::SyncContextScope scope(&ctx);
  {
    TestSource<int> src;
    auto a = src.value_task().get_awaiter();
    Flag f;
    a.unsafe_on_completed(f);
    EXPECT_EQ(f.context, &ctx);
    EXPECT_FALSE(f.flow_execution_context);  // unsafe_: the caller flows the context
    {
      duet::SyncContextScope elsewhere(nullptr);  // complete from a thread without the context
      src.core.set_result(1);
    }
    EXPECT_EQ(ctx.posts, 1);
    EXPECT_EQ(f.runs.load(), 0);
    ctx.drain();
    EXPECT_EQ(f.runs.load(), 1);
    EXPECT_EQ(a.get_result(), 1);
  }
  {
    TestSource<int> src;
    auto a = duet::get_awaiter(src.value_task().configure_await(false));
    Flag f;
    a.on_completed(f);
    EXPECT_EQ(f.context, nullptr);
    EXPECT_TRUE(f.flow_execution_context);  // on_completed flows the ExecutionContext
    src.core.set_result(2);  // on a thread whose context f never captured: the pool (rule 1)
    f.wait_ran();
    EXPECT_NE(f.thread, std::this_thread::get_id());
    EXPECT_EQ(a.get_result(), 2);
  }
  {
    duet::TaskCompletionSource<int> tcs;
    auto a = ValueTask<int>(tcs.task()).configure_await(false).get_awaiter();
    Flag f;
    a.unsafe_on_completed(f);
    EXPECT_EQ(f.context, nullptr);
    tcs.set_result(3);
    f.wait_ran();  // the pool, as above (rule 1)
    EXPECT_EQ(a.get_result(), 3);
  }
  EXPECT_EQ(ctx.posts, 1);
}

TEST(ValueTask, ResultBlocksOnAPendingSource) {
  TestSource<int> src;
  ValueTask<int> vt = src.value_task();
  std::thread producer([&] { src.core.set_result(12); });
  EXPECT_EQ(vt.result(), 12);
  producer.join();
}

TEST(ValueTask, VoidSource) {
  TestSource<void> src;
  auto a = src.value_task().get_awaiter();
  Flag f;
  a.unsafe_on_completed(f);
  src.core.set_result();
  EXPECT_EQ(f.runs.load(), 1);
  a.get_result();
  EXPECT_THROW(a.get_result(), InvalidOperationError);
}

TEST(ManualResetValueTaskSourceCore, VersionAndReset) {
  duet::ManualResetValueTaskSourceCore<int> core;
  const short v0 = core.version();
  EXPECT_EQ(core.get_status(v0), ValueTaskSourceStatus::pending);
  core.set_result(1);
  EXPECT_EQ(core.get_status(v0), ValueTaskSourceStatus::succeeded);
  EXPECT_EQ(core.get_result(v0), 1);
  core.reset();
  EXPECT_EQ(core.version(), static_cast<short>(v0 + 1));
  EXPECT_THROW((void)core.get_status(v0), InvalidOperationError);
  EXPECT_EQ(core.get_status(core.version()), ValueTaskSourceStatus::pending);
}

TEST(ManualResetValueTaskSourceCore, VersionWrapsAround) {
  duet::ManualResetValueTaskSourceCore<int> core;
  for (int i = 0; i < 70000; ++i) core.reset();
  EXPECT_EQ(core.get_status(core.version()), ValueTaskSourceStatus::pending);
}

TEST(ManualResetValueTaskSourceCore, CompletesOnce) {
  duet::ManualResetValueTaskSourceCore<int> core;
  core.set_result(1);
  EXPECT_THROW(core.set_result(2), InvalidOperationError);
  EXPECT_THROW(core.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
               InvalidOperationError);
  EXPECT_EQ(core.get_result(core.version()), 1);
  EXPECT_THROW(core.set_exception(nullptr), duet::ArgumentError);
}

TEST(ManualResetValueTaskSourceCore, GetResultBeforeCompletionThrows) {
  duet::ManualResetValueTaskSourceCore<int> core;
  EXPECT_THROW(core.get_result(core.version()), InvalidOperationError);
}

TEST(ManualResetValueTaskSourceCore, FaultedAndCanceled) {
  duet::ManualResetValueTaskSourceCore<int> core;
  core.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
  EXPECT_EQ(core.get_status(core.version()), ValueTaskSourceStatus::faulted);
  EXPECT_THROW(core.get_result(core.version()), std::runtime_error);
  core.reset();
  core.set_exception(std::make_exception_ptr(duet::OperationCanceledError()));
  EXPECT_EQ(core.get_status(core.version()), ValueTaskSourceStatus::canceled);
  EXPECT_THROW(core.get_result(core.version()), duet::OperationCanceledError);
  EXPECT_STREQ(duet::to_string(ValueTaskSourceStatus::canceled), "canceled");
}

TEST(ManualResetValueTaskSourceCore, RunContinuationsAsynchronouslyNeverRunsInline) {
  duet::ManualResetValueTaskSourceCore<int> core;
  core.set_run_continuations_asynchronously(true);
  EXPECT_TRUE(core.run_continuations_asynchronously());
  Flag f;
  core.on_completed(f, core.version(), Flags::none);
  core.set_result(3);
  f.wait_ran();
  EXPECT_NE(f.thread, std::this_thread::get_id());  // posted to the pool
  EXPECT_EQ(core.get_result(core.version()), 3);
}

TEST(ManualResetValueTaskSourceCore, FlagsChooseWhatIsCaptured) {
  vt_test::RecordingContext ctx;
  duet::SyncContextScope scope(&ctx);
  duet::ManualResetValueTaskSourceCore<int> core;
  Flag f;
  core.on_completed(f, core.version(), Flags::use_scheduling_context | Flags::flow_execution_context);
  EXPECT_EQ(f.context, &ctx);
  EXPECT_TRUE(f.flow_execution_context);
  core.set_result(1);  // completing on the context's own thread runs inline
  EXPECT_EQ(f.runs.load(), 1);
  EXPECT_EQ(ctx.posts, 0);
  core.reset();
  Flag g;
  core.on_completed(g, core.version(), Flags::none);
  EXPECT_EQ(g.context, nullptr);
  EXPECT_FALSE(g.flow_execution_context);
  core.set_result(2);
  // Nothing captured, but this thread has a context of its own: the continuation is queued to the
  // pool rather than run inline under a context it never asked for (issue 12, rule 1).
  g.wait_ran();
  EXPECT_EQ(g.runs.load(), 1);
  EXPECT_NE(g.thread, std::this_thread::get_id());
  EXPECT_EQ(ctx.posts, 0);
}

TEST(ManualResetValueTaskSourceCore, ProducerOnAnotherThread) {
  duet::ManualResetValueTaskSourceCore<int> core;
  for (int i = 0; i < 200; ++i) {
    Flag f;
    core.on_completed(f, core.version(), Flags::none);
    std::thread t([&] { core.set_result(i); });
    f.wait_ran();
    t.join();
    EXPECT_EQ(core.get_result(core.version()), i);
    core.reset();
  }
}
