// test_execution_context.cpp — ExecutionContext and AsyncLocal<T>: copy-on-write, capture/run,
// flow across awaits and pool work, suppression, change callbacks, allocation costs.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "context_machines.hpp"
#include "duet_fixture.hpp"

using ctx_test::async_await;
using ctx_test::Nothing;

namespace {

duet::AsyncLocal<int> g_local;

class ExecutionContextTest : public ::testing::Test {
 protected:
  void SetUp() override { ctx_test::reset_thread_context(); }
  void TearDown() override { ctx_test::reset_thread_context(); }
};

// ---- the map ---------------------------------------------------------------------------------

TEST_F(ExecutionContextTest, UnsetLocalReadsDefault) {
  duet::AsyncLocal<int> a;
  duet::AsyncLocal<std::string> s;
  EXPECT_EQ(a.value(), 0);
  EXPECT_EQ(s.value(), "");
  EXPECT_EQ(duet::detail::ec_current(), nullptr);  // the default context is the null map
}

TEST_F(ExecutionContextTest, SetValueIsCopyOnWrite) {
  duet::AsyncLocal<int> a;
  duet::AsyncLocal<std::string> s;
  a.set_value(1);
  s.set_value("one");
  const duet::ExecutionContext first = duet::ExecutionContext::capture();
  a.set_value(2);
  s.set_value("two");
  EXPECT_EQ(a.value(), 2);
  EXPECT_EQ(s.value(), "two");
  duet::ExecutionContext::run(first, [&] {
    EXPECT_EQ(a.value(), 1);  // the captured map never changed
    EXPECT_EQ(s.value(), "one");
  });
  EXPECT_EQ(a.value(), 2);
  EXPECT_EQ(s.value(), "two");
}

TEST_F(ExecutionContextTest, ManyLocalsKeepTheirValues) {
  std::vector<std::unique_ptr<duet::AsyncLocal<int>>> locals;
  for (int i = 0; i < 20; ++i) {
    locals.push_back(std::make_unique<duet::AsyncLocal<int>>());
    locals.back()->set_value(i * 10);
  }
  locals[7]->set_value(-7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(locals[i]->value(), i == 7 ? -7 : i * 10);
}

TEST_F(ExecutionContextTest, SettingAnEqualValueMakesNoNewMap) {
  g_local.set_value(5);
  duet::detail::ExecutionContextNode* before = duet::detail::ec_current();
  g_local.set_value(5);
  EXPECT_EQ(duet::detail::ec_current(), before);
}

TEST_F(ExecutionContextTest, RunRestoresAlsoWhenFnThrows) {
  g_local.set_value(1);
  duet::ExecutionContext empty;
  EXPECT_THROW(duet::ExecutionContext::run(empty,
                                           [&] {
                                             EXPECT_EQ(g_local.value(), 0);
                                             g_local.set_value(99);
                                             throw std::runtime_error("x");
                                           }),
               std::runtime_error);
  EXPECT_EQ(g_local.value(), 1);
}

TEST_F(ExecutionContextTest, RunRestoresTheSynchronizationContextToo) {
  duet::SingleThreadContext ui;
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
  duet::ExecutionContext::run(duet::ExecutionContext::capture(),
                              [&] { duet::SynchronizationContext::set_current(&ui); });
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
}

TEST_F(ExecutionContextTest, RunReturnsWhatFnReturns) {
  g_local.set_value(3);
  auto ctx = duet::ExecutionContext::capture();
  ctx_test::reset_thread_context();
  EXPECT_EQ(duet::ExecutionContext::run(ctx, [] { return g_local.value() * 2; }), 6);
}

// ---- suppression -----------------------------------------------------------------------------

TEST_F(ExecutionContextTest, CaptureUnderSuppressedFlowIsNull) {
  g_local.set_value(1);
  {
    auto guard = duet::ExecutionContext::suppress_flow();
    EXPECT_TRUE(duet::ExecutionContext::is_flow_suppressed());
    auto ctx = duet::ExecutionContext::capture();
    EXPECT_TRUE(ctx.is_null());
    EXPECT_THROW(duet::ExecutionContext::run(ctx, [] {}), duet::InvalidOperationError);
    EXPECT_THROW(duet::ExecutionContext::suppress_flow(), duet::InvalidOperationError);
  }
  EXPECT_FALSE(duet::ExecutionContext::is_flow_suppressed());
  EXPECT_FALSE(duet::ExecutionContext::capture().is_null());
  EXPECT_THROW(duet::ExecutionContext::restore_flow(), duet::InvalidOperationError);
}

TEST_F(ExecutionContextTest, UndoRestoresFlowOnce) {
  auto guard = duet::ExecutionContext::suppress_flow();
  guard.undo();
  EXPECT_FALSE(duet::ExecutionContext::is_flow_suppressed());
  EXPECT_THROW(guard.undo(), duet::InvalidOperationError);
}

TEST_F(ExecutionContextTest, RunFlowsThePostersContextButNotUnderSuppression) {
  g_local.set_value(42);
  EXPECT_EQ(duet::run([] { return g_local.value(); }).result(), 42);
  duet::Task<int> unflowed;
  {
    auto guard = duet::ExecutionContext::suppress_flow();
    unflowed = duet::run([] { return g_local.value(); });
  }
  EXPECT_EQ(unflowed.result(), 0);
}

// ---- flow across awaits ----------------------------------------------------------------------

// Probe — a hand-made continuation that records what it sees.
struct Probe : duet::Continuation {
  int seen = -1;
  std::atomic<bool> ran{false};
  Probe() { invoke = &fire; }
  static void fire(duet::Continuation* c) noexcept {
    auto* p = static_cast<Probe*>(c);
    p->seen = g_local.value();
    p->ran = true;
  }
};

TEST_F(ExecutionContextTest, OnCompletedFlowsUnsafeOnCompletedDoesNot) {
  g_local.set_value(9);
  duet::TaskCompletionSource<> safe_tcs, unsafe_tcs;
  Probe safe, unsafe;
  auto safe_awaiter = safe_tcs.task().get_awaiter();
  auto unsafe_awaiter = unsafe_tcs.task().get_awaiter();
  safe_awaiter.on_completed(safe);
  unsafe_awaiter.unsafe_on_completed(unsafe);
  // Complete on a thread whose own context is the default one: both run inline there.
  std::thread([&] {
    safe_tcs.set_result();
    unsafe_tcs.set_result();
  }).join();
  EXPECT_TRUE(safe.ran && unsafe.ran);
  EXPECT_EQ(safe.seen, 9);
  EXPECT_EQ(unsafe.seen, 0);  // ran in the completing thread's (default) context
}

TEST_F(ExecutionContextTest, SuppressedFlowAwaitDoesNotFlow) {
  g_local.set_value(4);
  duet::TaskCompletionSource<> tcs;
  Probe probe;
  {
    auto guard = duet::ExecutionContext::suppress_flow();
    auto awaiter = tcs.task().get_awaiter();
    awaiter.on_completed(probe);
  }
  std::thread([&] { tcs.set_result(); }).join();
  EXPECT_TRUE(probe.ran);
  EXPECT_EQ(probe.seen, 0);
}

TEST_F(ExecutionContextTest, BuilderFlowsEvenThroughAwaitUnsafeOnCompleted) {
  // The builder captures the context itself before calling the awaiter's unsafe_on_completed.
  struct Machine {
    int state_ = -1;
    duet::AsyncTaskMethodBuilder<int> builder_;
    duet::Task<> task_;
    duet::TaskAwaiter<void> awaiter_;
    void move_next() {
      if (state_ == -1) {
        g_local.set_value(21);
        awaiter_ = task_.get_awaiter();
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
      awaiter_.get_result();
      state_ = -2;
      builder_.set_result(g_local.value());
    }
  };
  duet::TaskCompletionSource<> tcs;
  Machine sm;
  sm.task_ = tcs.task();
  sm.builder_.start(sm);
  auto t = sm.builder_.task();
  std::thread([&] { tcs.set_result(); }).join();
  EXPECT_EQ(t.result(), 21);
}

TEST_F(ExecutionContextTest, PoolThreadIsCleanBetweenItems) {
  // Items posted without flow run in the worker's own context, which must be the default one
  // even after earlier items changed it. More items than workers: some worker runs several.
  const unsigned n = duet::default_scheduler().worker_count() * 4 + 1;
  struct Item : duet::Continuation {
    std::atomic<int>* dirty = nullptr;
    std::atomic<unsigned>* left = nullptr;
    duet::SingleThreadContext* ui = nullptr;
    static void fire(duet::Continuation* c) noexcept {
      auto* self = static_cast<Item*>(c);
      if (g_local.value() != 0 || duet::SynchronizationContext::current() != nullptr) {
        self->dirty->fetch_add(1);
      }
      g_local.set_value(123);
      duet::SynchronizationContext::set_current(self->ui);
      // Read before the decrement: the last one lets the test destroy the items.
      std::atomic<unsigned>* const left = self->left;
      left->fetch_sub(1);
      left->notify_all();
    }
  };
  duet::SingleThreadContext ui;
  std::atomic<int> dirty{0};
  // Static: a worker's notify_all may come after the test saw 0 and returned.
  static std::atomic<unsigned> left;
  left.store(n);
  std::vector<Item> items(n);
  for (auto& item : items) {
    item.invoke = &Item::fire;
    item.dirty = &dirty;
    item.left = &left;
    item.ui = &ui;
    item.flow_execution_context = false;
    duet::default_scheduler().post(item);
  }
  for (unsigned v = left.load(); v != 0; v = left.load()) left.wait(v);
  EXPECT_EQ(dirty.load(), 0);
}

// ---- change callbacks ------------------------------------------------------------------------

// Misuse with no caller: a change handler that throws on a context switch. Reported once, as an
// InvalidOperationError naming the rule; the local's later switch notifications are off, so the
// switch back (and any later one) reports nothing more.
TEST_F(ExecutionContextTest, AChangeHandlerThrowingOnASwitchIsReportedOnceNamingTheRule) {
  duet::testing::UnhandledRecorder unhandled;
  // A local with a handler must outlive every context (static), and its notifications stay off
  // after the report: a fresh one per run keeps the test repeatable (--gtest_repeat).
  static std::deque<duet::AsyncLocal<int>> locals;
  duet::AsyncLocal<int>& local = locals.emplace_back([](const duet::AsyncLocalValueChangedArgs<int>& a) {
    if (a.thread_context_changed) throw std::runtime_error("handler threw");
  });
  local.set_value(1);  // not a switch: the handler does not throw
  duet::ExecutionContext empty;
  for (int i = 0; i < 3; ++i) {
    duet::ExecutionContext::run(empty, [&local] { EXPECT_EQ(local.value(), 0); });  // 2 switches each
  }
  EXPECT_EQ(local.value(), 1);
  ASSERT_EQ(unhandled.count(), 1);
  const std::string m = unhandled.messages()[0];
  EXPECT_EQ(m.rfind("an AsyncLocal change handler threw during an ExecutionContext switch", 0), 0u) << m;
  EXPECT_NE(m.find("handler threw"), std::string::npos) << m;
  local.set_value(0);
}

using Change = std::tuple<int, int, bool>;
std::vector<Change> g_changes;
duet::AsyncLocal<int> g_watched([](const duet::AsyncLocalValueChangedArgs<int>& a) {
  g_changes.emplace_back(a.previous_value, a.current_value, a.thread_context_changed);
});

TEST_F(ExecutionContextTest, CallbackFiresOnSetValue) {
  g_changes.clear();
  g_watched.set_value(1);
  g_watched.set_value(2);
  g_watched.set_value(2);  // equal: no change
  EXPECT_EQ(g_changes, (std::vector<Change>{{0, 1, false}, {1, 2, false}}));
}

TEST_F(ExecutionContextTest, CallbackFiresOnContextSwitchesBothWays) {
  g_watched.set_value(5);
  auto five = duet::ExecutionContext::capture();
  ctx_test::reset_thread_context();
  g_changes.clear();
  duet::ExecutionContext::run(five, [] { g_local.set_value(1); });  // unrelated local: no call
  EXPECT_EQ(g_changes, (std::vector<Change>{{0, 5, true}, {5, 0, true}}));
}

TEST_F(ExecutionContextTest, CallbackMaySetValuesItself) {
  static int calls = 0;
  static duet::AsyncLocal<int> echo;
  static duet::AsyncLocal<int> reentrant([](const duet::AsyncLocalValueChangedArgs<int>& a) {
    ++calls;
    echo.set_value(a.current_value);  // replaces the thread's map while a switch is in progress
  });
  reentrant.set_value(1);
  EXPECT_EQ(echo.value(), 1);
  auto one = duet::ExecutionContext::capture();
  ctx_test::reset_thread_context();
  const int before = calls;
  duet::ExecutionContext::run(one, [] {});
  EXPECT_EQ(calls - before, 2);  // into `one`, and back out
  ctx_test::reset_thread_context();
}

// ---- allocation costs ------------------------------------------------------------------------

TEST_F(ExecutionContextTest, SetValueAllocatesOnceForInlineValues) {
  duet::AsyncLocal<int> a;
  duet::AsyncLocal<std::uint64_t> b;
  struct Guid {
    std::uint64_t hi, lo;
  };
  static_assert(duet::detail::ec_stores_inline<Guid>);
  duet::AsyncLocal<Guid> g;
  a.set_value(1);
  {
    duet::testing::AllocScope scope;
    a.set_value(2);
    EXPECT_EQ(scope.allocations(), 1u);
  }
  {
    duet::testing::AllocScope scope;
    b.set_value(3);
    g.set_value(Guid{1, 2});
    EXPECT_EQ(scope.allocations(), 2u);
  }
}

TEST_F(ExecutionContextTest, SetValueAllocatesTwiceForBoxedValues) {
  static_assert(!duet::detail::ec_stores_inline<std::string>);
  duet::AsyncLocal<std::string> s;
  duet::testing::AllocScope scope;
  s.set_value("abc");  // short: the string itself does not allocate
  EXPECT_EQ(scope.allocations(), 2u);
}

TEST_F(ExecutionContextTest, CaptureAndRunAllocateNothing) {
  g_local.set_value(1);
  duet::testing::AllocScope scope;
  auto ctx = duet::ExecutionContext::capture();
  duet::ExecutionContext::run(ctx, [] { EXPECT_EQ(g_local.value(), 1); });
  auto copy = ctx;
  EXPECT_EQ(scope.allocations(), 0u);
}

// await_allocations() — allocations of one suspended await (TCS completed inline).
std::uint64_t await_allocations() {
  duet::TaskCompletionSource<> tcs;
  duet::testing::AllocScope scope;
  auto t = async_await(Nothing{}, [&] { return tcs.task(); }, Nothing{});
  tcs.set_result();
  t.wait();
  return scope.allocations();
}

TEST_F(ExecutionContextTest, FlowingAContextAddsNoAllocationToAnAwait) {
  const std::uint64_t with_default = await_allocations();
  g_local.set_value(1);
  const std::uint64_t with_value = await_allocations();
  EXPECT_EQ(with_default, 1u);  // the box, nothing else
  EXPECT_EQ(with_value, with_default);
}

// Rule 8 (issue 12): ExecutionContext::run lifts suppress_flow inside the run, as .NET, and the
// caller's suppression is back afterwards, also when fn throws.
TEST_F(ExecutionContextTest, Rule8_RunLiftsSuppressFlow) {
  duet::AsyncLocal<int> al;
  al.set_value(4);
  const duet::ExecutionContext ec = duet::ExecutionContext::capture();
  auto guard = duet::ExecutionContext::suppress_flow();
  bool inside_suppressed = true;
  bool captured_null = true;
  duet::ExecutionContext::run(ec, [&] {
    inside_suppressed = duet::ExecutionContext::is_flow_suppressed();
    captured_null = duet::ExecutionContext::capture().is_null();
  });
  EXPECT_FALSE(inside_suppressed);
  EXPECT_FALSE(captured_null) << "capture works inside run";
  EXPECT_TRUE(duet::ExecutionContext::is_flow_suppressed()) << "the caller's suppression is back";
  EXPECT_THROW(duet::ExecutionContext::run(ec, [] { throw std::runtime_error("x"); }), std::runtime_error);
  EXPECT_TRUE(duet::ExecutionContext::is_flow_suppressed());
  guard.undo();
  al.set_value(0);
}

}  // namespace
