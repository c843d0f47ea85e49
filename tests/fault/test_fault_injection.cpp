// test_fault_injection.cpp — out of memory at every allocation point of a representative
// scenario, in every style (issue 16). For k = 1, 2, ... the scenario runs under FailAt(k) (the
// k-th operator new in the process fails) until a run completes without an injected failure.
// For every k: no terminate (the process survives), no hang (every task completes within a
// bounded wait), every task ends faulted, canceled or completed, no report to the
// unhandled-exception handler, live_task_states() back to its baseline, no timer left in the
// wheel; under ASan, LeakSanitizer finds nothing at exit.
//
// The scenario (per style, from the semantic suite's methods in tests/semantic): boxing on the
// first suspension (add), exceptions and finally (try_catch_finally, await_in_finally), when_all
// over the results, a delay on a ManualClock wheel canceled through cancel_after, an AsyncLocal
// flowing across an await (context styles), and Task.Yield hops through the thread pool. The
// inputs (TaskCompletionSources, the exception to fault with) are made before arming; a call
// refused with std::bad_alloc or FiberStackError ("throw from the call that could not start")
// leaves its handle empty, and the scenario goes on with the rest. Allocation points are every
// operator new plus the memory the library pools itself (detail/fault_point.hpp): in the fiber
// style each fiber's control block (from the per-thread cache) and its stack (from the stack
// pool). The sweep prints how many points of each kind it failed, per style.
//
// A second sweep starts a fiber async void method under FailAt(k): the call throws before the
// method ran, or the method runs to its end; either way the context's operation count balances,
// nothing reaches the unhandled-exception handler and no task state is left.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "../semantic/context_styles.hpp"
#include "../semantic/styles.hpp"
#include "../time/time_test_support.hpp"
#include "duet_fixture.hpp"
#include "fault_injection.hpp"

using namespace std::chrono_literals;

namespace styles {
std::vector<const Style*>& registered_styles() {
  static std::vector<const Style*> all;
  return all;
}
std::vector<const ContextStyle*>& registered_context_styles() {
  static std::vector<const ContextStyle*> all;
  return all;
}
}  // namespace styles

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::testing::FailAt;

// settle(t) — waits for `t` without hanging the suite: bounded rounds of draining the default
// pool (the yield hops run there). Returns whether it completed.
template <class T>
bool settle(const Task<T>& t) {
  for (int round = 0; round < 20000 && !t.is_completed(); ++round) {
    duet::testing::drain_default_pool();
    if (!t.is_completed()) std::this_thread::yield();
  }
  return t.is_completed();
}

struct RunResult {
  bool fired = false;           // the injected failure happened: run again with k + 1
  std::uint64_t allocations = 0;  // allocations the scenario made while armed
  duet::testing::AllocationSite site = duet::testing::AllocationSite::none;  // where it fired
};

// attempt(fn) — runs a call that may be refused for want of memory: std::bad_alloc, or
// FiberStackError for a fiber's stack. The refused call's handle stays empty.
template <class Fn>
void attempt(Fn&& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
  } catch (const duet::fiber::FiberStackError&) {
  }
}

// run_once(style, context_style, k) — the scenario under FailAt(k), then its checks.
RunResult run_once(const styles::Style& st, const styles::ContextStyle& cs, std::uint64_t k) {
  const std::int64_t baseline = duet::live_task_states();
  duet::testing::UnhandledRecorder unhandled;
  duet::ManualClock clock;
  duet::testing::QueueScheduler sched;
  RunResult r;
  {
    duet::TimerWheel wheel(clock, sched);
    // Inputs, made before arming.
    TaskCompletionSource<int> a, b, in, fin_in;
    TaskCompletionSource<> cleanup, gate;
    const std::exception_ptr boom = std::make_exception_ptr(styles::TestError("boom"));
    duet::CancellationTokenSource cts;
    styles::Log log;
    static duet::AsyncLocal<std::string> local;
    Task<int> sum, caught, finally_result;
    Task<std::tuple<int, int>> both;
    Task<> delayed;
    Task<std::string> flowed;
    Task<int> hops;
    {
      FailAt fail(k);
      attempt([&] { sum = st.add(a.task(), b.task()); });
      attempt([&] { caught = st.try_catch_finally(log, in.task()); });
      attempt([&] { finally_result = st.await_in_finally(log, fin_in.task(), cleanup.task()); });
      attempt([&] {
        if (sum.valid() && caught.valid()) both = duet::when_all(sum, caught);
      });
      // cancel_after's first call allocates the source's timer: under injection it may throw
      // std::bad_alloc, arming nothing. The source is then canceled by hand below, so the delay
      // that waits on it still ends.
      bool armed = false;
      attempt([&] {
        cts.cancel_after(wheel, 10ms);
        armed = true;
      });
      attempt([&] { delayed = duet::delay(wheel, std::chrono::nanoseconds(1h), cts.token()); });
      attempt([&] {
        local.set_value("caller");
        flowed = cs.local_flows_across_await(local, gate.task());
      });
      attempt([&] { hops = st.yield_loop(2); });
      // Complete the inputs while still armed: the continuations run inline and allocate.
      a.set_result(1);
      b.set_result(2);
      in.set_exception(boom);
      fin_in.set_result(3);
      cleanup.set_result();
      gate.set_result();
      attempt([&] { clock.advance(10ms); });
      attempt([&] { sched.drain(); });
      attempt([&] { local.set_value(std::string()); });
      if (!armed) attempt([&] { cts.cancel(); });
      r.fired = fail.fired();
      r.allocations = fail.allocations();
      r.site = fail.fired_site();
    }
    sched.drain();
    // Every task that was started ends: faulted, canceled or completed.
    EXPECT_TRUE(!sum.valid() || settle(sum)) << "k=" << k << ": add hung";
    EXPECT_TRUE(!caught.valid() || settle(caught)) << "k=" << k << ": try_catch_finally hung";
    EXPECT_TRUE(!finally_result.valid() || settle(finally_result)) << "k=" << k << ": await_in_finally hung";
    EXPECT_TRUE(!both.valid() || settle(both)) << "k=" << k << ": when_all hung";
    EXPECT_TRUE(!delayed.valid() || settle(delayed)) << "k=" << k << ": delay hung";
    EXPECT_TRUE(!flowed.valid() || settle(flowed)) << "k=" << k << ": local_flows_across_await hung";
    EXPECT_TRUE(!hops.valid() || settle(hops)) << "k=" << k << ": yield_loop hung";
    if (!r.fired) {  // the clean run: everything succeeded as without injection
      EXPECT_EQ(sum.result(), 3);
      EXPECT_EQ(caught.result(), -1);
      EXPECT_EQ(finally_result.result(), 3);
      EXPECT_EQ(both.result(), std::make_tuple(3, -1));
      EXPECT_TRUE(delayed.is_canceled());
      EXPECT_EQ(flowed.result(), "caller|caller+callee");
      EXPECT_EQ(hops.result(), 2);
    }
    EXPECT_EQ(unhandled.count(), 0) << "k=" << k << ": "
                                    << (unhandled.count() ? unhandled.messages()[0] : "");
    sum = {};
    caught = {};
    finally_result = {};
    both = {};
    delayed = {};
    flowed = {};
    hops = {};
    EXPECT_EQ(wheel.pending(), 0u) << "k=" << k << ": a timer was left in the wheel";
  }
  for (int round = 0; round < 16 && duet::live_task_states() != baseline; ++round) {
    duet::testing::drain_default_pool();
  }
  EXPECT_EQ(duet::live_task_states(), baseline) << "k=" << k << ": task states leaked";
  return r;
}

class FaultInjectionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FaultInjectionTest, EveryAllocationPointFailsCleanly) {
  const styles::Style* st = nullptr;
  const styles::ContextStyle* cs = nullptr;
  for (const auto* s : styles::registered_styles()) {
    if (GetParam() == s->name) st = s;
  }
  for (const auto* c : styles::registered_context_styles()) {
    if (GetParam() == c->name) cs = c;
  }
  ASSERT_NE(st, nullptr);
  ASSERT_NE(cs, nullptr);
  (void)duet::completed_task();
  (void)duet::default_scheduler();
  (void)run_once(*st, *cs, 0);  // warm-up, not armed: first-use allocations (TLS caches, pools)
  std::uint64_t k = 1;
  std::uint64_t by_site[4] = {};  // indexed by AllocationSite
  for (; k < 100000; ++k) {
    const RunResult r = run_once(*st, *cs, k);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "style " << GetParam() << " failed at allocation point k=" << k;
      return;
    }
    if (!r.fired) break;
    ++by_site[static_cast<int>(r.site)];
  }
  const std::uint64_t points = k - 1;
  using Site = duet::testing::AllocationSite;
  const auto count = [&](Site s) { return static_cast<unsigned long long>(by_site[static_cast<int>(s)]); };
  std::printf("[ fault    ] style %s: %llu allocation points failed one by one, all clean "
              "(operator new %llu, fiber control block %llu, fiber stack %llu)\n",
              GetParam().c_str(), static_cast<unsigned long long>(points),
              count(Site::operator_new), count(Site::fiber_control_block), count(Site::fiber_stack));
  EXPECT_GT(points, 10u) << "the scenario should reach many allocation points";
  if (GetParam() == "fiber") {  // the pooled acquisitions are in the sweep, not only operator new
    EXPECT_GT(count(Site::fiber_control_block), 0u);
    EXPECT_GT(count(Site::fiber_stack), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, FaultInjectionTest,
                         ::testing::Values("explicit", "dsl", "fiber"),
                         [](const auto& param_info) { return param_info.param; });

// OperationCountingContext — a SynchronizationContext pumped by hand that counts
// operation_started / operation_completed. Its queue is intrusive (through Continuation::next),
// so posting allocates nothing and cannot fail under injection. Single-threaded.
class OperationCountingContext final : public duet::SynchronizationContext {
 public:
  void post(duet::Continuation& c) noexcept override {
    c.next = nullptr;
    if (tail_) {
      tail_->next = &c;
    } else {
      head_ = &c;
    }
    tail_ = &c;
  }
  void operation_started() noexcept override { ++started; }
  void operation_completed() noexcept override { ++completed; }
  // run_all() — runs what was posted (and what that posts) with this context current.
  void run_all() {
    duet::SyncContextScope scope(this);
    while (head_) {
      duet::Continuation* c = head_;
      head_ = c->next;
      if (!head_) tail_ = nullptr;
      c->next = nullptr;
      duet::run_continuation(c);
    }
  }
  int started = 0;
  int completed = 0;

 private:
  duet::Continuation* head_ = nullptr;
  duet::Continuation* tail_ = nullptr;
};

// Out of memory while starting a fiber `async void` method (fiber/async_void.hpp), at every
// allocation point of the call, the method's await and its resumption: the call throws before
// the method ran, or the method runs to its end; never std::terminate, never a lost end report.
TEST(FiberAsyncVoidOutOfMemory, EveryAllocationPointThrowsFromTheCallOrRunsTheMethodToItsEnd) {
  (void)duet::completed_task();
  const auto run = [](std::uint64_t k, RunResult& r) {
    const std::int64_t baseline = duet::live_task_states();
    duet::testing::UnhandledRecorder unhandled;
    OperationCountingContext ctx;
    bool threw = false;
    {
      TaskCompletionSource<int> gate;
      int began = 0;
      int ended = 0;
      {
        duet::SyncContextScope scope(&ctx);
        FailAt fail(k);
        try {
          duet::fiber::async_void([&] {
            ++began;
            ended += duet::await(gate.task());
          });
        } catch (const std::bad_alloc&) {
          threw = true;
        } catch (const duet::fiber::FiberStackError&) {
          threw = true;
        }
        gate.set_result(1);
        ctx.run_all();
        r.fired = fail.fired();
        r.site = fail.fired_site();
      }
      ctx.run_all();
      if (threw) {
        EXPECT_EQ(began, 0) << "k=" << k << ": the call threw after the method had started";
      } else {
        EXPECT_EQ(began, 1) << "k=" << k;
        EXPECT_EQ(ended, 1) << "k=" << k << ": the method did not run to its end";
      }
    }  // the gate's task state is gone here
    EXPECT_EQ(ctx.started, ctx.completed) << "k=" << k << ": operation_started/completed unbalanced";
    EXPECT_EQ(unhandled.count(), 0) << "k=" << k;
    EXPECT_EQ(duet::live_task_states(), baseline) << "k=" << k << ": task states leaked";
    return threw;
  };
  RunResult warm;
  EXPECT_FALSE(run(0, warm));  // not armed: fills the block cache and the stack pool
  std::uint64_t k = 1;
  int refused = 0;
  bool saw_stack = false;
  bool saw_block = false;
  for (; k < 1000; ++k) {
    RunResult r;
    refused += run(k, r) ? 1 : 0;
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "failed at allocation point k=" << k;
      return;
    }
    if (!r.fired) break;
    saw_stack = saw_stack || r.site == duet::testing::AllocationSite::fiber_stack;
    saw_block = saw_block || r.site == duet::testing::AllocationSite::fiber_control_block;
  }
  std::printf("[ fault    ] fiber async void: %llu allocation points, %d refused by the call\n",
              static_cast<unsigned long long>(k - 1), refused);
  EXPECT_GE(k - 1, 3u) << "the end node, the control block and the stack are allocation points";
  EXPECT_TRUE(saw_stack);
  EXPECT_TRUE(saw_block);
  EXPECT_GE(refused, 3);
}

}  // namespace
