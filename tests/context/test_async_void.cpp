// test_async_void.cpp — AsyncVoidMethodBuilder: operation_started/completed on the captured
// context, exceptions thrown asynchronously to that context's loop or to the unhandled handler.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <duet/duet.hpp>

#include "context_machines.hpp"

using ctx_test::async_void;
using ctx_test::Nothing;

namespace {

// Unhandled — a replaceable unhandled-exception handler that records what it gets.
std::atomic<int> g_unhandled_count{0};
std::string g_unhandled_what;
void record_unhandled(std::exception_ptr e) {
  g_unhandled_what = duet::describe(e);
  g_unhandled_count.fetch_add(1);
  g_unhandled_count.notify_all();
}

std::atomic<int> g_unobserved_count{0};
void record_unobserved(std::exception_ptr) { g_unobserved_count.fetch_add(1); }

class AsyncVoidTest : public ::testing::Test {
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
    EXPECT_EQ(g_unobserved_count.load(), 0);  // the hidden task's fault is always observed
  }

  duet::UnhandledExceptionHandler previous_unhandled_ = nullptr;
  duet::UnobservedTaskExceptionHandler previous_unobserved_ = nullptr;
};

// CountingContext — the base (pool) context plus operation counters.
struct CountingContext : duet::SynchronizationContext {
  std::atomic<int> started{0}, completed{0};
  void operation_started() noexcept override { ++started; }
  void operation_completed() noexcept override {
    ++completed;
    completed.notify_all();
  }
};

TEST_F(AsyncVoidTest, CountsTheOperationOnTheCapturedContextAndResumesOnIt) {
  duet::SingleThreadContext ui;
  duet::TaskCompletionSource<> tcs;
  bool resumed_on_ui = false;
  {
    duet::SyncContextScope scope(&ui);
    async_void(Nothing{}, [&] { return tcs.task(); },
               [&] { resumed_on_ui = duet::SynchronizationContext::current() == &ui; });
  }
  EXPECT_EQ(ui.outstanding_operations(), 1);  // started, suspended, not finished
  duet::run([&] { tcs.set_result(); }).wait();
  ui.run_until_operations_complete();
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_TRUE(resumed_on_ui);
}

TEST_F(AsyncVoidTest, SynchronousCompletionCountsOnce) {
  CountingContext ctx;
  {
    duet::SyncContextScope scope(&ctx);
    async_void(Nothing{}, [] { return duet::completed_task(); }, Nothing{});
  }
  EXPECT_EQ(ctx.started.load(), 1);
  EXPECT_EQ(ctx.completed.load(), 1);
}

TEST_F(AsyncVoidTest, CreateCapturesEagerly) {
  CountingContext ctx;
  {
    duet::SyncContextScope scope(&ctx);
    auto b = duet::AsyncVoidMethodBuilder::create();
    (void)b;
  }
  EXPECT_EQ(ctx.started.load(), 1);  // .NET's Create() calls OperationStarted
}

TEST_F(AsyncVoidTest, ExceptionAfterSuspensionEscapesFromTheLoopsPump) {
  duet::SingleThreadContext ui;
  duet::TaskCompletionSource<> tcs;
  {
    duet::SyncContextScope scope(&ui);
    async_void(Nothing{}, [&] { return tcs.task(); },
               [] { throw std::runtime_error("handler failed"); });
  }
  duet::run([&] { tcs.set_result(); }).wait();
  try {
    ui.run_until_operations_complete();
    ADD_FAILURE() << "the async void exception did not surface from the pump";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "handler failed");
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);  // operation_completed still ran
  EXPECT_EQ(g_unhandled_count.load(), 0);
}

TEST_F(AsyncVoidTest, SynchronousExceptionIsPostedNotThrownToTheCaller) {
  duet::SingleThreadContext ui;
  {
    duet::SyncContextScope scope(&ui);
    EXPECT_NO_THROW(async_void([] { throw std::logic_error("before any await"); },
                               [] { return duet::completed_task(); }, Nothing{}));
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_EQ(ui.pending_count(), 1u);
  EXPECT_THROW(ui.run_until_empty(), std::logic_error);
}

TEST_F(AsyncVoidTest, CanceledIsThrownAsynchronouslyToo) {
  duet::SingleThreadContext ui;
  {
    duet::SyncContextScope scope(&ui);
    async_void(Nothing{}, [] { return duet::from_canceled<>(); }, Nothing{});
  }
  EXPECT_THROW(ui.run_until_empty(), duet::OperationCanceledError);
}

TEST_F(AsyncVoidTest, ExplicitSetExceptionThrowsAsynchronously) {
  // Roslyn's shape: move_next catches and hands the exception to the builder.
  struct Machine {
    int state_ = -1;
    duet::AsyncVoidMethodBuilder builder_;
    void move_next() {
      try {
        throw std::runtime_error("caught by move_next");
      } catch (...) {
        state_ = -2;
        builder_.set_exception(std::current_exception());
        return;
      }
    }
  };
  duet::SingleThreadContext ui;
  {
    duet::SyncContextScope scope(&ui);
    Machine sm;
    sm.builder_.start(sm);
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);
  EXPECT_THROW(ui.run_until_empty(), std::runtime_error);
}

TEST_F(AsyncVoidTest, WithoutAContextTheExceptionGoesToTheUnhandledHandler) {
  duet::TaskCompletionSource<> tcs;
  async_void(Nothing{}, [&] { return tcs.task(); },
             [] { throw std::runtime_error("nobody catches this"); });
  EXPECT_EQ(g_unhandled_count.load(), 0);
  duet::run([&] { tcs.set_result(); }).wait();  // the method resumes and throws on the pool
  g_unhandled_count.wait(0);
  EXPECT_EQ(g_unhandled_count.load(), 1);
  EXPECT_EQ(g_unhandled_what, "nobody catches this");
}

TEST_F(AsyncVoidTest, OnTheBaseContextTheExceptionIsPostedToThePoolAndReported) {
  CountingContext ctx;
  duet::TaskCompletionSource<> tcs;
  {
    duet::SyncContextScope scope(&ctx);
    async_void(Nothing{}, [&] { return tcs.task().configure_await(false); },
               [] { throw std::runtime_error("posted to the pool"); });
  }
  tcs.set_result();
  g_unhandled_count.wait(0);
  ctx.completed.wait(0);
  EXPECT_EQ(g_unhandled_what, "posted to the pool");
  EXPECT_EQ(ctx.started.load(), 1);
  EXPECT_EQ(ctx.completed.load(), 1);
}

TEST_F(AsyncVoidTest, NormalCompletionReportsNothing) {
  duet::TaskCompletionSource<> tcs;
  std::atomic<bool> done{false};
  async_void(Nothing{}, [&] { return tcs.task(); }, [&] {
    done = true;
    done.notify_all();
  });
  tcs.set_result();
  done.wait(false);
  EXPECT_EQ(g_unhandled_count.load(), 0);
}

}  // namespace
