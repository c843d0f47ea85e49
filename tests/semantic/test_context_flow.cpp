// tests/semantic/test_context_flow.cpp — context flow through async methods, in every style:
// where an await resumes (the captured SynchronizationContext, configure_await(false), no
// context), the SynchronizationContext a method installs never reaching its caller, AsyncLocal
// values flowing into a method and across its awaits but never back out, AsyncLocal change
// callbacks on resumption, and unobserved faults of methods (ported from tests/context and
// tests/fiber; the mechanisms — the ExecutionContext map, capture/run, suppression, pool hygiene,
// allocation costs — stay in tests/context).
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;

duet::AsyncLocal<int> g_local;

// The AsyncLocal and SynchronizationContext reads below go through opaque calls: a fiber may
// resume on another thread between two reads (see "Fibers migrate" in duet/fiber/fiber.hpp).
[[gnu::noinline]] int local_value() {
  asm volatile("" ::: "memory");
  return g_local.value();
}
[[gnu::noinline]] void set_local(int v) {
  asm volatile("" ::: "memory");
  g_local.set_value(v);
}
[[gnu::noinline]] duet::SynchronizationContext* current_context() {
  asm volatile("" ::: "memory");
  return duet::SynchronizationContext::current();
}

template <class S>
class ContextFlow : public duet::testing::DuetTest {
 protected:
  void SetUp() override {
    duet::testing::DuetTest::SetUp();
    duet::detail::ec_set_current(nullptr);  // the default ExecutionContext on this thread
  }
  void TearDown() override {
    duet::detail::ec_set_current(nullptr);
    duet::testing::DuetTest::TearDown();
  }
};
TYPED_TEST_SUITE(ContextFlow, AllStyles, StyleName);

// ---- where an await resumes ------------------------------------------------------------------------

enum class Where { unknown, ui, pool, other };

// UiLoop — this thread plays the UI thread: it owns `ui` and pumps it.
struct UiLoop {
  duet::SingleThreadContext ui;
  std::thread::id ui_id = std::this_thread::get_id();
  Where where() const {
    if (thread_now() == ui_id) return Where::ui;
    if (duet::is_thread_pool_thread()) return Where::pool;
    return Where::other;
  }
};

// resume_of<S>(loop, make_awaitable) — starts a method on the UI loop that awaits what
// make_awaitable(tcs_task) returns, completes the task from a pool thread *after* the method
// suspended, pumps until the method ends, and reports where its continuation ran.
template <class S, class MakeAwaitable>
Where resume_of(UiLoop& loop, MakeAwaitable make_awaitable) {
  duet::SyncContextScope scope(&loop.ui);
  TaskCompletionSource<> tcs;
  Where resumed = Where::unknown;
  Task<> t = S::task(nop, [&] { return make_awaitable(tcs.task()); }, [&] { resumed = loop.where(); });
  EXPECT_FALSE(t.is_completed());
  auto completer = duet::run([&] { tcs.set_result(); });
  loop.ui.run_until(t);
  t.wait();
  completer.wait();
  return resumed;
}

TYPED_TEST(ContextFlow, DefaultAwaitResumesOnTheUiLoop) {
  UiLoop loop;
  EXPECT_EQ(resume_of<TypeParam>(loop, [](Task<> t) { return t; }), Where::ui);
}

TYPED_TEST(ContextFlow, ConfigureAwaitTrueIsTheDefault) {
  UiLoop loop;
  EXPECT_EQ(resume_of<TypeParam>(loop, [](Task<> t) { return t.configure_await(true); }), Where::ui);
}

TYPED_TEST(ContextFlow, MemberConfigureAwaitFalseResumesOnThePool) {
  UiLoop loop;
  EXPECT_EQ(resume_of<TypeParam>(loop, [](Task<> t) { return t.configure_await(false); }), Where::pool);
}

TYPED_TEST(ContextFlow, FreeConfigureAwaitFalseResumesOnThePool) {
  UiLoop loop;
  EXPECT_EQ(resume_of<TypeParam>(loop, [](Task<> t) { return duet::configure_await(t, false); }),
            Where::pool);
}

TYPED_TEST(ContextFlow, GenericConfigureAwaitFalseHidesTheContextFromAnyAwaitable) {
  // An awaitable without its own configure_await (ManualAwaitable) captures what it sees as the
  // current context; the generic configure_await(x, false) hides the UI context from it.
  UiLoop loop;
  duet::SyncContextScope scope(&loop.ui);
  duet::testing::ManualAwaitable<> plain, hidden;
  // Ref — awaits a ManualAwaitable that stays where the test owns it.
  struct Ref {
    duet::testing::ManualAwaitable<>* target;
    auto get_awaiter() const { return target->get_awaiter(); }
  };
  Task<> a = TypeParam::task(nop, [&] { return Ref{&plain}; }, nop);
  Task<> b = TypeParam::task(nop, [&] { return duet::configure_await(Ref{&hidden}, false); }, nop);
  EXPECT_EQ(plain.captured_context(), &loop.ui);
  EXPECT_EQ(hidden.captured_context(), nullptr);
  plain.complete();
  hidden.complete();  // on the UI thread, for a continuation that captured no context: the pool
  loop.ui.run_until(a);
  b.wait();  // (issue 12, rule 1: the UI context must not leak into b's method)
  EXPECT_TRUE(a.is_completed_successfully());
  EXPECT_TRUE(b.is_completed_successfully());
}

TYPED_TEST(ContextFlow, WithoutAContextTheContinuationRunsWhereTheTaskCompleted) {
  UiLoop loop;
  TaskCompletionSource<> tcs;
  Where resumed = Where::unknown;
  Task<> t = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { resumed = loop.where(); });
  duet::run([&] { tcs.set_result(); }).wait();
  t.wait();
  EXPECT_EQ(resumed, Where::pool);  // inline on the completing pool thread
}

TYPED_TEST(ContextFlow, AlreadyCompletedTaskNeverSwitchesThreads) {
  UiLoop loop;
  duet::SyncContextScope scope(&loop.ui);
  Where resumed = Where::unknown;
  Task<> t = TypeParam::task(nop, [] { return duet::completed_task().configure_await(false); },
                             [&] { resumed = loop.where(); });
  EXPECT_TRUE(t.is_completed());  // the fast path: no suspension at all
  EXPECT_EQ(resumed, Where::ui);
}

TYPED_TEST(ContextFlow, CompletingOnTheUiThreadResumesInline) {
  // The captured context is the completing thread's own context: no post needed.
  UiLoop loop;
  duet::SyncContextScope scope(&loop.ui);
  TaskCompletionSource<> tcs;
  Where resumed = Where::unknown;
  Task<> t = TypeParam::task(nop, [&] { return tcs.task(); }, [&] { resumed = loop.where(); });
  tcs.set_result();
  EXPECT_TRUE(t.is_completed());
  EXPECT_EQ(resumed, Where::ui);
  EXPECT_EQ(loop.ui.pending_count(), 0u);
}

TYPED_TEST(ContextFlow, LibraryUsesConfigureAwaitFalseAndTheUiCodeStillResumesOnTheUi) {
  // The library's continuation runs on the pool, the UI method's on the UI.
  using S = TypeParam;
  UiLoop loop;
  duet::SyncContextScope scope(&loop.ui);
  TaskCompletionSource<> io;
  Where library_resumed = Where::unknown, ui_resumed = Where::unknown;
  auto library = [&] {
    return S::task(nop, [&] { return io.task().configure_await(false); },
                   [&] { library_resumed = loop.where(); });
  };
  Task<> handler = S::task(nop, library, [&] { ui_resumed = loop.where(); });
  auto completer = duet::run([&] { io.set_result(); });
  loop.ui.run_until(handler);
  completer.wait();
  EXPECT_EQ(library_resumed, Where::pool);
  EXPECT_EQ(ui_resumed, Where::ui);
}

TYPED_TEST(ContextFlow, RunUntilPumpsTheMethodsContinuationBackToTheLoop) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope scope(&ui);
  const auto ui_id = std::this_thread::get_id();
  TaskCompletionSource<int> tcs;
  std::thread::id resumed_on;
  Task<int> t = TypeParam::task(nop, [&] { return tcs.task(); },
                                [&](int v) {
                                  resumed_on = thread_now();
                                  return v + 1;
                                });
  auto completer = duet::run([&] { tcs.set_result(41); });
  ui.run_until(t);
  EXPECT_EQ(t.result(), 42);
  EXPECT_EQ(resumed_on, ui_id);  // the continuation was posted back to the loop
  completer.wait();
}

TYPED_TEST(ContextFlow, YieldOnTheLoopRequeuesToTheLoop) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope scope(&ui);
  bool on_ui = false;
  Task<> t = TypeParam::task(nop, [] { return duet::yield(); }, [&] { on_ui = current_context() == &ui; });
  EXPECT_FALSE(t.is_completed());  // yield always suspends
  EXPECT_EQ(ui.pending_count(), 1u);
  ui.run_until(t);
  EXPECT_TRUE(on_ui);
}

// Observed — the thread, the current SynchronizationContext and the pool flag at one point.
struct Observed {
  std::thread::id thread;
  duet::SynchronizationContext* context = nullptr;
  bool pool = false;
  [[gnu::noinline]] void take() {
    thread = thread_now();
    context = current_context();
    pool = duet::is_thread_pool_thread();
  }
};

TYPED_TEST(ContextFlow, ResumesOnTheCapturedSynchronizationContextOnlyWhenItIsPumped) {
  duet::SingleThreadContext ctx;
  duet::SyncContextScope on_ctx(&ctx);
  TaskCompletionSource<int> tcs;
  Observed before, after;
  Task<int> t = TypeParam::task([&] { before.take(); }, [&] { return tcs.task(); },
                                [&](int v) {
                                  after.take();
                                  return v;
                                });
  std::thread([&] { tcs.set_result(9); }).join();  // completes on another thread...
  EXPECT_FALSE(t.is_completed()) << "...which only posts the method's continuation to the loop";
  EXPECT_EQ(ctx.pending_count(), 1u);
  ctx.run_until(t);  // the loop resumes the method, here
  EXPECT_EQ(t.result(), 9);
  EXPECT_EQ(before.thread, std::this_thread::get_id());
  EXPECT_EQ(before.context, &ctx);
  EXPECT_EQ(after.thread, std::this_thread::get_id());
  EXPECT_EQ(after.context, &ctx);
  EXPECT_FALSE(after.pool);
}

TYPED_TEST(ContextFlow, ResumesOnALoopThreadThatRunsTheContext) {
  // The loop on its own thread (run() until complete()); the method starts there and comes back
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
    started.set_result(TypeParam::task([&] { before.take(); }, [&] { return tcs.task(); },
                                       [&](int v) {
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

// Step — one awaitable type for a loop whose awaits differ: a hop to the pool
// (configure_await(yield(), false)) or a task awaited with configure_await(capture).
class Step {
 public:
  static Step to_pool() { return Step(std::nullopt, false); }
  static Step on(Task<> t, bool capture = true) { return Step(std::move(t), capture); }

  class Awaiter {
   public:
    using PoolAwaiter = duet::awaiter_t<decltype(duet::configure_await(duet::yield(), false))>;
    using TaskAwaiter = duet::awaiter_t<duet::ConfiguredTaskAwaitable<void>>;
    explicit Awaiter(std::variant<PoolAwaiter, TaskAwaiter> a) : a_(std::move(a)) {}
    bool is_completed() {
      return std::visit([](auto& a) { return a.is_completed(); }, a_);
    }
    void on_completed(duet::Continuation& c) {
      std::visit([&](auto& a) { a.on_completed(c); }, a_);
    }
    void unsafe_on_completed(duet::Continuation& c) {
      std::visit([&](auto& a) { a.unsafe_on_completed(c); }, a_);
    }
    void get_result() {
      std::visit([](auto& a) { a.get_result(); }, a_);
    }

   private:
    std::variant<PoolAwaiter, TaskAwaiter> a_;
  };
  Awaiter get_awaiter() const {
    if (!task_) return Awaiter(duet::get_awaiter(duet::configure_await(duet::yield(), false)));
    return Awaiter(duet::get_awaiter(task_->configure_await(capture_)));
  }

 private:
  Step(std::optional<Task<>> t, bool capture) : task_(std::move(t)), capture_(capture) {}
  std::optional<Task<>> task_;
  bool capture_;
};

TYPED_TEST(ContextFlow, ConfigureAwaitFalseResumesOffTheContextAndReadsThatThreadsState) {
  duet::SingleThreadContext ctx;
  duet::SyncContextScope on_ctx(&ctx);
  const std::thread::id ctx_thread = std::this_thread::get_id();
  Observed before, after_pool, after_inline;
  TaskCompletionSource<> tcs;
  std::atomic<bool> on_pool{false};
  Task<int> t = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 1) return Step::on(tcs.task(), false);
        before.take();  // in the method's first slice, before its first await
        return Step::to_pool();
      },
      [&](int i) {
        if (i == 0) {
          after_pool.take();
          on_pool.store(true, std::memory_order_release);
        } else {
          after_inline.take();
        }
      },
      [] { return 3; });
  std::thread th([&] {
    // Wait until the method has moved to the pool, then complete tcs from here.
    while (!on_pool.load(std::memory_order_acquire)) std::this_thread::yield();
    tcs.set_result();
  });
  ctx.run_until(t);  // nothing is posted here: the method never comes back to the context
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

// ---- the SynchronizationContext a method installs --------------------------------------------------

TYPED_TEST(ContextFlow, AContextInstalledByTheMethodDoesNotLeakToItsCaller) {
  duet::testing::RecordingContext inside;
  ASSERT_EQ(duet::SynchronizationContext::current(), nullptr);
  // Synchronously: the call returns with the caller's context restored.
  Task<> t = TypeParam::task([&] { duet::SynchronizationContext::set_current(&inside); },
                             [] { return duet::completed_task(); }, nop);
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
  EXPECT_TRUE(t.is_completed_successfully());
  // Across a suspension: the method resumes inline here and sees this thread's context (none).
  duet::SingleThreadContext ctx;
  TaskCompletionSource<> gate;
  duet::SynchronizationContext* seen_after_resume = &ctx;
  Task<> t2 = TypeParam::task([&] { duet::SynchronizationContext::set_current(&ctx); },
                              [&] { return gate.task().configure_await(false); },
                              [&] { seen_after_resume = current_context(); });
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
  gate.set_result();
  t2.wait();
  EXPECT_EQ(seen_after_resume, nullptr);
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
}

// ---- AsyncLocal flow ---------------------------------------------------------------------------

TYPED_TEST(ContextFlow, ValueSetBeforeAwaitIsSeenAfterItOnAnotherThread) {
  TaskCompletionSource<> tcs;
  int seen = -1;
  std::thread::id resumed_on;
  Task<> t = TypeParam::task([] { set_local(7); }, [&] { return tcs.task(); },
                             [&] {
                               seen = local_value();
                               resumed_on = thread_now();
                             });
  EXPECT_EQ(g_local.value(), 0);  // the method's value did not leak to its caller
  g_local.set_value(8);           // nor does the caller's later change reach the method
  std::thread completer([&] { tcs.set_result(); });
  const std::thread::id completer_id = completer.get_id();
  completer.join();
  t.wait();
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(resumed_on, completer_id);
}

TYPED_TEST(ContextFlow, ValueFlowsThroughAPoolHop) {
  g_local.set_value(11);
  std::atomic<bool> on_pool{false};
  Task<int> t = TypeParam::task(nop, [] { return duet::yield(); },
                                [&] {
                                  on_pool = duet::is_thread_pool_thread();
                                  return local_value();
                                });
  EXPECT_EQ(t.result(), 11);
  EXPECT_TRUE(on_pool);
}

TYPED_TEST(ContextFlow, CalleesSetValueIsNotSeenByCallerAfterSynchronousReturn) {
  g_local.set_value(1);
  Task<int> callee = TypeParam::task([] { set_local(2); }, [] { return duet::completed_task(); },
                                     [] { return local_value(); });
  EXPECT_EQ(callee.result(), 2);
  EXPECT_EQ(g_local.value(), 1);  // the call restored the caller's context
}

TYPED_TEST(ContextFlow, CalleesSetValueIsNotSeenByCallerAfterAwait) {
  using S = TypeParam;
  TaskCompletionSource<> tcs;
  int callee_after = -1;
  auto callee = [&] {
    return S::task([] { set_local(2); }, [&] { return tcs.task(); },
                   [&] {
                     callee_after = local_value();
                     set_local(3);  // after its own await too
                   });
  };
  int caller_after = -1;
  Task<> caller = S::task([] { set_local(1); }, callee, [&] { caller_after = local_value(); });
  EXPECT_EQ(g_local.value(), 0);
  tcs.set_result();  // resumes the callee inline, which completes and resumes the caller inline
  caller.wait();
  EXPECT_EQ(callee_after, 2);
  EXPECT_EQ(caller_after, 1);
  EXPECT_EQ(g_local.value(), 0);  // and this thread's own context is untouched
}

TYPED_TEST(ContextFlow, ValueFlowsAcrossAwaitsAndNeverBackToTheCaller) {
  set_local(1);
  TaskCompletionSource<> gate;
  std::vector<int> seen;
  std::atomic<int> seen_count{0};
  Task<int> t = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 1) return Step::on(gate.task());
        seen.push_back(local_value());  // 1: inherited from the caller
        set_local(2);
        return Step::to_pool();
      },
      [&](int i) {
        seen.push_back(local_value());  // 2: flowed to the pool worker; 3: to whoever opened gate
        if (i == 0) {
          set_local(3);
          seen_count = 2;
          seen_count.notify_all();
        }
      },
      [] { return local_value(); });
  EXPECT_EQ(local_value(), 1);  // the method ran in a copy of the caller's context
  for (int n = seen_count.load(); n < 2; n = seen_count.load()) seen_count.wait(n);  // past the hop
  gate.set_result();            // maybe resumes inline here...
  EXPECT_EQ(t.result(), 3);
  EXPECT_EQ(local_value(), 1);  // ...and still restores this thread's context afterwards
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));

  // A method that never suspends does not leak either.
  Task<> sync = TypeParam::task([] { set_local(9); }, [] { return duet::completed_task(); }, nop);
  EXPECT_TRUE(sync.is_completed());
  EXPECT_EQ(local_value(), 1);
}

TYPED_TEST(ContextFlow, NestedMethodsKeepTheirOwnValues) {
  using S = TypeParam;
  set_local(10);
  TaskCompletionSource<int> tcs;
  int outer_value = -1;
  Task<int> outer = S::task([] { set_local(20); },
                            [&] {
                              Task<int> inner = S::task([] { set_local(30); }, [&] { return tcs.task(); },
                                                        [](int v) { return v + local_value(); });
                              outer_value = local_value();  // 20: the inner change stayed inside it
                              return inner;
                            },
                            [&](int v) { return v + outer_value + local_value(); });
  EXPECT_EQ(local_value(), 10);
  tcs.set_result(1);
  EXPECT_EQ(outer.result(), 1 + 30 + 20 + 20);
  EXPECT_EQ(local_value(), 10);
}

using Change = std::tuple<int, int, bool>;
std::vector<Change> g_changes;
duet::AsyncLocal<int> g_watched([](const duet::AsyncLocalValueChangedArgs<int>& a) {
  g_changes.emplace_back(a.previous_value, a.current_value, a.thread_context_changed);
});
[[gnu::noinline]] void set_watched(int v) {
  asm volatile("" ::: "memory");
  g_watched.set_value(v);
}

TYPED_TEST(ContextFlow, ChangeCallbackFiresWhenAnAwaitResumesOnAnotherThread) {
  g_changes.clear();
  TaskCompletionSource<> tcs;
  std::vector<Change> on_resume;
  Task<> t = TypeParam::task([] { set_watched(6); }, [&] { return tcs.task(); },
                             [&] { on_resume = g_changes; });
  // The call restored the caller's (default) context: the restore is a context switch.
  ASSERT_GE(g_changes.size(), 2u);
  EXPECT_EQ(g_changes[g_changes.size() - 2], Change(0, 6, false));
  EXPECT_EQ(g_changes.back(), Change(6, 0, true));
  g_changes.clear();
  std::thread([&] {
    tcs.set_result();  // the continuation installs the captured context on this thread
  }).join();
  t.wait();
  ASSERT_FALSE(on_resume.empty());
  EXPECT_EQ(on_resume.front(), Change(0, 6, true));
}

// ---- unobserved faults ---------------------------------------------------------------------------

std::vector<std::string> g_reported;
void record_unobserved(std::exception_ptr e) { g_reported.push_back(duet::describe(e)); }

// UnobservedScope — records unobserved-task reports for its lifetime.
struct UnobservedScope {
  UnobservedScope() {
    g_reported.clear();
    previous = duet::set_unobserved_task_exception_handler(&record_unobserved);
  }
  ~UnobservedScope() { duet::set_unobserved_task_exception_handler(previous); }
  duet::UnobservedTaskExceptionHandler previous = nullptr;
};

TYPED_TEST(ContextFlow, AnAwaitObservesTheAwaitedFault) {
  UnobservedScope scope;
  {
    TaskCompletionSource<int> tcs;
    Task<int> outer = TypeParam::task(nop, [&] { return tcs.task(); }, [](int v) { return v; });
    tcs.set_exception(std::runtime_error("inner"));
    // The await observed the inner fault; the outer method's task now holds it, and we observe it.
    EXPECT_THROW((void)outer.result(), std::runtime_error);
  }
  EXPECT_TRUE(g_reported.empty());
}

TYPED_TEST(ContextFlow, AFaultedMethodNobodyAwaitsIsReported) {
  UnobservedScope scope;
  TaskCompletionSource<int> tcs;
  {
    Task<int> t = TypeParam::task(nop, [&] { return tcs.task(); },
                                  [](int) -> int { throw std::runtime_error("method failed"); });
    tcs.set_result(1);  // resumes inline; the method faults its own task
    EXPECT_TRUE(t.is_faulted());
  }
  EXPECT_EQ(g_reported, std::vector<std::string>{"method failed"});
}

}  // namespace
}  // namespace semantic
