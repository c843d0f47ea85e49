// test_async_void.cpp — the AsyncVoidMethodBuilder API itself: create() starts the operation
// eagerly, and set_exception() called by move_next() throws asynchronously. How async void
// methods behave is tested in every style in tests/semantic/test_async_void.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <duet/duet.hpp>

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

TEST_F(AsyncVoidTest, CreateCapturesEagerly) {
  CountingContext ctx;
  {
    duet::SyncContextScope scope(&ctx);
    auto b = duet::AsyncVoidMethodBuilder::create();
    (void)b;
  }
  EXPECT_EQ(ctx.started.load(), 1);  // .NET's Create() calls OperationStarted
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

}  // namespace
