// test_fiber.cpp — the fiber style: synchronous start, fast path, suspension race, context flow,
// migration, exceptions, interop with the state machines.
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

// g_value — the AsyncLocal the ExecutionContext tests flow; ec_value() / set_ec_value(v) read and
// write it. Not inlined: a fiber may resume on another thread between two reads of the thread's
// current context (see "Fibers migrate" in duet/fiber/fiber.hpp).
duet::AsyncLocal<int> g_value;
[[gnu::noinline]] int ec_value() {
  asm volatile("" ::: "memory");
  return g_value.value();
}
[[gnu::noinline]] void set_ec_value(int v) {
  asm volatile("" ::: "memory");
  g_value.set_value(v);
}

// in_fresh_context(fn) — runs fn in the default ExecutionContext and restores the thread's own
// afterwards, so a test's AsyncLocal values never reach the next test.
template <class Fn>
void in_fresh_context(Fn&& fn) {
  duet::ExecutionContext::run(duet::ExecutionContext(), std::forward<Fn>(fn));
}

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

TEST(Fiber, RunsSynchronouslyUntilTheFirstIncompleteAwait) {
  std::vector<int> order;
  TaskCompletionSource<int> tcs;
  Task<int> t = async([&] {
    order.push_back(1);
    const int v = duet::await(tcs.task());
    order.push_back(3);
    return v * 2;
  });
  order.push_back(2);
  EXPECT_EQ(t.status(), duet::TaskStatus::pending);
  tcs.set_result(21);  // no SynchronizationContext: the fiber resumes inline, here
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 42);
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

TEST(Fiber, VoidAndMoveOnlyResults) {
  bool ran = false;
  Task<> v = async([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_TRUE(v.is_completed_successfully());

  TaskCompletionSource<> gate;
  Task<std::unique_ptr<int>> p = async([&] {
    duet::await(gate.task());
    return std::make_unique<int>(7);
  });
  gate.set_result();
  EXPECT_EQ(*p.result(), 7);
}

// Counted — counts live instances; its move constructor throws when asked to.
struct Counted {
  static inline int live = 0;
  bool throw_on_move = false;
  explicit Counted(bool t) : throw_on_move(t) { ++live; }
  Counted(Counted&& o) : throw_on_move(o.throw_on_move) {
    if (throw_on_move) throw std::runtime_error("move failed");
    ++live;
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --live; }
};

// A fiber that ends in its first slice completes through the unshared paths (no running
// reference, plain stores); one that suspended takes the shared ones. Both must publish the
// result, free the state exactly once, and let another thread observe the completed task.
TEST(Fiber, FinishingInTheFirstSliceOrLaterPublishesAndFreesOnce) {
  {
    Task<Counted> now = async([] { return Counted(false); });
    ASSERT_TRUE(now.is_completed_successfully());
    EXPECT_FALSE(now.result().throw_on_move);
    std::thread([t = now] { EXPECT_TRUE(t.is_completed_successfully()); }).join();

    TaskCompletionSource<> gate;
    Task<Counted> later = async([&] {
      duet::await(gate.task());
      return Counted(false);
    });
    EXPECT_EQ(later.status(), duet::TaskStatus::pending);
    std::thread([&gate] { gate.set_result(); }).join();
    ASSERT_TRUE(later.is_completed_successfully());
    EXPECT_GE(Counted::live, 2);
  }
  EXPECT_EQ(Counted::live, 0);  // both states (and the values they held) are gone
  // Publishing a result whose move throws faults the task instead, on either path.
  Task<Counted> bad = async([] { return Counted(true); });
  ASSERT_TRUE(bad.is_faulted());
  EXPECT_THROW(bad.wait(), std::runtime_error);
  TaskCompletionSource<> gate;
  Task<Counted> bad_later = async([&] {
    duet::await(gate.task());
    return Counted(true);
  });
  gate.set_result();
  ASSERT_TRUE(bad_later.is_faulted());
  EXPECT_THROW(bad_later.wait(), std::runtime_error);
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

TEST(Fiber, AnExceptionEscapingFnFaultsTheTask) {
  Task<int> before = async([]() -> int { throw std::runtime_error("boom"); });
  ASSERT_TRUE(before.is_faulted());
  EXPECT_THROW(before.result(), std::runtime_error);

  TaskCompletionSource<> gate;
  Task<> after = async([&] {
    duet::await(gate.task());
    throw std::logic_error("late");
  });
  gate.set_result();
  ASSERT_TRUE(after.is_faulted());
  EXPECT_THROW(after.wait(), std::logic_error);
}

TEST(Fiber, OperationCanceledErrorCancelsTheTask) {
  Task<> t = async([] { throw duet::OperationCanceledError(); });
  EXPECT_TRUE(t.is_canceled());
  EXPECT_THROW(t.wait(), duet::OperationCanceledError);
}

TEST(Fiber, AwaitRethrowsAFaultedTaskInsideTheFiber) {
  TaskCompletionSource<int> tcs;
  Task<std::string> t = async([&]() -> std::string {
    try {
      duet::await(tcs.task());
      return "no exception";
    } catch (const std::runtime_error& e) {
      return std::string("caught ") + e.what();
    }
  });
  tcs.set_exception(std::runtime_error("bad"));
  EXPECT_EQ(t.result(), "caught bad");
}

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

// AwaiterThatFailsToRegister — is_completed() false, and registration throws.
struct AwaiterThatFailsToRegister {
  bool is_completed() const noexcept { return false; }
  void on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  void unsafe_on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  int get_result() { return 0; }
};
struct FailsToRegister {
  AwaiterThatFailsToRegister get_awaiter() const { return {}; }
};

TEST(Fiber, ARegistrationThatThrowsIsRethrownByAwait) {
  Task<std::string> t = async([]() -> std::string {
    try {
      duet::await(FailsToRegister{});
      return "no exception";
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  });
  EXPECT_EQ(t.result(), "cannot register");
}

// ---- the suspension race -------------------------------------------------------------------

// Each round: the fiber announces it is about to await, and a helper thread completes the task
// the same instant — while the fiber is still switching out. The helper then runs the
// continuation inline and resumes the fiber on its own thread. If the continuation were
// registered before the switch, the helper would jump onto a stack still in use.
TEST(Fiber, SuspensionRaceStress) {
  constexpr int k_rounds = 10000;
  std::atomic<int> go{-1};
  std::atomic<TaskCompletionSource<int>*> current{nullptr};
  std::thread helper([&] {
    for (int i = 0; i < k_rounds; ++i) {
      for (int spin = 0; go.load(std::memory_order_acquire) != i; ++spin) {
        if (spin > 64) std::this_thread::yield();  // 2 shared cores: never spin a whole slice
      }
      current.load(std::memory_order_acquire)->set_result(i);
    }
  });
  long long sum = 0;
  int resumed_elsewhere = 0;
  for (int i = 0; i < k_rounds; ++i) {
    TaskCompletionSource<int> tcs;
    current.store(&tcs, std::memory_order_release);
    const auto me = std::this_thread::get_id();
    Task<int> t = async([&, i] {
      go.store(i, std::memory_order_release);
      const int v = duet::await(tcs.task());
      if (this_thread_id() != me) ++resumed_elsewhere;
      return v + 1;
    });
    for (int spin = 0; !t.is_completed(); ++spin) {  // a futex sleep per round would dominate
      if (spin > 64) std::this_thread::yield();
    }
    sum += t.result();
  }
  helper.join();
  EXPECT_EQ(sum, static_cast<long long>(k_rounds) * (k_rounds + 1) / 2);
  // Both orders happened: completion before registration (inline, here) and after (there).
  EXPECT_GT(resumed_elsewhere, 0);
}

TEST(Fiber, ManyFibersMigrateThroughThePool) {
  constexpr int k_fibers = 500;
  constexpr int k_hops = 10;
  std::vector<Task<int>> tasks;
  tasks.reserve(k_fibers);
  for (int f = 0; f < k_fibers; ++f) {
    tasks.push_back(async([f] {
      int hops = 0;
      for (int h = 0; h < k_hops; ++h) {
        duet::await(to_pool());
        if (duet::is_thread_pool_thread()) ++hops;
      }
      return f + hops;
    }));
  }
  long long sum = 0;
  for (auto& t : tasks) sum += t.result();
  EXPECT_EQ(sum, static_cast<long long>(k_fibers) * (k_fibers - 1) / 2 + k_fibers * k_hops);
}

// ---- SynchronizationContext and migration ----------------------------------------------------

struct Observed {
  std::thread::id thread;
  duet::SynchronizationContext* context = nullptr;
  bool pool = false;
  [[gnu::noinline]] void take() {
    thread = this_thread_id();
    context = duet::SynchronizationContext::current();
    pool = duet::is_thread_pool_thread();
  }
};

TEST(Fiber, ResumesOnTheCapturedSynchronizationContext) {
  // This thread plays the UI thread: it owns a SingleThreadContext and pumps it.
  duet::SingleThreadContext ctx;
  duet::SyncContextScope on_ctx(&ctx);
  TaskCompletionSource<int> tcs;
  Observed before, after;
  Task<int> t = async([&] {
    before.take();
    const int v = duet::await(tcs.task());
    after.take();
    return v;
  });
  std::thread([&] { tcs.set_result(9); }).join();  // completes on another thread...
  EXPECT_FALSE(t.is_completed()) << "...which only posts the fiber's continuation to the loop";
  EXPECT_EQ(ctx.pending_count(), 1u);
  ctx.run_until(t);  // the loop switches the fiber back in, here
  EXPECT_EQ(t.result(), 9);
  EXPECT_EQ(before.thread, std::this_thread::get_id());
  EXPECT_EQ(before.context, &ctx);
  EXPECT_EQ(after.thread, std::this_thread::get_id());
  EXPECT_EQ(after.context, &ctx);
  EXPECT_FALSE(after.pool);
}

TEST(Fiber, ResumesOnALoopThreadThatRunsTheContext) {
  // The loop on its own thread (run() until complete()); the fiber starts there and comes back
  // there after an await completed on a third thread.
  duet::SingleThreadContext ctx;
  TaskCompletionSource<std::thread::id> loop_id;
  std::thread loop([&] {
    duet::SyncContextScope on_ctx(&ctx);
    loop_id.set_result(std::this_thread::get_id());
    ctx.run();
  });
  const std::thread::id loop_thread = loop_id.task().result();
  TaskCompletionSource<int> tcs;
  Observed before, after;
  TaskCompletionSource<Task<int>> started;
  ctx.post([&] {
    started.set_result(async([&] {
      before.take();
      const int v = duet::await(tcs.task());
      after.take();
      return v;
    }));
  });
  Task<int> t = started.task().result();
  std::thread([&] { tcs.set_result(9); }).join();
  EXPECT_EQ(t.result(), 9);
  ctx.complete();
  loop.join();
  EXPECT_EQ(before.thread, loop_thread);
  EXPECT_EQ(after.thread, loop_thread);
  EXPECT_EQ(after.context, &ctx);
  EXPECT_FALSE(after.pool);
}

TEST(Fiber, ConfigureAwaitFalseResumesOffTheContextAndReadsThatThreadsState) {
  duet::SingleThreadContext ctx;
  duet::SyncContextScope on_ctx(&ctx);
  const std::thread::id ctx_thread = std::this_thread::get_id();
  Observed before, after_pool, after_inline;
  TaskCompletionSource<int> tcs;
  std::atomic<bool> on_pool{false};
  Task<int> t = async([&] {
    before.take();
    duet::await(to_pool());
    after_pool.take();
    on_pool.store(true, std::memory_order_release);
    const int v = duet::await(tcs.task().configure_await(false));
    after_inline.take();
    return v;
  });
  std::thread th([&] {
    // Wait until the fiber has moved to the pool, then complete tcs from here.
    while (!on_pool.load(std::memory_order_acquire)) std::this_thread::yield();
    tcs.set_result(3);
  });
  ctx.run_until(t);  // nothing is posted here: the fiber never comes back to the context
  EXPECT_EQ(t.result(), 3);
  th.join();
  EXPECT_EQ(ctx.pending_count(), 0u);
  EXPECT_EQ(before.thread, ctx_thread);
  EXPECT_EQ(before.context, &ctx);
  EXPECT_FALSE(before.pool);
  // Resumed on a pool worker: the thread-local runtime state is that worker's.
  EXPECT_NE(after_pool.thread, ctx_thread);
  EXPECT_EQ(after_pool.context, nullptr);
  EXPECT_TRUE(after_pool.pool);
  // Resumed wherever tcs completed (inline on the completer, or the pool): never the context.
  EXPECT_NE(after_inline.thread, ctx_thread);
  EXPECT_EQ(after_inline.context, nullptr);
}

TEST(Fiber, ASynchronizationContextSetInsideTheFiberDoesNotLeakToItsCaller) {
  duet::SingleThreadContext ctx;
  TaskCompletionSource<> gate;
  duet::SynchronizationContext* seen_after_resume = &ctx;
  Task<> t = async([&] {
    duet::SynchronizationContext::set_current(&ctx);
    duet::await(gate.task().configure_await(false));
    seen_after_resume = duet::SynchronizationContext::current();
  });
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
  gate.set_result();  // resumes inline here; the fiber sees this thread's context (none)
  t.wait();
  EXPECT_EQ(seen_after_resume, nullptr);
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
}

// ---- ExecutionContext flow -----------------------------------------------------------------

TEST(Fiber, ExecutionContextFlowsAcrossAwaitsAndNeverBackToTheCaller) {
  in_fresh_context([] {
    set_ec_value(1);
    TaskCompletionSource<> gate;
    std::vector<int> seen;
    std::atomic<std::size_t> pushed{0};  // seen.size(), published to the polling test thread
    Task<int> t = async([&] {
      seen.push_back(ec_value());  // 1: inherited from the caller
      set_ec_value(2);
      duet::await(to_pool());
      seen.push_back(ec_value());  // 2: flowed to the pool worker
      pushed.store(seen.size(), std::memory_order_release);
      set_ec_value(3);
      duet::await(gate.task());
      seen.push_back(ec_value());  // 3: flowed to whoever completes gate
      return ec_value();
    });
    EXPECT_EQ(ec_value(), 1);  // the callee's change did not reach its caller
    while (pushed.load(std::memory_order_acquire) < 2) std::this_thread::yield();
    gate.set_result();  // maybe resumes inline here...
    EXPECT_EQ(t.result(), 3);
    EXPECT_EQ(ec_value(), 1);  // ...and still restores this thread's context afterwards
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));

    // A fiber that never suspends does not leak either.
    Task<> sync = async([] { set_ec_value(9); });
    EXPECT_TRUE(sync.is_completed());
    EXPECT_EQ(ec_value(), 1);
  });
  EXPECT_EQ(ec_value(), 0);
}

TEST(Fiber, NestedFibersKeepTheirOwnContexts) {
  in_fresh_context([] {
    set_ec_value(10);
    TaskCompletionSource<int> tcs;
    Task<int> outer = async([&] {
      set_ec_value(20);
      Task<int> inner = async([&] {
        set_ec_value(30);
        return duet::await(tcs.task()) + ec_value();
      });
      const int outer_value = ec_value();  // 20: the inner fiber's change stayed inside it
      return duet::await(inner) + outer_value + ec_value();
    });
    EXPECT_EQ(ec_value(), 10);
    tcs.set_result(1);
    EXPECT_EQ(outer.result(), 1 + 30 + 20 + 20);
    EXPECT_EQ(ec_value(), 10);
  });
}

// ---- interop with the explicit style --------------------------------------------------------

// AddOne — an explicit state machine: `return await in + 1;`.
struct AddOne {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  Task<int> in_;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    int result;
    try {
      if (state_ == -1) {
        awaiter_ = in_.get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      result = awaiter_.get_result() + 1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};
Task<int> add_one(Task<int> in) {
  AddOne sm;
  sm.in_ = std::move(in);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

TEST(Fiber, InteroperatesWithExplicitStateMachines) {
  TaskCompletionSource<int> tcs;
  Task<int> from_fiber = async([&] { return duet::await(tcs.task()) * 10; });
  Task<int> sm = add_one(from_fiber);                            // explicit awaits fiber
  Task<int> back = async([&] { return duet::await(sm) * 2; });  // fiber awaits explicit
  tcs.set_result(4);
  EXPECT_EQ(back.result(), (4 * 10 + 1) * 2);
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

}  // namespace
