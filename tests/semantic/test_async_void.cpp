// tests/semantic/test_async_void.cpp — async void methods in every style: the method is an
// outstanding operation of the SynchronizationContext it captured until it ends, it resumes on
// that context, its finally block runs before an escaping exception leaves it, and that
// exception is thrown asynchronously — posted to the captured context, or to the pool and the
// unhandled-exception handler — never to the caller (ported from tests/context/test_async_void.cpp,
// tests/dsl/test_dsl_async_void.cpp and tests/fiber/test_fiber_context.cpp; the builder's own
// API — create(), set_exception() — stays in tests/context).
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::TaskCompletionSource;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::atomic<int> g_unhandled_count{0};
std::string g_unhandled_what;
void record_unhandled(std::exception_ptr e) {
  g_unhandled_what = duet::describe(e);
  g_unhandled_count.fetch_add(1);
  g_unhandled_count.notify_all();
}
std::atomic<int> g_unobserved_count{0};
void record_unobserved(std::exception_ptr) { g_unobserved_count.fetch_add(1); }

template <class S>
class AsyncVoid : public duet::testing::DuetTest {
 protected:
  void SetUp() override {
    duet::testing::DuetTest::SetUp();
    g_unhandled_count = 0;
    g_unobserved_count = 0;
    g_unhandled_what.clear();
    previous_unhandled_ = duet::set_unhandled_exception_handler(&record_unhandled);
    previous_unobserved_ = duet::set_unobserved_task_exception_handler(&record_unobserved);
  }
  void TearDown() override {
    duet::set_unhandled_exception_handler(previous_unhandled_);
    duet::set_unobserved_task_exception_handler(previous_unobserved_);
    EXPECT_EQ(g_unobserved_count.load(), 0) << "the hidden task's fault is always observed";
    duet::testing::DuetTest::TearDown();
  }

  duet::UnhandledExceptionHandler previous_unhandled_ = nullptr;
  duet::UnobservedTaskExceptionHandler previous_unobserved_ = nullptr;
};
TYPED_TEST_SUITE(AsyncVoid, AllStyles, StyleName);

// CountingContext — the base (pool) context plus operation counters.
struct CountingContext : duet::SynchronizationContext {
  std::atomic<int> started{0}, completed{0};
  void operation_started() noexcept override { ++started; }
  void operation_completed() noexcept override {
    ++completed;
    completed.notify_all();
  }
};

[[gnu::noinline]] duet::SynchronizationContext* current_context() {
  asm volatile("" ::: "memory");
  return duet::SynchronizationContext::current();
}

TYPED_TEST(AsyncVoid, CountsTheOperationOnTheCapturedContextAndResumesOnIt) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<int> tcs;
  std::vector<std::string> log;
  std::thread::id resumed_on;
  bool resumed_on_ui = false;
  TypeParam::fire([&] { log.push_back("start"); }, [&] { return tcs.task(); },
                  [&](int v) {
                    resumed_on = thread_now();
                    resumed_on_ui = current_context() == &ui;
                    log.push_back("got " + std::to_string(v));
                  },
                  [&] { log.push_back("finally"); });
  EXPECT_EQ(log, (std::vector<std::string>{"start"}));
  EXPECT_EQ(ui.outstanding_operations(), 1);  // started, suspended, not finished
  std::thread([&] { tcs.set_result(5); }).join();
  ui.run_until_operations_complete();
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(log, (std::vector<std::string>{"start", "got 5", "finally"}));
  EXPECT_EQ(resumed_on, std::this_thread::get_id()) << "resumed on the loop's thread";
  EXPECT_TRUE(resumed_on_ui);
}

TYPED_TEST(AsyncVoid, CompletedFromTheLoopThreadRunsToItsEnd) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  std::string log;
  TaskCompletionSource<> input;
  TypeParam::fire([&] { log += "start "; }, [&] { return input.task(); }, [&] { log += "done "; },
                  [&] { log += "finally"; });
  EXPECT_EQ(log, "start ");
  EXPECT_EQ(ui.outstanding_operations(), 1);
  input.set_result();  // from the owner thread: the continuation is inlined or posted to `ui`
  ui.run_until_operations_complete();
  EXPECT_EQ(log, "start done finally");
  EXPECT_EQ(ui.outstanding_operations(), 0);
}

TYPED_TEST(AsyncVoid, SynchronousCompletionCountsOnce) {
  CountingContext ctx;
  {
    duet::SyncContextScope scope(&ctx);
    TypeParam::fire(nop, [] { return duet::completed_task(); }, nop);
  }
  EXPECT_EQ(ctx.started.load(), 1);
  EXPECT_EQ(ctx.completed.load(), 1);

  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  std::string log;
  int ran = 0;
  TypeParam::fire([&] { log += "start "; }, [] { return duet::completed_task(); },
                  [&] {
                    ++ran;
                    log += "done ";
                  },
                  [&] { log += "finally"; });
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(log, "start done finally");
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(ui.pending_count(), 0u);
}

TYPED_TEST(AsyncVoid, ExceptionAfterSuspensionEscapesFromTheLoopsPump) {
  duet::SingleThreadContext ui;
  std::string log;
  TaskCompletionSource<> tcs;
  {
    duet::SyncContextScope scope(&ui);
    TypeParam::fire([&] { log += "start "; }, [&] { return tcs.task(); },
                    [] { throw TestError("handler failed"); }, [&] { log += "finally"; });
  }
  duet::run([&] { tcs.set_result(); }).wait();
  try {
    ui.run_until_operations_complete();
    ADD_FAILURE() << "the async void exception did not surface from the pump";
  } catch (const TestError& e) {
    EXPECT_STREQ(e.what(), "handler failed");
  }
  // The finally block ran before the exception left the method; the loop then rethrew it.
  EXPECT_EQ(log, "start finally");
  EXPECT_EQ(ui.outstanding_operations(), 0);  // operation_completed still ran
  EXPECT_EQ(g_unhandled_count.load(), 0);
}

TYPED_TEST(AsyncVoid, SynchronousExceptionIsPostedNotThrownToTheCaller) {
  duet::SingleThreadContext ui;
  {
    duet::SyncContextScope scope(&ui);
    EXPECT_NO_THROW(TypeParam::fire([] { throw std::logic_error("before any await"); },
                                    [] { return duet::completed_task(); }, nop));
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(ui.pending_count(), 1u);
  EXPECT_THROW(ui.run_until_empty(), std::logic_error);
}

TYPED_TEST(AsyncVoid, CanceledIsThrownAsynchronouslyToo) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  // An awaited cancellation...
  TypeParam::fire(nop, [] { return duet::from_canceled<>(); }, nop);
  EXPECT_THROW(ui.run_until_empty(), duet::OperationCanceledError);
  // ...and a thrown one.
  TypeParam::fire([] { throw duet::OperationCanceledError(); }, [] { return duet::completed_task(); }, nop);
  EXPECT_THROW(ui.run_until_empty(), duet::OperationCanceledError);
}

TYPED_TEST(AsyncVoid, WithoutAContextTheExceptionGoesToTheUnhandledHandler) {
  TaskCompletionSource<> tcs;
  TypeParam::fire(nop, [&] { return tcs.task(); }, [] { throw TestError("nobody catches this"); });
  EXPECT_EQ(g_unhandled_count.load(), 0);
  duet::run([&] { tcs.set_result(); }).wait();  // the method resumes and throws on the pool
  g_unhandled_count.wait(0);
  EXPECT_EQ(g_unhandled_count.load(), 1);
  EXPECT_EQ(g_unhandled_what, "nobody catches this");
}

TYPED_TEST(AsyncVoid, ResumedInlineWithoutAContextTheExceptionIsReportedThere) {
  TaskCompletionSource<> tcs;
  TypeParam::fire(nop, [&] { return tcs.task(); }, [] { throw TestError("nobody to catch it"); });
  EXPECT_EQ(g_unhandled_count.load(), 0);
  tcs.set_result();  // resumes inline here; the end is reported on this thread
  g_unhandled_count.wait(0);
  EXPECT_EQ(g_unhandled_count.load(), 1);
  EXPECT_EQ(g_unhandled_what, "nobody to catch it");
}

TYPED_TEST(AsyncVoid, OnTheBaseContextTheExceptionIsPostedToThePoolAndReported) {
  CountingContext ctx;
  TaskCompletionSource<> tcs;
  {
    duet::SyncContextScope scope(&ctx);
    TypeParam::fire(nop, [&] { return tcs.task().configure_await(false); },
                    [] { throw std::runtime_error("posted to the pool"); });
  }
  tcs.set_result();
  g_unhandled_count.wait(0);
  ctx.completed.wait(0);
  EXPECT_EQ(g_unhandled_what, "posted to the pool");
  EXPECT_EQ(ctx.started.load(), 1);
  EXPECT_EQ(ctx.completed.load(), 1);
}

TYPED_TEST(AsyncVoid, NormalCompletionReportsNothing) {
  TaskCompletionSource<> tcs;
  std::atomic<bool> done{false};
  TypeParam::fire(nop, [&] { return tcs.task(); }, [&] {
    done = true;
    done.notify_all();
  });
  tcs.set_result();
  done.wait(false);
  EXPECT_EQ(g_unhandled_count.load(), 0);
}

}  // namespace
}  // namespace semantic
