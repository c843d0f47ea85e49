// test_awaiter.cpp — the awaiter interface: duet::get_awaiter (member, ADL, awaitable_traits),
// the Awaiter / Awaitable concepts, configure_await (member and free forms), and user-defined
// awaitables driven by an explicit state machine (the seeds' `await 5`).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "duet_fixture.hpp"

// ---------------------------------------------------------------------------------------------
// User types
// ---------------------------------------------------------------------------------------------
namespace user {

// resume_later(c) — what a timer would do: run `c` later, on its captured context if any.
inline void resume_later(duet::Continuation& c) noexcept {
  if (c.context) {
    c.context->post(c);
  } else {
    duet::default_scheduler().post(c);
  }
}

// Seconds — made awaitable by a free get_awaiter found by ADL (seed 003's extension method).
struct Seconds {
  int n;
};
struct SecondsAwaiter {
  int n = 0;
  duet::SynchronizationContext** saw_context = nullptr;  // where to record the captured context
  bool is_completed() const noexcept { return n <= 0; }
  void on_completed(duet::Continuation& c) noexcept {
    duet::detail::capture_execution_context(c);
    unsafe_on_completed(c);
  }
  void unsafe_on_completed(duet::Continuation& c) noexcept {
    c.context = duet::SynchronizationContext::current();
    if (saw_context) *saw_context = c.context;
    resume_later(c);
  }
  int get_result() const noexcept { return n; }
};
inline SecondsAwaiter get_awaiter(Seconds s) { return SecondsAwaiter{s.n}; }

// Ready — made awaitable by a member get_awaiter.
struct ReadyAwaiter {
  int v;
  bool is_completed() const noexcept { return true; }
  void on_completed(duet::Continuation& c) noexcept { resume_later(c); }
  void unsafe_on_completed(duet::Continuation& c) noexcept { resume_later(c); }
  int get_result() const noexcept { return v; }
};
struct Ready {
  int v;
  ReadyAwaiter get_awaiter() const { return ReadyAwaiter{v}; }
};

// Tagged awaiters tell which lookup was taken.
template <int Tag>
struct TagAwaiter {
  bool is_completed() const noexcept { return true; }
  void on_completed(duet::Continuation&) noexcept {}
  void unsafe_on_completed(duet::Continuation&) noexcept {}
  int get_result() const noexcept { return Tag; }
};
struct MemberAndAdl {
  TagAwaiter<1> get_awaiter() const { return {}; }
};
inline TagAwaiter<2> get_awaiter(MemberAndAdl) { return {}; }
struct AdlAndTrait {};
inline TagAwaiter<2> get_awaiter(AdlAndTrait) { return {}; }
struct TraitOnly {};

// Not awaitable in various ways.
struct NotAwaitable {};
struct ReturnsNonAwaiter {
  int get_awaiter() const { return 0; }
};
struct MissingGetResult {
  bool is_completed() const noexcept { return true; }
  void on_completed(duet::Continuation&) noexcept {}
  void unsafe_on_completed(duet::Continuation&) noexcept {}
};
struct MissingUnsafeOnCompleted {
  bool is_completed() const noexcept { return true; }
  void on_completed(duet::Continuation&) noexcept {}
  int get_result() const noexcept { return 0; }
};
struct ReturnsMissingGetResult {
  MissingGetResult get_awaiter() const { return {}; }
};

}  // namespace user

// IntAwaiter — the seeds' `await 5` (seed 003's MyIntAwaiter): an int has no namespace to put
// an ADL overload in, so it is made awaitable through duet::awaitable_traits.
struct IntAwaiter {
  int n;
  bool is_completed() const noexcept { return n <= 0; }
  void on_completed(duet::Continuation& c) noexcept {
    duet::detail::capture_execution_context(c);
    unsafe_on_completed(c);
  }
  void unsafe_on_completed(duet::Continuation& c) noexcept {
    c.context = duet::SynchronizationContext::current();
    user::resume_later(c);
  }
  int get_result() const noexcept { return n; }
};
template <>
struct duet::awaitable_traits<int> {
  static IntAwaiter get_awaiter(int n) noexcept { return IntAwaiter{n}; }
};
template <>
struct duet::awaitable_traits<user::AdlAndTrait> {
  static user::TagAwaiter<3> get_awaiter(user::AdlAndTrait) noexcept { return {}; }
};
template <>
struct duet::awaitable_traits<user::TraitOnly> {
  static user::TagAwaiter<3> get_awaiter(user::TraitOnly) noexcept { return {}; }
};

namespace {

using duet::AsyncTaskMethodBuilder;
using duet::Awaitable;
using duet::Awaiter;
using duet::Task;
using duet::TaskAwaiter;
using duet::TaskCompletionSource;
using duet::testing::CountingContinuation;
using duet::testing::DuetTest;
using duet::testing::launch;
using duet::testing::RecordingContext;
using duet::testing::wait_for_count;

// ---------------------------------------------------------------------------------------------
// Concepts (compile-time)
// ---------------------------------------------------------------------------------------------

static_assert(Awaitable<Task<int>>);
static_assert(Awaitable<Task<>>);
static_assert(Awaitable<Task<int>&>);
static_assert(Awaitable<const Task<int>&>);
static_assert(Awaitable<Task<std::unique_ptr<int>>>);
static_assert(Awaiter<TaskAwaiter<int>>);
static_assert(Awaiter<TaskAwaiter<void>>);
static_assert(Awaitable<duet::YieldAwaitable>);
static_assert(Awaiter<duet::YieldAwaitable::YieldAwaiter>);

static_assert(Awaitable<user::Seconds>, "free get_awaiter found by ADL");
static_assert(Awaitable<user::Ready>, "member get_awaiter");
static_assert(Awaitable<int>, "awaitable_traits<int>: the seeds' `await 5`");
static_assert(Awaitable<user::TraitOnly>);

static_assert(!Awaitable<long>, "no trait for long");
static_assert(!Awaitable<double>);
static_assert(!Awaitable<std::string>);
static_assert(!Awaitable<user::NotAwaitable>);
static_assert(!Awaitable<user::ReturnsNonAwaiter>, "get_awaiter must return an Awaiter");
static_assert(!Awaitable<user::ReturnsMissingGetResult>);
static_assert(!Awaiter<int>);
static_assert(!Awaiter<user::MissingGetResult>);
static_assert(!Awaiter<user::MissingUnsafeOnCompleted>);
static_assert(!Awaiter<Task<int>>, "a task is awaitable, not an awaiter");

// Lookup order: member, then ADL, then the trait.
static_assert(std::is_same_v<duet::awaiter_t<user::MemberAndAdl>, user::TagAwaiter<1>>);
static_assert(std::is_same_v<duet::awaiter_t<user::AdlAndTrait>, user::TagAwaiter<2>>);
static_assert(std::is_same_v<duet::awaiter_t<user::TraitOnly>, user::TagAwaiter<3>>);

// Result types.
static_assert(std::is_same_v<duet::await_result_t<Task<int>>, int>);
static_assert(std::is_same_v<duet::await_result_t<Task<>>, void>);
static_assert(std::is_same_v<duet::await_result_t<Task<std::unique_ptr<int>>>, std::unique_ptr<int>>);
static_assert(std::is_same_v<duet::await_result_t<user::Seconds>, int>);
static_assert(std::is_same_v<duet::await_result_t<int>, int>);

// configure_await: the member form and the free form agree for Task; other awaitables get the
// generic wrapper.
static_assert(std::is_same_v<decltype(std::declval<Task<int>&>().configure_await(false)),
                             duet::ConfiguredTaskAwaitable<int>>);
static_assert(std::is_same_v<decltype(duet::configure_await(std::declval<Task<int>&>(), false)),
                             duet::ConfiguredTaskAwaitable<int>>);
static_assert(std::is_same_v<decltype(duet::configure_await(std::declval<Task<>>(), true)),
                             duet::ConfiguredTaskAwaitable<void>>);
static_assert(std::is_same_v<duet::awaiter_t<duet::ConfiguredTaskAwaitable<int>>, TaskAwaiter<int>>);
static_assert(Awaitable<duet::ConfiguredTaskAwaitable<int>>);
static_assert(Awaitable<const duet::ConfiguredTaskAwaitable<int>&>);
static_assert(std::is_same_v<decltype(duet::configure_await(user::Seconds{1}, false)),
                             duet::ConfiguredAwaitable<user::SecondsAwaiter>>);
static_assert(std::is_same_v<decltype(duet::configure_await(duet::yield(), false)),
                             duet::ConfiguredAwaitable<duet::YieldAwaitable::YieldAwaiter>>);
static_assert(Awaitable<duet::ConfiguredAwaitable<user::SecondsAwaiter>>);
static_assert(std::is_same_v<duet::await_result_t<duet::ConfiguredAwaitable<user::SecondsAwaiter>>, int>);
static_assert(Awaitable<decltype(duet::configure_await(5, false))>);
static_assert(std::is_default_constructible_v<duet::ConfiguredAwaitable<user::SecondsAwaiter>::ConfiguredAwaiter>,
              "a state machine keeps its awaiter in a default-initialised field");

// ---------------------------------------------------------------------------------------------
// AwaitMachine<A> — `async Task<R> AwaitAsync(A a) { return await a; }` in Roslyn shape, for
// any awaitable A, with the awaiter in a default-initialised field as Roslyn keeps it.
// ---------------------------------------------------------------------------------------------
template <class A>
struct AwaitMachine {
  using R = duet::await_result_t<A>;
  int state_ = -1;
  AsyncTaskMethodBuilder<R> builder_{};
  A awaitable_;
  int* suspensions_ = nullptr;
  std::thread::id* resumed_on_ = nullptr;
  duet::awaiter_t<A> awaiter_{};

  void move_next() {
    try {
      if (state_ != 0) {
        awaiter_ = duet::get_awaiter(std::move(awaitable_));
        if (!awaiter_.is_completed()) {
          state_ = 0;
          ++*suspensions_;
          builder_.await_on_completed(awaiter_, *this);
          return;
        }
      } else {
        state_ = -1;
        *resumed_on_ = std::this_thread::get_id();
      }
      if constexpr (std::is_void_v<R>) {
        awaiter_.get_result();
        state_ = -2;
        builder_.set_result();
      } else {
        R r = awaiter_.get_result();
        state_ = -2;
        builder_.set_result(std::move(r));
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

template <class A>
Task<duet::await_result_t<A>> await_async(A a, int& suspensions, std::thread::id& resumed_on) {
  return launch(AwaitMachine<A>{.awaitable_ = std::move(a), .suspensions_ = &suspensions,
                                .resumed_on_ = &resumed_on});
}

using AwaiterTest = DuetTest;

TEST_F(AwaiterTest, MemberGetAwaiterIsUsed) {
  auto awaiter = duet::get_awaiter(user::Ready{3});
  EXPECT_TRUE(awaiter.is_completed());
  EXPECT_EQ(awaiter.get_result(), 3);
  int suspensions = 0;
  std::thread::id resumed_on;
  EXPECT_EQ(await_async(user::Ready{4}, suspensions, resumed_on).result(), 4);
  EXPECT_EQ(suspensions, 0);
}

TEST_F(AwaiterTest, FreeGetAwaiterFoundByAdlMakesAUserTypeAwaitable) {
  int suspensions = 0;
  std::thread::id resumed_on;
  EXPECT_EQ(await_async(user::Seconds{0}, suspensions, resumed_on).result(), 0);
  EXPECT_EQ(suspensions, 0) << "a completed awaiter does not suspend";
  Task<int> t = await_async(user::Seconds{2}, suspensions, resumed_on);
  EXPECT_EQ(t.result(), 2);
  EXPECT_EQ(suspensions, 1);
  EXPECT_NE(resumed_on, std::this_thread::get_id()) << "resumed by the 'timer' on the pool";
}

TEST_F(AwaiterTest, AwaitableTraitsMakeAnIntAwaitable) {
  // `await 5;` — seed 003.
  int suspensions = 0;
  std::thread::id resumed_on;
  Task<int> t = await_async(5, suspensions, resumed_on);
  EXPECT_EQ(t.result(), 5);
  EXPECT_EQ(suspensions, 1);
  EXPECT_EQ(duet::get_awaiter(0).is_completed(), true);
}

TEST_F(AwaiterTest, LookupPrefersMemberThenAdlThenTrait) {
  EXPECT_EQ(duet::get_awaiter(user::MemberAndAdl{}).get_result(), 1);
  EXPECT_EQ(duet::get_awaiter(user::AdlAndTrait{}).get_result(), 2);
  EXPECT_EQ(duet::get_awaiter(user::TraitOnly{}).get_result(), 3);
}

TEST_F(AwaiterTest, AwaitingATaskThroughTheGenericMachine) {
  TaskCompletionSource<std::string> tcs;
  int suspensions = 0;
  std::thread::id resumed_on;
  Task<std::string> t = await_async(tcs.task(), suspensions, resumed_on);
  tcs.set_result("hello");
  EXPECT_EQ(t.result(), "hello");
  EXPECT_EQ(suspensions, 1);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

// ---------------------------------------------------------------------------------------------
// configure_await behaviour
// ---------------------------------------------------------------------------------------------

TEST_F(AwaiterTest, TaskAwaiterCapturesTheCurrentContextUnlessConfiguredFalse) {
  RecordingContext ctx;
  TaskCompletionSource<int> tcs;
  CountingContinuation plain, captured, configured_false, free_false;
  std::atomic<int> done{0};
  for (auto* c : {&plain, &captured, &configured_false, &free_false}) c->done = &done;
  {
    duet::SyncContextScope scope(&ctx);
    const Task<int> t = tcs.task();
    duet::get_awaiter(t).unsafe_on_completed(plain);
    duet::get_awaiter(t.configure_await(true)).unsafe_on_completed(captured);
    duet::get_awaiter(t.configure_await(false)).unsafe_on_completed(configured_false);
    duet::get_awaiter(duet::configure_await(t, false)).on_completed(free_false);
  }
  EXPECT_EQ(plain.context, &ctx);
  EXPECT_EQ(captured.context, &ctx);
  EXPECT_EQ(configured_false.context, nullptr);
  EXPECT_EQ(free_false.context, nullptr);

  // Completed from another thread: the captured ones are posted to ctx; the others are not the
  // task's first await, so they are queued to the pool (issue 12, rule 3), never to ctx.
  std::thread th([&] { tcs.set_result(1); });
  th.join();
  wait_for_count(done, 2);
  EXPECT_EQ(configured_false.runs.load(), 1);
  EXPECT_TRUE(configured_false.ran_on_pool);
  EXPECT_EQ(free_false.runs.load(), 1);
  EXPECT_TRUE(free_false.ran_on_pool);
  EXPECT_EQ(plain.runs.load(), 0);
  EXPECT_EQ(captured.runs.load(), 0);
  EXPECT_EQ(ctx.posts(), 2);
  EXPECT_EQ(ctx.run_all(), 2);
  EXPECT_EQ(plain.ran_on, std::this_thread::get_id());
  wait_for_count(done, 4);
}

TEST_F(AwaiterTest, GenericConfigureAwaitHidesTheContextFromTheInnerAwaiter) {
  RecordingContext ctx;
  duet::SyncContextScope scope(&ctx);
  for (bool capture : {true, false}) {
    duet::SynchronizationContext* saw = &ctx;
    user::SecondsAwaiter inner{1, &saw};
    duet::ConfiguredAwaitable<user::SecondsAwaiter> configured(inner, capture);
    auto awaiter = duet::get_awaiter(std::move(configured));
    CountingContinuation c;
    std::atomic<int> done{0};
    c.done = &done;
    awaiter.unsafe_on_completed(c);
    EXPECT_EQ(saw, capture ? &ctx : nullptr);
    EXPECT_EQ(duet::SynchronizationContext::current(), &ctx) << "the context is restored";
    if (capture) {
      EXPECT_EQ(ctx.run_all(), 1);
    }
    wait_for_count(done, 1);
    EXPECT_EQ(c.ran_on_pool, !capture);
    EXPECT_EQ(awaiter.get_result(), 1);
  }
}

TEST_F(AwaiterTest, ConfigureAwaitFalseOnAUserTypeThroughTheFreeForm) {
  RecordingContext ctx;
  duet::SyncContextScope scope(&ctx);
  int suspensions = 0;
  std::thread::id resumed_on;
  Task<int> t = await_async(duet::configure_await(user::Seconds{3}, false), suspensions, resumed_on);
  EXPECT_EQ(t.result(), 3) << "resumed on the pool although a context was current";
  EXPECT_EQ(ctx.posts(), 0);
  EXPECT_EQ(suspensions, 1);
}

TEST_F(AwaiterTest, ConfiguredTaskAwaitableCanBeAwaitedRepeatedly) {
  TaskCompletionSource<int> tcs;
  tcs.set_result(6);
  const auto configured = tcs.task().configure_await(false);
  for (int i = 0; i < 3; ++i) {
    auto a = duet::get_awaiter(configured);
    ASSERT_TRUE(a.is_completed());
    EXPECT_EQ(a.get_result(), 6);
  }
}

}  // namespace
