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
#include <duet/fiber/value_task.hpp>

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

// ---- deadlock detection through a fiber -------------------------------------------------------

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
