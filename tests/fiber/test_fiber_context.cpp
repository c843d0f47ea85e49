// test_fiber_context.cpp — the fiber style with the context-flow runtime: async_void (the fiber
// form of AsyncVoidMethodBuilder) on a SingleThreadContext, the sync-over-async deadlock detected
// through a fiber's continuation, and AsyncLocal flowing through async_value fibers.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/async_void.hpp>
#include <duet/fiber/fiber.hpp>
#include <duet/fiber/async_value.hpp>

namespace {

using duet::Task;
using duet::TaskCompletionSource;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::atomic<int> g_unhandled_count{0};
std::string g_unhandled_what;
void record_unhandled(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    g_unhandled_what = ex.what();
  }
  g_unhandled_count.fetch_add(1);
}
std::atomic<int> g_unobserved_count{0};
void record_unobserved(std::exception_ptr) { g_unobserved_count.fetch_add(1); }

// this_thread_id() — get_id() the optimiser cannot merge across an await (fibers migrate).
[[gnu::noinline]] std::thread::id this_thread_id() {
  asm volatile("" ::: "memory");
  return std::this_thread::get_id();
}

class FiberAsyncVoidTest : public ::testing::Test {
 protected:
  void SetUp() override {
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
  }

  duet::UnhandledExceptionHandler previous_unhandled_ = nullptr;
  duet::UnobservedTaskExceptionHandler previous_unobserved_ = nullptr;
};

// ---- async_void ----------------------------------------------------------------------------

TEST_F(FiberAsyncVoidTest, CountsTheOperationOnTheLoopAndResumesOnIt) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<int> tcs;
  std::vector<std::string> log;
  std::thread::id resumed_on;
  duet::fiber::async_void([&] {
    log.push_back("start");
    const int v = duet::await(tcs.task());
    resumed_on = this_thread_id();
    log.push_back("got " + std::to_string(v));
  });
  EXPECT_EQ(log, (std::vector<std::string>{"start"}));
  EXPECT_EQ(ui.outstanding_operations(), 1);
  std::thread([&] { tcs.set_result(5); }).join();
  ui.run_until_operations_complete();
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(log, (std::vector<std::string>{"start", "got 5"}));
  EXPECT_EQ(resumed_on, std::this_thread::get_id()) << "resumed on the loop's thread";
}

TEST_F(FiberAsyncVoidTest, SynchronousCompletionCountsOnce) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  int ran = 0;
  duet::fiber::async_void([&] { ++ran; });
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(ui.pending_count(), 0u);
}

TEST_F(FiberAsyncVoidTest, ExceptionAfterSuspensionEscapesFromTheLoopsPump) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<> tcs;
  duet::fiber::async_void([&] {
    duet::await(tcs.task());
    throw TestError("handler failed");
  });
  tcs.set_result();  // resumes via the loop
  try {
    ui.run_until_operations_complete();
    FAIL() << "the handler's exception did not escape from the pump";
  } catch (const TestError& e) {
    EXPECT_STREQ(e.what(), "handler failed");
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(g_unhandled_count.load(), 0);
}

TEST_F(FiberAsyncVoidTest, SynchronousExceptionIsPostedNotThrownToTheCaller) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  EXPECT_NO_THROW(duet::fiber::async_void([] { throw TestError("at once"); }));
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(ui.pending_count(), 1u);
  EXPECT_THROW(ui.run_until_empty(), TestError);
}

TEST_F(FiberAsyncVoidTest, CanceledIsThrownAsynchronouslyToo) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  duet::fiber::async_void([] { throw duet::OperationCanceledError(); });
  EXPECT_THROW(ui.run_until_empty(), duet::OperationCanceledError);
}

TEST_F(FiberAsyncVoidTest, WithoutAContextTheExceptionGoesToTheUnhandledHandler) {
  TaskCompletionSource<> tcs;
  duet::fiber::async_void([&] {
    duet::await(tcs.task());
    throw TestError("nobody to catch it");
  });
  EXPECT_EQ(g_unhandled_count.load(), 0);
  tcs.set_result();  // resumes inline here; the end is reported on this thread
  EXPECT_EQ(g_unhandled_count.load(), 1);
  EXPECT_EQ(g_unhandled_what, "nobody to catch it");
}

// ---- deadlock detection through a fiber -------------------------------------------------------

TEST(FiberDeadlock, BlockingOnAFiberThatNeedsTheLoopThrowsDeadlockError) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<int> io;
  Task<int> t = duet::fiber::async([&] { return duet::await(io.task()) + 1; });
  std::thread device([&] {
    while (!ui.is_owner_blocked()) std::this_thread::yield();
    io.set_result(41);  // posts the fiber's continuation to the blocked loop
  });
  EXPECT_THROW((void)t.result(), duet::DeadlockError);
  device.join();
  EXPECT_EQ(ui.pending_count(), 1u) << "the fiber's continuation stays queued";
  ui.run_until(t);
  EXPECT_EQ(t.result(), 42);
}

TEST(FiberDeadlock, ConfigureAwaitFalseInTheFiberAvoidsIt) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<int> io;
  Task<int> t = duet::fiber::async([&] { return duet::await(io.task().configure_await(false)) + 1; });
  std::thread device([&] {
    while (!ui.is_owner_blocked()) std::this_thread::yield();
    io.set_result(41);
  });
  EXPECT_EQ(t.result(), 42);
  device.join();
}

// ---- AsyncLocal through async_value ------------------------------------------------------------

duet::AsyncLocal<std::string> g_id;

[[gnu::noinline]] std::string current_id() {
  asm volatile("" ::: "memory");
  return g_id.value();
}

TEST(FiberValueTaskContext, AsyncLocalFlowsThroughAndStaysInsideTheCallee) {
  duet::ExecutionContext::run(duet::ExecutionContext(), [] {
    g_id.set_value("caller");
    TaskCompletionSource<int> tcs;
    std::vector<std::string> seen;
    duet::ValueTask<int> vt = duet::fiber::async_value([&] {
      seen.push_back(current_id());  // inherited
      g_id.set_value("callee");
      const int v = duet::await(tcs.task());
      seen.push_back(current_id());  // flowed to the completing thread
      return v;
    });
    EXPECT_EQ(current_id(), "caller") << "the callee's change does not reach its caller";
    std::thread([&] { tcs.set_result(3); }).join();
    EXPECT_EQ(vt.result(), 3);
    EXPECT_EQ(seen, (std::vector<std::string>{"caller", "callee"}));
    EXPECT_EQ(current_id(), "caller");

    // A synchronous call (the pooled object goes straight back) does not leak either.
    duet::ValueTask<int> sync = duet::fiber::async_value([] {
      g_id.set_value("sync callee");
      return 1;
    });
    EXPECT_EQ(sync.result(), 1);
    EXPECT_EQ(current_id(), "caller");
  });
  EXPECT_EQ(current_id(), "");
}

}  // namespace
