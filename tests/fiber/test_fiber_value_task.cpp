// test_fiber_value_task.cpp — the mechanism of duet::fiber::async_value, whose pooled fiber
// object is itself the IValueTaskSource: reuse of the object and its version token, allocation
// counts in steady state, stale and concurrent awaits of the source, abandoned ValueTasks, a bad
// stack size, and the race between a fiber finishing elsewhere and async_value() returning. How
// ValueTask-returning methods behave is tested in every style in
// tests/semantic/test_value_task_methods.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>
#include <duet/fiber/async_value.hpp>

#include "alloc_counter.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::ValueTask;
using duet::fiber::async_value;
using Kind = ValueTask<int>::Kind;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Gate — an awaitable the test opens by hand, allocation-free: its awaiter keeps the waiting
// continuation, open(v) runs it on the calling thread. One waiter at a time.
class Gate {
 public:
  struct Awaiter {
    Gate* gate;
    bool is_completed() const noexcept { return gate->open_; }
    void on_completed(duet::Continuation& c) noexcept {
      duet::detail::capture_execution_context(c);
      gate->waiting_ = &c;
    }
    void unsafe_on_completed(duet::Continuation& c) noexcept { gate->waiting_ = &c; }
    int get_result() const noexcept { return gate->value_; }
  };
  Awaiter get_awaiter() noexcept { return Awaiter{this}; }

  bool has_waiter() const noexcept { return waiting_ != nullptr; }
  // open(v) — resumes the waiter (if any) with v, here; then closes again.
  void open(int v) {
    value_ = v;
    if (duet::Continuation* c = std::exchange(waiting_, nullptr)) duet::run_continuation(c);
  }

 private:
  duet::Continuation* waiting_ = nullptr;
  int value_ = 0;
  bool open_ = false;
};

// The call sites under test: one pool per call site (per lambda type).
ValueTask<int> square_async(int x) {
  return async_value([x] { return x * x; });
}
ValueTask<int> gated_async(Gate& gate, int add) {
  return async_value([&gate, add] { return duet::await(gate) + add; });
}
ValueTask<int> maybe_throw_async(Gate* gate, bool cancel) {
  return async_value([gate, cancel]() -> int {
    if (gate) duet::await(*gate);
    if (cancel) throw duet::OperationCanceledError();
    throw TestError("boom");
  });
}

// consume(vt) — the completed ValueTask's result through its awaiter (no allocation).
template <class T>
T consume(ValueTask<T>& vt) {
  auto aw = vt.get_awaiter();
  EXPECT_TRUE(aw.is_completed());
  return aw.get_result();
}

// ---- synchronous completion ------------------------------------------------------------------

TEST(FiberValueTask, SynchronousCompletionAllocatesNothingInSteadyState) {
  (void)square_async(1).result();  // warm: this call site's object, a stack in this thread's pool
  duet::testing::AllocScope scope;
  long sum = 0;
  for (int i = 0; i < 1000; ++i) {
    ValueTask<int> vt = square_async(i);
    sum += consume(vt);
  }
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_EQ(sum, 332833500L);
}

// ---- suspension: the fiber object is the source ------------------------------------------------

TEST(FiberValueTask, TheObjectIsReusedWithANewVersionAfterConsumption) {
  Gate gate;
  ValueTask<int> first = gated_async(gate, 0);
  duet::IValueTaskSource<int>* const source = first.source();
  const short token = first.token();
  gate.open(1);
  EXPECT_EQ(consume(first), 1);

  ValueTask<int> second = gated_async(gate, 0);
  EXPECT_EQ(second.source(), source) << "the consumed fiber object serves the next call";
  EXPECT_NE(second.token(), token) << "with a new version: the old token is stale";
  gate.open(2);
  EXPECT_EQ(consume(second), 2);
}

TEST(FiberValueTask, SuspendingCallAllocatesNothingInSteadyState) {
  Gate gate;
  for (int i = 0; i < 3; ++i) {  // warm
    ValueTask<int> vt = gated_async(gate, i);
    gate.open(i);
    (void)consume(vt);
  }
  duet::testing::AllocScope scope;
  long sum = 0;
  for (int i = 0; i < 1000; ++i) {
    ValueTask<int> vt = gated_async(gate, 1);
    if (vt.kind() != Kind::source) ADD_FAILURE() << "the call did not suspend";
    gate.open(i);
    sum += consume(vt);
  }
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_EQ(sum, 500500L);
}

TEST(FiberValueTask, ARecycledObjectIsFoundByTheNextCallOnAnyThread) {
  // Completed and consumed on another thread, the object goes to the shared list, where the next
  // call on this thread finds it (see "Pool" in duet/fiber/value_task.hpp).
  auto relay_async = [](Task<int> t) { return async_value([t = std::move(t)] { return duet::await(t); }); };
  TaskCompletionSource<int> first;
  ValueTask<int> vt = relay_async(first.task());
  duet::IValueTaskSource<int>* const source = vt.source();
  ASSERT_NE(source, nullptr);
  std::thread([&] {
    first.set_result(1);
    EXPECT_EQ(consume(vt), 1);
  }).join();
  TaskCompletionSource<int> second;
  ValueTask<int> next = relay_async(second.task());
  EXPECT_EQ(next.source(), source);
  second.set_result(2);
  EXPECT_EQ(consume(next), 2);
}

// ---- the await-once rule ---------------------------------------------------------------------

TEST(FiberValueTask, StaleTokenThrowsAfterConsumption) {
  Gate gate;
  ValueTask<int> vt = gated_async(gate, 0);
  duet::IValueTaskSource<int>* const source = vt.source();
  const short token = vt.token();
  ASSERT_NE(source, nullptr);
  gate.open(5);
  EXPECT_EQ(consume(vt), 5);
  try {
    (void)source->get_status(token);
    FAIL() << "a stale token was accepted";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("moved on"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)source->get_result(token), duet::InvalidOperationError);
}

TEST(FiberValueTask, ConcurrentAwaitThrowsInvalidOperation) {
  struct Flag : duet::Continuation {
    bool ran = false;
  };
  Flag c1, c2;
  c1.invoke = c2.invoke = [](duet::Continuation* c) noexcept { static_cast<Flag*>(c)->ran = true; };
  Gate gate;
  ValueTask<int> vt = gated_async(gate, 0);
  duet::IValueTaskSource<int>* const source = vt.source();
  ASSERT_NE(source, nullptr);
  source->on_completed(c1, vt.token(), duet::ValueTaskSourceOnCompletedFlags::none);
  try {
    source->on_completed(c2, vt.token(), duet::ValueTaskSourceOnCompletedFlags::none);
    FAIL() << "a second registration was accepted";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("concurrently"), std::string::npos) << e.what();
  }
  gate.open(1);
  EXPECT_TRUE(c1.ran);
  EXPECT_FALSE(c2.ran);
  EXPECT_EQ(consume(vt), 1);
}

// ---- faults and cancellation -----------------------------------------------------------------

TEST(FiberValueTask, AbandonedValueTaskReturnsTheObjectWhenTheFiberEnds) {
  Gate gate;
  duet::IValueTaskSource<int>* source = nullptr;
  {
    ValueTask<int> vt = gated_async(gate, 0);
    source = vt.source();
  }  // dropped unconsumed while the fiber is suspended
  gate.open(1);  // the fiber ends; with no consumer left, the object is recycled
  ValueTask<int> next = gated_async(gate, 0);
  EXPECT_EQ(next.source(), source);
  gate.open(2);
  EXPECT_EQ(consume(next), 2);
  { ValueTask<int> faulted = maybe_throw_async(nullptr, false); }  // abandoned after a fault
  EXPECT_THROW((void)maybe_throw_async(nullptr, false).result(), TestError);
}

TEST(FiberValueTask, BadStackSizeThrowsBeforeRunningAndTheCallSiteStillWorks) {
  bool ran = false;
  auto call = [&ran](duet::fiber::FiberOptions o) {
    return async_value([&ran] {
      ran = true;
      return 1;
    }, o);
  };
  EXPECT_THROW((void)call(duet::fiber::FiberOptions{}.with_stack_size(1)), duet::ArgumentError);
  EXPECT_FALSE(ran);
  EXPECT_EQ(call({}).result(), 1);
  EXPECT_TRUE(ran);
}

// ---- the start/finish race -----------------------------------------------------------------------

TEST(FiberValueTask, FiberFinishingOnAnotherThreadWhileAsyncValueReturnsStress) {
  // Each call's awaited task is completed by another thread at the instant the fiber reaches its
  // await: the completion lands before, during or after the suspension, and the fiber may finish
  // on the other thread before async_value() has returned ("Phases" in value_task.hpp).
  constexpr int k_rounds = 3000;
  std::vector<TaskCompletionSource<int>> sources(k_rounds);
  std::atomic<int> armed{-1};
  std::thread completer([&] {
    for (int i = 0; i < k_rounds; ++i) {
      while (armed.load(std::memory_order_acquire) < i) std::this_thread::yield();
      sources[static_cast<std::size_t>(i)].set_result(i);
    }
  });
  long long sum = 0;
  int synchronous = 0;
  for (int i = 0; i < k_rounds; ++i) {
    ValueTask<int> vt = async_value([&armed, &sources, i] {
      armed.store(i, std::memory_order_release);
      return duet::await(sources[static_cast<std::size_t>(i)].task());
    });
    if (vt.kind() == Kind::value) ++synchronous;
    sum += vt.result();
  }
  completer.join();
  EXPECT_EQ(sum, static_cast<long long>(k_rounds) * (k_rounds - 1) / 2);
  std::printf("[          ] %d of %d calls completed before async_value returned\n", synchronous, k_rounds);
}

}  // namespace
