// test_fiber.cpp — the fiber mechanism: in_fiber(), the fast path's zero switches and
// allocations, await outside a fiber, the per-thread control-block cache, the handled exception
// travelling with a fiber across a switch, stack sizes and the stack pool. How fiber methods
// behave (the same as every style) is tested in tests/semantic.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

#include "alloc_counter.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::fiber::async;

// ---- helpers -----------------------------------------------------------------------------

// this_thread_id() — std::this_thread::get_id() behind a call the compiler cannot fold:
// pthread_self() is declared __attribute__((const)), so two get_id() calls in one function may be
// merged across an await — and after the await the fiber may be on another thread. noinline
// alone is not enough (the optimiser would infer this helper const too); the asm barrier makes it
// opaque.
[[gnu::noinline]] std::thread::id this_thread_id() {
  asm volatile("" ::: "memory");
  return std::this_thread::get_id();
}

// to_pool() — an awaitable that always suspends and resumes on a thread-pool worker.
auto to_pool() { return duet::configure_await(duet::yield(), false); }

// ---- start and fast path -------------------------------------------------------------------

TEST(Fiber, RunsToCompletionSynchronouslyWithoutAwait) {
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  Task<int> t = async([&] {
    ran_on = std::this_thread::get_id();
    EXPECT_TRUE(duet::fiber::in_fiber());
    return 42;
  });
  EXPECT_EQ(ran_on, caller);
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 42);
  EXPECT_FALSE(duet::fiber::in_fiber());
}

TEST(Fiber, AwaitingACompletedTaskMakesNoSwitchAndNoAllocation) {
  const Task<int> done = duet::from_result(5);
  const Task<> done_void = duet::completed_task();
  std::uint64_t allocations = 1;
  std::uint64_t switches = 1;
  Task<long> t = async([&] {
    const std::uint64_t before = duet::fiber::detail::thread_switch_count();
    duet::testing::AllocScope scope;
    long sum = 0;
    for (int i = 0; i < 1000; ++i) {
      sum += duet::await(done);
      duet::await(done_void);
    }
    allocations = scope.allocations();
    switches = duet::fiber::detail::thread_switch_count() - before;
    return sum;
  });
  EXPECT_EQ(t.result(), 5000);
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(switches, 0u);
}

TEST(Fiber, AwaitOutsideAFiberThrowsInvalidOperation) {
  TaskCompletionSource<int> tcs;
  try {
    duet::await(tcs.task());
    FAIL() << "await outside a fiber did not throw";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("outside a fiber"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("duet::fiber::async"), std::string::npos) << e.what();
  }
  // Also when the task is already completed: the misuse must not depend on timing.
  EXPECT_THROW(duet::await(duet::from_result(1)), duet::InvalidOperationError);
}

// Control blocks come from a per-thread cache: a finished fiber's block serves the next fiber
// created on the thread that freed it (no allocation), blocks may be freed on any thread, and a
// thread's cache is emptied when it exits (LeakSanitizer checks that under ASan).
TEST(Fiber, ControlBlocksAreCachedPerThreadAndFreedOnAnyThread) {
  (void)async([] { return 0; });  // warm this thread's cache (and the stack pool)
  duet::testing::AllocScope scope;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(async([i] { return i; }).result(), i);
  EXPECT_EQ(scope.allocations(), 0u);

  std::vector<Task<int>> tasks;
  TaskCompletionSource<> gate;
  std::thread([&] {  // created on a thread that exits before they finish
    for (int i = 0; i < 100; ++i) {
      tasks.push_back(async([&gate, i] {
        duet::await(gate.task());
        return i;
      }));
    }
  }).join();
  gate.set_result();  // they finish here, inline
  std::thread([&] {  // and their blocks are freed here: 32 cached, the rest deleted
    for (int i = 0; i < 100; ++i) EXPECT_EQ(tasks[static_cast<std::size_t>(i)].result(), i);
    tasks.clear();
  }).join();
}

// ---- exceptions ----------------------------------------------------------------------------

// The exception being handled is part of the fiber's state: it travels with the fiber when an
// await inside the handler resumes on another thread (the rethrow itself is tested in every
// style in tests/semantic/test_method_core.cpp).
TEST(Fiber, AwaitInsideACatchHandlerMigratesAndRethrows) {
  std::thread::id handler_thread;
  Task<std::string> t = async([&]() -> std::string {
    try {
      try {
        throw std::runtime_error("first");
      } catch (const std::runtime_error&) {
        EXPECT_NE(std::current_exception(), nullptr);
        duet::await(to_pool());  // suspended inside the handler; resumes on another thread
        handler_thread = this_thread_id();
        EXPECT_TRUE(duet::is_thread_pool_thread());
        EXPECT_NE(std::current_exception(), nullptr);  // the handled exception came along
        throw;
      }
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  });
  // The caller is not inside any handler, whatever the suspended fiber is doing.
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
  EXPECT_EQ(t.result(), "first");
  EXPECT_NE(handler_thread, std::this_thread::get_id());
}

// A registration that throws faults the call in every style (tests/semantic/test_method_core.cpp).
// The fiber's own part: its stack unwinds (destructors run), and a catch (...) that swallows the
// unwind does not turn the call into a success.
struct ThrowingRegistration {
  bool is_completed() const noexcept { return false; }
  void on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  void unsafe_on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  int get_result() { return 0; }
};
struct FailsToRegister {
  ThrowingRegistration get_awaiter() const { return {}; }
};

TEST(Fiber, AFailedRegistrationUnwindsTheStackAndFaultsTheCallEvenIfSwallowed) {
  int destroyed = 0;
  int after_catch = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  Task<int> t = async([&] {
    try {
      Guard g{&destroyed};
      return duet::await(FailsToRegister{});
    } catch (...) {  // swallows the unwind
    }
    ++after_catch;
    return 7;
  });
  ASSERT_TRUE(t.is_faulted());
  EXPECT_THROW((void)t.result(), std::runtime_error);
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(after_catch, 1);
}

// ---- stacks --------------------------------------------------------------------------------

TEST(FiberStack, SizeIsConfigurablePerFiberAndGlobally) {
  EXPECT_EQ(duet::fiber::current_stack_size(), 0u);
  EXPECT_EQ(async([] { return duet::fiber::current_stack_size(); }).result(),
            duet::fiber::default_stack_size());
  EXPECT_EQ(async([] { return duet::fiber::current_stack_size(); }, duet::fiber::FiberOptions{}.with_stack_size(32 * 1024)).result(),
            32u * 1024);
  // Rounded up to whole pages.
  EXPECT_EQ(async([] { return duet::fiber::current_stack_size(); }, duet::fiber::FiberOptions{}.with_stack_size(20000)).result(),
            20480u);
  EXPECT_EQ(async([] { return duet::fiber::current_stack_size(); }, duet::fiber::FiberOptions{}.with_guard_page(false)).result(),
            duet::fiber::default_stack_size());

  const std::size_t old = duet::fiber::default_stack_size();
  duet::fiber::set_default_stack_size(128 * 1024);
  EXPECT_EQ(async([] { return duet::fiber::current_stack_size(); }).result(), 128u * 1024);
  duet::fiber::set_default_stack_size(old);

  EXPECT_THROW(duet::fiber::set_default_stack_size(100), duet::ArgumentError);
  EXPECT_THROW(async([] {}, duet::fiber::FiberOptions{}.with_stack_size(100)), duet::ArgumentError);
}

TEST(FiberStack, StacksArePooled) {
  async([] {}).wait();  // warm this thread's cache
  const auto before = duet::fiber::stack_stats();
  for (int i = 0; i < 100; ++i) async([] {}).wait();
  const auto after = duet::fiber::stack_stats();
  // Every finished fiber gave its stack back, so the next one reused it: nothing new mapped.
  EXPECT_EQ(after.mapped, before.mapped);
}

// Item 22 (issue 12): current_thread_id() is read afresh after an await that moved the fiber to
// another thread (two std::this_thread::get_id() reads may be merged at -O1/-O2), and
// switch_count() counts the switches into fibers of the calling thread.
TEST(Fiber, Item22_CurrentThreadIdAndSwitchCountAcrossAMigratingAwait) {
  TaskCompletionSource<int> tcs;
  std::thread::id before, after;
  const std::uint64_t switches_before = duet::fiber::switch_count();
  Task<int> t = async([&] {
    before = duet::fiber::current_thread_id();
    const int v = duet::await(tcs.task());  // resumes on the completing thread
    after = duet::fiber::current_thread_id();
    return v;
  });
  EXPECT_EQ(duet::fiber::switch_count() - switches_before, 1u) << "the start switched in once";
  std::thread::id completer;
  std::uint64_t completer_switches = 0;
  std::thread other([&] {
    completer = std::this_thread::get_id();
    const std::uint64_t s0 = duet::fiber::switch_count();
    tcs.set_result(9);
    completer_switches = duet::fiber::switch_count() - s0;
  });
  other.join();
  EXPECT_EQ(t.result(), 9);
  EXPECT_EQ(before, std::this_thread::get_id());
  EXPECT_EQ(after, completer);
  EXPECT_NE(before, after);
  EXPECT_EQ(completer_switches, 1u) << "the resumption switched into the fiber on the completer";
}

}  // namespace
