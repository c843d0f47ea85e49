// tests/semantic/test_value_task_methods.cpp — methods that return ValueTask<T>, in every style
// and through both builders (plain: AsyncValueTaskMethodBuilder, the fiber's equivalent written
// over async(); pooled: PoolingAsyncValueTaskMethodBuilder, the fiber's async_value): a
// synchronous completion holds the value itself, a suspended call completes later (its task, or
// its pooled source), faults and cancellation before and after the await, void and move-only
// results, as_task() and preserve(), the await-once rule, methods awaiting ValueTasks, and
// AsyncLocal and SynchronizationContext isolation (ported from tests/value_task,
// tests/dsl/test_dsl_value_task.cpp and tests/fiber; the builders' boxes, pools, tokens and
// allocation counts stay there).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::ValueTask;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// VtStyle<S, Pooled> — a style and a ValueTask builder.
template <class S, bool Pooled>
struct VtStyle {
  using Style = S;
  static constexpr bool pooled = Pooled;
  template <class Pre, class Make, class Post>
  static auto call(Pre pre, Make make, Post post) {
    return S::template value_task<Pooled>(std::move(pre), std::move(make), std::move(post));
  }
};
using VtStyles = ::testing::Types<VtStyle<Explicit, false>, VtStyle<Explicit, true>, VtStyle<Dsl, false>,
                                  VtStyle<Dsl, true>, VtStyle<Fiber, false>, VtStyle<Fiber, true>>;
struct VtStyleName {
  template <class V>
  static std::string GetName(int) {
    return std::string(V::Style::name) + (V::pooled ? "_pooled" : "_plain");
  }
};

template <class V>
class ValueTaskMethods : public duet::testing::DuetTest {};
TYPED_TEST_SUITE(ValueTaskMethods, VtStyles, VtStyleName);

template <class T>
using Kind = typename ValueTask<T>::Kind;

// add<V>(x, gate, fail) — `async ValueTask<int> Add(int x, Task gate)`:
//   if (fail == before) throw; await gate; if (fail == after) throw; return x + 1;
enum class Fail { none, before, after, cancel_after };
template <class V>
ValueTask<int> add(int x, Task<> gate, Fail fail = Fail::none) {
  return V::call([fail] { if (fail == Fail::before) throw TestError("synchronous failure"); },
                 [gate] { return gate; },
                 [x, fail]() -> int {
                   if (fail == Fail::after) throw TestError("asynchronous failure");
                   if (fail == Fail::cancel_after) throw duet::OperationCanceledError();
                   return x + 1;
                 });
}

template <class T>
std::string what_of(ValueTask<T> vt) {
  try {
    vt.result();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

TYPED_TEST(ValueTaskMethods, SynchronousCompletionHoldsTheValueItself) {
  ValueTask<int> vt = add<TypeParam>(6, duet::completed_task());
  EXPECT_EQ(vt.kind(), Kind<int>::value) << "no task or source needed: the call finished inside";
  EXPECT_TRUE(vt.is_completed_successfully());
  EXPECT_EQ(vt.get_awaiter().get_result(), 7);
}

TYPED_TEST(ValueTaskMethods, SuspendedCallCompletesLater) {
  TaskCompletionSource<> gate;
  ValueTask<int> vt = add<TypeParam>(41, gate.task());
  EXPECT_EQ(vt.kind(), TypeParam::pooled ? Kind<int>::source : Kind<int>::task)
      << "the plain builder wraps the call's task; the pooled one hands out its pooled source";
  if (TypeParam::pooled) {
    EXPECT_NE(vt.source(), nullptr);
  }
  EXPECT_FALSE(vt.is_completed());
  gate.set_result();
  EXPECT_TRUE(vt.is_completed_successfully());
  auto a = vt.get_awaiter();
  ASSERT_TRUE(a.is_completed());
  EXPECT_EQ(a.get_result(), 42);
}

TYPED_TEST(ValueTaskMethods, ExceptionsFaultBeforeAndAfterTheAwait) {
  ValueTask<int> now = add<TypeParam>(1, duet::completed_task(), Fail::before);
  EXPECT_TRUE(now.is_faulted());
  EXPECT_EQ(what_of(std::move(now)), "synchronous failure");
  TaskCompletionSource<> gate;
  ValueTask<int> later = add<TypeParam>(1, gate.task(), Fail::after);
  EXPECT_FALSE(later.is_completed());
  gate.set_result();
  EXPECT_TRUE(later.is_faulted());
  EXPECT_THROW(later.get_awaiter().get_result(), TestError);
  ValueTask<int> again = add<TypeParam>(1, gate.task(), Fail::after);
  EXPECT_EQ(what_of(std::move(again)), "asynchronous failure");
}

TYPED_TEST(ValueTaskMethods, ASynchronousFaultIsKeptInTheTaskOrInThePooledSource) {
  ValueTask<int> now = add<TypeParam>(1, duet::completed_task(), Fail::before);
  EXPECT_EQ(now.kind(), TypeParam::pooled ? Kind<int>::source : Kind<int>::task)
      << "the pooled fault is kept in the pooled source, not in a new task";
  EXPECT_TRUE(now.is_faulted());
  EXPECT_THROW((void)now.result(), TestError);
}

TYPED_TEST(ValueTaskMethods, OperationCanceledCancelsTheValueTask) {
  duet::CancellationTokenSource cts;
  TaskCompletionSource<> gate;
  // async ValueTask<int> M(token, gate) { await gate; token.ThrowIfCancellationRequested(); return 1; }
  ValueTask<int> vt = TypeParam::call(nop, [&] { return gate.task(); },
                                      [token = cts.token()] {
                                        token.throw_if_cancellation_requested();
                                        return 1;
                                      });
  cts.cancel();
  gate.set_result();
  EXPECT_TRUE(vt.is_canceled());
  EXPECT_THROW(vt.result(), duet::OperationCanceledError);
  // Thrown before any await, and after one.
  ValueTask<int> now = add<TypeParam>(1, duet::completed_task(), Fail::cancel_after);
  EXPECT_TRUE(now.is_canceled());
  EXPECT_THROW((void)now.result(), duet::OperationCanceledError);
  TaskCompletionSource<> gate2;
  ValueTask<int> later = add<TypeParam>(1, gate2.task(), Fail::cancel_after);
  gate2.set_result();
  EXPECT_TRUE(later.is_canceled());
  EXPECT_THROW((void)later.get_awaiter().get_result(), duet::OperationCanceledError);
}

TYPED_TEST(ValueTaskMethods, VoidForm) {
  int ran = 0;
  ValueTask<> vt = TypeParam::call(nop, [] { return duet::completed_task(); }, [&] { ++ran; });
  EXPECT_TRUE(vt.is_completed_successfully());
  vt.get_awaiter().get_result();
  EXPECT_EQ(ran, 1);

  TaskCompletionSource<int> gate;
  ValueTask<> pending = TypeParam::call(nop, [&] { return gate.task(); }, [&](int v) { ran += v; });
  EXPECT_FALSE(pending.is_completed());
  gate.set_result(10);
  EXPECT_TRUE(pending.is_completed_successfully());
  pending.result();
  EXPECT_EQ(ran, 11);
}

TYPED_TEST(ValueTaskMethods, MoveOnlyResult) {
  TaskCompletionSource<int> gate;
  ValueTask<std::unique_ptr<int>> vt =
      TypeParam::call(nop, [&] { return gate.task(); }, [](int v) { return std::make_unique<int>(v); });
  gate.set_result(5);
  std::unique_ptr<int> p = vt.result();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

TYPED_TEST(ValueTaskMethods, AsTaskAndPreserveOfASuspendedCall) {
  TaskCompletionSource<> g1, g2;
  Task<int> t = add<TypeParam>(1, g1.task()).as_task();
  ValueTask<int> kept = add<TypeParam>(3, g2.task()).preserve();
  EXPECT_FALSE(t.is_completed());
  g1.set_result();
  EXPECT_EQ(t.result(), 2);
  g2.set_result();
  EXPECT_EQ(kept.get_awaiter().get_result(), 4);
  EXPECT_EQ(kept.get_awaiter().get_result(), 4) << "a preserved ValueTask may be awaited again";
}

TYPED_TEST(ValueTaskMethods, SecondAwaitOfTheReturnedValueTaskThrowsNamingTheRule) {
  TaskCompletionSource<> gate;
  ValueTask<int> vt = add<TypeParam>(2, gate.task());
  auto first = vt.get_awaiter();
  try {
    (void)vt.get_awaiter();
    FAIL() << "a second await did not throw";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("awaited twice"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("preserve()"), std::string::npos) << e.what();
  }
  gate.set_result();
  EXPECT_EQ(first.get_result(), 3);
  EXPECT_THROW((void)first.get_result(), duet::InvalidOperationError);
}

// ---- methods awaiting ValueTasks ------------------------------------------------------------------

TYPED_TEST(ValueTaskMethods, AwaitingOneValueTaskTwiceFaultsTheAwaitingMethod) {
  using S = typename TypeParam::Style;
  for (bool suspend : {false, true}) {
    SCOPED_TRACE(suspend ? "the awaited call suspended" : "the awaited call completed synchronously");
    TaskCompletionSource<> gate;
    if (!suspend) gate.set_result();
    auto vt = std::make_shared<ValueTask<int>>(add<TypeParam>(1, gate.task()));
    // async Task<int> AwaitTwice(ValueTask<int> vt) { int x = await vt; int y = await vt; ... }
    auto sum = std::make_shared<int>(0);
    Task<int> t = S::loop(2, [vt](int) -> ValueTask<int>& { return *vt; }, [sum](int, int v) { *sum += v; },
                          [sum] { return *sum; });
    if (suspend) gate.set_result();
    ASSERT_TRUE(t.is_faulted());
    try {
      t.wait();
      FAIL() << "no exception";
    } catch (const duet::InvalidOperationError& e) {
      EXPECT_NE(std::string(e.what()).find("awaited twice"), std::string::npos) << e.what();
    }
  }
}

TYPED_TEST(ValueTaskMethods, APreservedValueTaskMayBeAwaitedTwiceByAMethod) {
  using S = typename TypeParam::Style;
  auto vt = std::make_shared<ValueTask<int>>(add<TypeParam>(1, duet::completed_task()).preserve());
  auto sum = std::make_shared<int>(0);
  Task<int> t = S::loop(2, [vt](int) -> ValueTask<int>& { return *vt; }, [sum](int, int v) { *sum += v; },
                        [sum] { return *sum; });
  EXPECT_EQ(t.result(), 4);
}

TYPED_TEST(ValueTaskMethods, TaskMethodAwaitsValueTasksFromBothBuilders) {
  using S = typename TypeParam::Style;
  TaskCompletionSource<> g1, g2;
  std::vector<ValueTask<int>> parts;
  parts.push_back(S::template value_task<false>(nop, [] { return duet::completed_task(); }, [] { return 11; }));
  parts.push_back(S::template value_task<true>(nop, [&] { return g1.task(); }, [] { return 21; }));
  parts.push_back(S::template value_task<false>(nop, [&] { return g2.task(); }, [] { return 31; }));
  auto held = std::make_shared<std::vector<ValueTask<int>>>(std::move(parts));
  auto sum = std::make_shared<int>(0);
  Task<int> t = S::loop(3, [held](int i) -> ValueTask<int>& { return (*held)[static_cast<std::size_t>(i)]; },
                        [sum](int, int v) { *sum += v; }, [sum] { return *sum; });
  EXPECT_FALSE(t.is_completed());
  g1.set_result();  // completes the pooled call, which resumes the awaiting method inline
  EXPECT_FALSE(t.is_completed());
  g2.set_result();
  EXPECT_EQ(t.result(), 11 + 21 + 31);
}

TYPED_TEST(ValueTaskMethods, AwaitedFromATaskMethodAndFromAnotherValueTaskMethod) {
  using S = typename TypeParam::Style;
  TaskCompletionSource<> a, b;
  Task<int> outer = S::task(nop, [&] { return add<TypeParam>(10, a.task()); }, [](int v) { return v * 2; });
  ValueTask<int> outer_vt = TypeParam::call(nop, [&] { return add<TypeParam>(11, b.task()); },
                                            [](int v) { return v * 3; });
  EXPECT_FALSE(outer.is_completed());
  EXPECT_FALSE(outer_vt.is_completed());
  a.set_result();  // resumes the inner call, whose completion resumes `outer` inline
  ASSERT_TRUE(outer.is_completed_successfully());
  EXPECT_EQ(outer.result(), 22);
  b.set_result();
  ASSERT_TRUE(outer_vt.is_completed_successfully());
  EXPECT_EQ(outer_vt.get_awaiter().get_result(), 36);
}

TYPED_TEST(ValueTaskMethods, CompletedOnAnotherThreadAwaitedFromATaskMethod) {
  using S = typename TypeParam::Style;
  TaskCompletionSource<int> tcs;
  Task<int> outer = S::task(nop, [&] { return TypeParam::call(nop, [&] { return tcs.task(); }, [](int v) { return v; }); },
                            [](int v) { return v + 1; });
  EXPECT_FALSE(outer.is_completed());
  std::thread([&] { tcs.set_result(41); }).join();  // both methods resume on that thread
  EXPECT_EQ(outer.result(), 42);
}

// ---- context isolation ---------------------------------------------------------------------------

duet::AsyncLocal<std::string> g_id;
[[gnu::noinline]] std::string current_id() {
  asm volatile("" ::: "memory");
  return g_id.value();
}
[[gnu::noinline]] void set_id(const char* v) {
  asm volatile("" ::: "memory");
  g_id.set_value(v);
}

TYPED_TEST(ValueTaskMethods, AsyncLocalFlowsThroughAndStaysInsideTheCallee) {
  duet::ExecutionContext::run(duet::ExecutionContext(), [] {
    set_id("caller");
    TaskCompletionSource<int> tcs;
    std::vector<std::string> seen;
    ValueTask<int> vt = TypeParam::call(
        [&] {
          seen.push_back(current_id());  // inherited
          set_id("callee");
        },
        [&] { return tcs.task(); },
        [&](int v) {
          seen.push_back(current_id());  // flowed to the completing thread
          return v;
        });
    EXPECT_EQ(current_id(), "caller") << "the callee's change does not reach its caller";
    std::thread([&] { tcs.set_result(3); }).join();
    EXPECT_EQ(vt.result(), 3);
    EXPECT_EQ(seen, (std::vector<std::string>{"caller", "callee"}));
    EXPECT_EQ(current_id(), "caller");

    // A synchronous call does not leak either.
    ValueTask<int> sync = TypeParam::call([] { set_id("sync callee"); }, [] { return duet::completed_task(); },
                                          [] { return 1; });
    EXPECT_EQ(sync.result(), 1);
    EXPECT_EQ(current_id(), "caller");
  });
  EXPECT_EQ(current_id(), "");
}

TYPED_TEST(ValueTaskMethods, TheCallersSynchronizationContextIsRestored) {
  duet::testing::RecordingContext ctx;
  ValueTask<int> vt = TypeParam::call([&] { duet::SynchronizationContext::set_current(&ctx); },
                                      [] { return duet::completed_task(); }, [] { return 1; });
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
  EXPECT_EQ(vt.result(), 1);
}

}  // namespace
}  // namespace semantic
