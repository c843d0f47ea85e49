// tests/semantic/method_styles.hpp — the typed half of the semantic suite: a handful of generic
// async methods, each written once per style as a real method of that style, so a test written
// once against `TypeParam` (a style) runs in explicit, dsl and fiber (gtest typed tests over
// `AllStyles`).
//
// The generic methods (C#; `pre`, `make`, `post`, ... are the test's lambdas):
//
//   task(pre, make, post)              async Task<R> M() { pre(); var r = await make();
//                                                         return post(r); }
//   fire(pre, make, post, fin)         async void M() { pre();
//                                        try { var r = await make(); post(r); } finally { fin(); } }
//   value_task<Pooled>(pre, make, post)   the same body as `task`, returning ValueTask<R>, through
//                                      AsyncValueTaskMethodBuilder (Pooled = false) or
//                                      PoolingAsyncValueTaskMethodBuilder (Pooled = true)
//   loop(n, make, each, post)          async Task<R> M() { for (int i = 0; i < n; ++i) {
//                                                           var r = await make(i); each(i, r); }
//                                                         return post(); }
//   try_recover<E>(make, ok, recover, recovered)
//                                      async Task<R> M() {
//                                        try { var r = await make(); return ok(r); }
//                                        catch (E e) { var r2 = await recover(e);
//                                                      return recovered(e, r2); } }
//
// When `make()` yields a void awaitable, `post`/`each` take no value (`each(i)`).
//
// How each style writes them:
//  * explicit — hand-written Roslyn-shaped machines (state_, builder_, the awaiter as a field,
//    try/catch around the body ending in set_exception, await_unsafe_on_completed);
//  * dsl — duet::AsyncMethod machines with the DUET_* macros (the builder chosen by the base);
//  * fiber — duet::fiber::async / async_void / async_value with duet::await. The fiber calls every
//    test lambda through fiber_call(), an opaque call, so a lambda that reads thread-local state
//    (AsyncLocal, the current SynchronizationContext, the thread id) reads it afresh after the
//    fiber migrated (see "Fibers migrate" in duet/fiber/fiber.hpp).
//
// Probe — optional instrumentation every style fills the same way: `slices` counts the times the
// method's body was entered (the first call, then once per resumption: move_next() calls in the
// machines, resumptions after a suspending await in the fiber), `suspended_at` the index of each
// await that suspended, `resumed_on` the thread of the last resumption. The machines record a
// suspension where they suspend; the dsl and the fiber record it when the awaited operand was not
// yet complete at the await (the dsl withdraws the note when the method was not re-entered after
// all: the operand completed between that check and the await's own), so only pass a Probe with
// Task operands (asking a ValueTask would consume it).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace semantic {

// thread_now() — the calling thread's id, read through an opaque call (pthread_self() is
// declared const: the compiler may reuse an id read before a fiber switch).
[[gnu::noinline]] inline std::thread::id thread_now() noexcept {
  std::thread::id id = std::this_thread::get_id();
  asm volatile("" : "+m"(id));
  return id;
}

struct Probe {
  std::atomic<int> slices{0};
  std::atomic<int> after_await{0};  // how many times the code after the (last) await ran
  std::vector<int> suspended_at;    // written by the method, read once it completed or suspended
  std::thread::id resumed_on;
  duet::testing::EventLog* log = nullptr;

  void slice() noexcept { slices.fetch_add(1); }
  void suspend(int at) { suspended_at.push_back(at); }
  void resumed() { resumed_on = thread_now(); }
  void event(const char* e) {
    if (log) log->add(e);
  }
};

// nop — the `pre` of a method with nothing before its await (and any other empty step).
inline constexpr auto nop = [] {};

namespace detail {

struct Unit {};

template <class F, class... Args>
[[gnu::noinline]] decltype(auto) fiber_call(F& f, Args&&... args) {
  asm volatile("" ::: "memory");
  return f(std::forward<Args>(args)...);
}

template <class A>
using awaitable_result_t = duet::await_result_t<A>;

// post_result_t<Post, In> — what post(r) returns (post() when In is void).
template <class Post, class In>
struct post_result {
  using type = std::invoke_result_t<Post&, In>;
};
template <class Post>
struct post_result<Post, void> {
  using type = std::invoke_result_t<Post&>;
};
template <class Make, class Post>
using task_result_t =
    typename post_result<Post, awaitable_result_t<std::invoke_result_t<Make&>>>::type;
template <class Make>
using loop_in_t = awaitable_result_t<std::invoke_result_t<Make&, int>>;

// is_ready(a) — would `await a` complete without suspending (Probe bookkeeping only).
// Operands that can only be awaited as rvalues (a one-shot awaiter) are never probed: is_ready
// is then never asked (no Probe is passed with them), and answers false.
template <class A>
bool is_ready(A& a) {
  if constexpr (duet::Awaitable<A&>) {
    return duet::get_awaiter(a).is_completed();
  } else {
    return false;
  }
}

// The builder of each kind of method, for a result T.
struct TaskKind {
  template <class T>
  using builder = duet::AsyncTaskMethodBuilder<T>;
};
struct VoidKind {
  template <class T>
  using builder = duet::AsyncVoidMethodBuilder;
};
struct PlainValueTaskKind {
  template <class T>
  using builder = duet::AsyncValueTaskMethodBuilder<T>;
};
struct PooledValueTaskKind {
  template <class T>
  using builder = duet::PoolingAsyncValueTaskMethodBuilder<T>;
};

// run_machine(sm) — the stub of a method: start, then the builder's task (nothing for async void).
template <class M>
auto run_machine(M& sm) {
  sm.builder_.start(sm);
  if constexpr (requires { sm.builder_.task(); }) return sm.builder_.task();
}

}  // namespace detail

// =============================================================================================
// explicit — Roslyn-shaped machines written by hand
// =============================================================================================
namespace explicit_style {

// hold(result, f, args...) — result = f(args...), or Unit when f returns nothing.
template <class Held, class F, class... Args>
void hold(std::optional<Held>& result, F& f, Args&&... args) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&, Args...>>) {
    f(std::forward<Args>(args)...);
    result.emplace();
  } else {
    result.emplace(f(std::forward<Args>(args)...));
  }
}

// finish(builder, result) — the method's last statement: set_result with the held value.
template <class B, class Held>
void finish(B& builder, std::optional<Held>& result) {
  if constexpr (std::is_same_v<Held, detail::Unit>) {
    builder.set_result();
  } else {
    builder.set_result(std::move(*result));
  }
}

// AwaitSm — `pre(); var r = await make(); return post(r);` for any builder.
template <class Kind, class Pre, class Make, class Post>
struct AwaitSm {
  using Awaitable = std::invoke_result_t<Make&>;
  using A = duet::awaiter_t<Awaitable>;
  using In = detail::awaitable_result_t<Awaitable>;
  using R = detail::task_result_t<Make, Post>;
  using Held = std::conditional_t<std::is_void_v<R>, detail::Unit, R>;

  int state_ = -1;
  typename Kind::template builder<R> builder_{};
  Pre pre_;
  Make make_;
  Post post_;
  Probe* probe_ = nullptr;
  std::optional<A> awaiter_{};  // <>u__1

  void move_next() {
    if (probe_) probe_->slice();
    std::optional<Held> result;
    try {
      if (state_ != 0) {
        pre_();
        awaiter_.emplace(duet::get_awaiter(make_()));
        if (!awaiter_->is_completed()) {
          if (probe_) probe_->suspend(0);
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
      } else {
        state_ = -1;
        if (probe_) probe_->resumed();
      }
      if constexpr (std::is_void_v<In>) {
        awaiter_->get_result();
        awaiter_.reset();
        if (probe_) probe_->after_await.fetch_add(1);
        hold(result, post_);
      } else {
        In r = awaiter_->get_result();
        awaiter_.reset();
        if (probe_) probe_->after_await.fetch_add(1);
        hold(result, post_, std::move(r));
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    finish(builder_, result);
  }
};

// LoopSm — `for (i = 0; i < n; ++i) { var r = await make(i); each(i, r); } return post();`
template <class Make, class Each, class Post>
struct LoopSm {
  using Awaitable = std::invoke_result_t<Make&, int>;
  using A = duet::awaiter_t<Awaitable>;
  using In = detail::awaitable_result_t<Awaitable>;
  using R = std::invoke_result_t<Post&>;
  using Held = std::conditional_t<std::is_void_v<R>, detail::Unit, R>;

  int state_ = -1;
  duet::AsyncTaskMethodBuilder<R> builder_{};
  int n_ = 0;
  Make make_;
  Each each_;
  Post post_;
  Probe* probe_ = nullptr;
  int i_ = 0;                   // hoisted local
  std::optional<A> awaiter_{};  // <>u__1

  void move_next() {
    if (probe_) probe_->slice();
    std::optional<Held> result;
    try {
      if (state_ == 0) {
        state_ = -1;
        if (probe_) probe_->resumed();
        goto resume0;
      }
      for (i_ = 0; i_ < n_; ++i_) {
        awaiter_.emplace(duet::get_awaiter(make_(i_)));
        if (!awaiter_->is_completed()) {
          if (probe_) probe_->suspend(i_);
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
      resume0:
        if constexpr (std::is_void_v<In>) {
          awaiter_->get_result();
          awaiter_.reset();
          each_(i_);
        } else {
          In r = awaiter_->get_result();
          awaiter_.reset();
          each_(i_, std::move(r));
        }
      }
      if (probe_) probe_->after_await.fetch_add(1);
      hold(result, post_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    finish(builder_, result);
  }
};

// TryRecoverSm — `try { return ok(await make()); } catch (E e) { return recovered(e, await
// recover(e)); }`. The catch block holds an await, so (as Roslyn does) the C++ handler only
// stores the exception and the block runs after it, where it may suspend.
template <class E, class Make, class Ok, class Recover, class Recovered>
struct TryRecoverSm {
  using A1 = duet::awaiter_t<std::invoke_result_t<Make&>>;
  using In1 = detail::awaitable_result_t<std::invoke_result_t<Make&>>;
  using A2 = duet::awaiter_t<std::invoke_result_t<Recover&, const E&>>;
  using In2 = detail::awaitable_result_t<std::invoke_result_t<Recover&, const E&>>;
  using R = std::invoke_result_t<Ok&, In1>;

  int state_ = -1;
  duet::AsyncTaskMethodBuilder<R> builder_{};
  Make make_;
  Ok ok_;
  Recover recover_;
  Recovered recovered_;
  std::optional<A1> awaiter1_{};
  std::optional<A2> awaiter2_{};
  std::exception_ptr caught_{};  // the exception the catch block handles (Roslyn: <>s__1)

  const E& caught() const {
    try {
      std::rethrow_exception(caught_);
    } catch (const E& e) {
      return e;  // the exception object lives as long as caught_
    }
  }

  void move_next() {
    std::optional<R> result;
    try {
      if (state_ == 1) goto resume1;
      try {
        if (state_ == 0) goto resume0;
        awaiter1_.emplace(duet::get_awaiter(make_()));
        if (!awaiter1_->is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter1_, *this);
          return;
        }
      resume0:
        state_ = -1;
        {
          In1 r = awaiter1_->get_result();
          awaiter1_.reset();
          result.emplace(ok_(std::move(r)));
        }
      } catch (const E&) {
        awaiter1_.reset();
        caught_ = std::current_exception();
      }
      if (caught_) {  // the catch block
        awaiter2_.emplace(duet::get_awaiter(recover_(caught())));
        if (!awaiter2_->is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(*awaiter2_, *this);
          return;
        }
      resume1:
        state_ = -1;
        In2 r2 = awaiter2_->get_result();
        awaiter2_.reset();
        result.emplace(recovered_(caught(), std::move(r2)));
        caught_ = nullptr;
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(std::move(*result));
  }
};

// FireSm — `async void M() { pre(); try { var r = await make(); post(r); } finally { fin(); } }`.
// The finally block is lowered as Roslyn lowers one: the try body's exception is parked, the
// finally code runs as ordinary code, then the parked exception is rethrown.
template <class Pre, class Make, class Post, class Fin>
struct FireSm {
  using A = duet::awaiter_t<std::invoke_result_t<Make&>>;
  using In = detail::awaitable_result_t<std::invoke_result_t<Make&>>;

  int state_ = -1;
  duet::AsyncVoidMethodBuilder builder_{};
  Pre pre_;
  Make make_;
  Post post_;
  Fin fin_;
  std::optional<A> awaiter_{};
  std::exception_ptr pending_{};

  void move_next() {
    try {
      if (state_ != 0) pre_();
      try {
        if (state_ == 0) goto resume0;
        awaiter_.emplace(duet::get_awaiter(make_()));
        if (!awaiter_->is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;  // suspending: the finally code does not run
        }
      resume0:
        state_ = -1;
        if constexpr (std::is_void_v<In>) {
          awaiter_->get_result();
          awaiter_.reset();
          post_();
        } else {
          In r = awaiter_->get_result();
          awaiter_.reset();
          post_(std::move(r));
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      fin_();  // finally
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

}  // namespace explicit_style

struct Explicit {
  static constexpr const char* name = "explicit";

  template <class Pre, class Make, class Post>
  static auto task(Pre pre, Make make, Post post, Probe* probe = nullptr) {
    explicit_style::AwaitSm<detail::TaskKind, Pre, Make, Post> sm{
        .pre_ = std::move(pre), .make_ = std::move(make), .post_ = std::move(post), .probe_ = probe};
    return detail::run_machine(sm);
  }
  template <class Pre, class Make, class Post, class Fin = std::remove_const_t<decltype(nop)>>
  static void fire(Pre pre, Make make, Post post, Fin fin = {}) {
    explicit_style::FireSm<Pre, Make, Post, Fin> sm{
        .pre_ = std::move(pre), .make_ = std::move(make), .post_ = std::move(post), .fin_ = std::move(fin)};
    detail::run_machine(sm);
  }
  template <bool Pooled, class Pre, class Make, class Post>
  static auto value_task(Pre pre, Make make, Post post) {
    using Kind = std::conditional_t<Pooled, detail::PooledValueTaskKind, detail::PlainValueTaskKind>;
    explicit_style::AwaitSm<Kind, Pre, Make, Post> sm{
        .pre_ = std::move(pre), .make_ = std::move(make), .post_ = std::move(post)};
    return detail::run_machine(sm);
  }
  template <class Make, class Each, class Post>
  static auto loop(int n, Make make, Each each, Post post, Probe* probe = nullptr) {
    explicit_style::LoopSm<Make, Each, Post> sm{.n_ = n,
                                                .make_ = std::move(make),
                                                .each_ = std::move(each),
                                                .post_ = std::move(post),
                                                .probe_ = probe};
    return detail::run_machine(sm);
  }
  template <class E, class Make, class Ok, class Recover, class Recovered>
  static auto try_recover(Make make, Ok ok, Recover recover, Recovered recovered) {
    explicit_style::TryRecoverSm<E, Make, Ok, Recover, Recovered> sm{
        .make_ = std::move(make), .ok_ = std::move(ok), .recover_ = std::move(recover),
        .recovered_ = std::move(recovered)};
    return detail::run_machine(sm);
  }
};

// =============================================================================================
// dsl — AsyncMethod machines written with the DUET_* macros
// =============================================================================================
namespace dsl_style {

template <class R>
using Held = std::conditional_t<std::is_void_v<R>, detail::Unit, R>;

// Operand<A> — the awaited operand kept in the machine between make() and the await: the value,
// or (when make() returns an lvalue, e.g. a ValueTask owned elsewhere) a pointer to it.
template <class A>
struct Operand {
  std::optional<A> value;
  void set(A&& a) { value.emplace(std::move(a)); }
  A& peek() { return *value; }
  A&& get() { return std::move(*value); }
  void reset() { value.reset(); }
};
template <class A>
struct Operand<A&> {
  A* target = nullptr;
  void set(A& a) { target = &a; }
  A& peek() { return *target; }
  A& get() { return *target; }
  void reset() { target = nullptr; }
};

// call_post<R>(post, in...) — post's result, or Unit when post returns nothing.
template <class R, class Post, class... In>
Held<R> call_post(Post& post, In&&... in) {
  if constexpr (std::is_void_v<R>) {
    post(std::forward<In>(in)...);
    return {};
  } else {
    return post(std::forward<In>(in)...);
  }
}

// ProbeNote — the dsl's Probe bookkeeping around one await: before it, a suspension is noted
// when the operand is not complete yet; after it, the note is withdrawn when the method was not
// re-entered in between (the operand completed on another thread between the two checks, so the
// await did not suspend after all).
struct ProbeNote {
  int slices_before = 0;
  bool noted = false;
  template <class A>
  void before(Probe& probe, A& operand, int at) {
    slices_before = probe.slices.load();
    noted = !detail::is_ready(operand);
    if (noted) probe.suspend(at);
  }
  void after(Probe& probe) {
    if (noted && probe.slices.load() == slices_before) probe.suspended_at.pop_back();
    noted = false;
  }
};

// A switch label (every DUET_AWAIT holds one) cannot sit inside `if constexpr`, so each method
// exists twice: DUET_AWAIT for a void operand and DUET_AWAIT_INTO for a valued one. The macro
// below stamps both from one text; everything else is ordinary DSL.
template <class Kind, class Pre, class Make, class Post, bool VoidIn>
struct AwaitMethod;
template <class Make, class Each, class Post, bool VoidIn>
struct LoopMethod;
template <class Pre, class Make, class Post, class Fin, bool VoidIn>
struct FireMethod;

#define SEMANTIC_DSL_METHODS(VOID_IN, AWAIT_STATEMENT, ...)                                        \
  template <class Kind, class Pre, class Make, class Post>                                         \
  struct AwaitMethod<Kind, Pre, Make, Post, VOID_IN>                                               \
      : duet::AsyncMethod<AwaitMethod<Kind, Pre, Make, Post, VOID_IN>,                             \
                          detail::task_result_t<Make, Post>, duet::DslLimits<>,                    \
                          typename Kind::template builder<detail::task_result_t<Make, Post>>> {    \
    using Awaitable = std::invoke_result_t<Make&>;                                                 \
    using In = detail::awaitable_result_t<Awaitable>;                                              \
    using R = detail::task_result_t<Make, Post>;                                                   \
    Pre pre_;                                                                                      \
    Make make_;                                                                                    \
    Post post_;                                                                                    \
    Probe* probe_;                                                                                 \
    Operand<Awaitable> operand_;                                                             \
    std::optional<std::conditional_t<VOID_IN, detail::Unit, In>> in_;                              \
    ProbeNote note_;                                                                               \
    AwaitMethod(Pre pre, Make make, Post post, Probe* probe)                                       \
        : pre_(std::move(pre)), make_(std::move(make)), post_(std::move(post)), probe_(probe) {}   \
    void move_next() {                                                                             \
      if (probe_) probe_->slice();                                                                 \
      DUET_BEGIN                                                                                   \
        pre_();                                                                                    \
        operand_.set(make_());                                                                 \
        if (probe_) note_.before(*probe_, operand_.peek(), 0);                                     \
        AWAIT_STATEMENT;                                                                           \
        operand_.reset();                                                                          \
        if (probe_) note_.after(*probe_);                                                          \
        if (probe_) {                                                                              \
          if (probe_->slices.load() > 1) probe_->resumed();                                        \
          probe_->after_await.fetch_add(1);                                                        \
        }                                                                                          \
        if constexpr (std::is_void_v<R>) {                                                         \
          call_post<R>(post_ __VA_OPT__(, ) __VA_ARGS__);                                          \
          DUET_RETURN();                                                                           \
        } else {                                                                                   \
          DUET_RETURN(call_post<R>(post_ __VA_OPT__(, ) __VA_ARGS__));                             \
        }                                                                                          \
      DUET_END                                                                                     \
    }                                                                                              \
  };                                                                                               \
                                                                                                   \
  template <class Make, class Each, class Post>                                                    \
  struct LoopMethod<Make, Each, Post, VOID_IN>                                                     \
      : duet::AsyncMethod<LoopMethod<Make, Each, Post, VOID_IN>, std::invoke_result_t<Post&>> {    \
    using Awaitable = std::invoke_result_t<Make&, int>;                                            \
    using In = detail::awaitable_result_t<Awaitable>;                                              \
    using R = std::invoke_result_t<Post&>;                                                         \
    int n_;                                                                                        \
    Make make_;                                                                                    \
    Each each_;                                                                                    \
    Post post_;                                                                                    \
    Probe* probe_;                                                                                 \
    int i_ = 0;                                                                                    \
    Operand<Awaitable> operand_;                                                             \
    std::optional<std::conditional_t<VOID_IN, detail::Unit, In>> in_;                              \
    ProbeNote note_;                                                                               \
    LoopMethod(int n, Make make, Each each, Post post, Probe* probe)                               \
        : n_(n), make_(std::move(make)), each_(std::move(each)), post_(std::move(post)),           \
          probe_(probe) {}                                                                         \
    void move_next() {                                                                             \
      if (probe_) probe_->slice();                                                                 \
      DUET_BEGIN                                                                                   \
        for (i_ = 0; i_ < n_; ++i_) {                                                              \
          operand_.set(make_(i_));                                                             \
          if (probe_) note_.before(*probe_, operand_.peek(), i_);                                  \
          AWAIT_STATEMENT;                                                                         \
          operand_.reset();                                                                        \
          if (probe_) note_.after(*probe_);                                                        \
          if (probe_ && probe_->slices.load() > 1) probe_->resumed();                              \
          call_post<void>(each_, i_ __VA_OPT__(, ) __VA_ARGS__);                                   \
        }                                                                                          \
        if (probe_) probe_->after_await.fetch_add(1);                                              \
        if constexpr (std::is_void_v<R>) {                                                         \
          post_();                                                                                 \
          DUET_RETURN();                                                                           \
        } else {                                                                                   \
          DUET_RETURN(post_());                                                                    \
        }                                                                                          \
      DUET_END                                                                                     \
    }                                                                                              \
  };                                                                                               \
                                                                                                   \
  template <class Pre, class Make, class Post, class Fin>                                          \
  struct FireMethod<Pre, Make, Post, Fin, VOID_IN>                                                 \
      : duet::AsyncVoidMethod<FireMethod<Pre, Make, Post, Fin, VOID_IN>> {                         \
    using Awaitable = std::invoke_result_t<Make&>;                                                 \
    using In = detail::awaitable_result_t<Awaitable>;                                              \
    Pre pre_;                                                                                      \
    Make make_;                                                                                    \
    Post post_;                                                                                    \
    Fin fin_;                                                                                      \
    Operand<Awaitable> operand_;                                                             \
    std::optional<std::conditional_t<VOID_IN, detail::Unit, In>> in_;                              \
    FireMethod(Pre pre, Make make, Post post, Fin fin)                                             \
        : pre_(std::move(pre)), make_(std::move(make)), post_(std::move(post)), fin_(std::move(fin)) {} \
    void move_next() {                                                                             \
      DUET_BEGIN                                                                                   \
        pre_();                                                                                    \
        DUET_TRY                                                                                   \
          operand_.set(make_());                                                               \
          AWAIT_STATEMENT;                                                                         \
          operand_.reset();                                                                        \
          call_post<void>(post_ __VA_OPT__(, ) __VA_ARGS__);                                       \
        DUET_FINALLY                                                                               \
          fin_();                                                                                  \
        DUET_END_TRY                                                                               \
      DUET_END                                                                                     \
    }                                                                                              \
  };

SEMANTIC_DSL_METHODS(true, DUET_AWAIT(operand_.get()))
SEMANTIC_DSL_METHODS(false, DUET_AWAIT_INTO(in_, operand_.get()), std::move(*in_))
#undef SEMANTIC_DSL_METHODS

// TryRecoverMethod — try { return ok(await make()); } catch (E e) { return recovered(e, await
// recover(e)); }
template <class E, class Make, class Ok, class Recover, class Recovered>
struct TryRecoverMethod
    : duet::AsyncMethod<TryRecoverMethod<E, Make, Ok, Recover, Recovered>,
                        std::invoke_result_t<Ok&, detail::awaitable_result_t<std::invoke_result_t<Make&>>>> {
  Make make_;
  Ok ok_;
  Recover recover_;
  Recovered recovered_;
  std::optional<detail::awaitable_result_t<std::invoke_result_t<Make&>>> in1_;
  std::optional<detail::awaitable_result_t<std::invoke_result_t<Recover&, const E&>>> in2_;
  TryRecoverMethod(Make make, Ok ok, Recover recover, Recovered recovered)
      : make_(std::move(make)), ok_(std::move(ok)), recover_(std::move(recover)),
        recovered_(std::move(recovered)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT_INTO(in1_, make_());
        DUET_RETURN(ok_(std::move(*in1_)));
      DUET_CATCH(const E&, e)
        DUET_AWAIT_INTO(in2_, recover_(e));
        DUET_RETURN(recovered_(e, std::move(*in2_)));
      DUET_END_TRY
    DUET_END
  }
};

}  // namespace dsl_style

struct Dsl {
  static constexpr const char* name = "dsl";

  template <class Kind, class Pre, class Make, class Post>
  using Method = dsl_style::AwaitMethod<Kind, Pre, Make, Post,
                                        std::is_void_v<detail::awaitable_result_t<std::invoke_result_t<Make&>>>>;

  template <class Pre, class Make, class Post>
  static auto task(Pre pre, Make make, Post post, Probe* probe = nullptr) {
    return duet::start<Method<detail::TaskKind, Pre, Make, Post>>(std::move(pre), std::move(make),
                                                                  std::move(post), probe);
  }
  template <class Pre, class Make, class Post, class Fin = std::remove_const_t<decltype(nop)>>
  static void fire(Pre pre, Make make, Post post, Fin fin = {}) {
    using M = dsl_style::FireMethod<Pre, Make, Post, Fin,
                                    std::is_void_v<detail::awaitable_result_t<std::invoke_result_t<Make&>>>>;
    duet::start<M>(std::move(pre), std::move(make), std::move(post), std::move(fin));
  }
  template <bool Pooled, class Pre, class Make, class Post>
  static auto value_task(Pre pre, Make make, Post post) {
    using Kind = std::conditional_t<Pooled, detail::PooledValueTaskKind, detail::PlainValueTaskKind>;
    return duet::start<Method<Kind, Pre, Make, Post>>(std::move(pre), std::move(make), std::move(post),
                                                      nullptr);
  }
  template <class Make, class Each, class Post>
  static auto loop(int n, Make make, Each each, Post post, Probe* probe = nullptr) {
    using M = dsl_style::LoopMethod<Make, Each, Post, std::is_void_v<detail::loop_in_t<Make>>>;
    return duet::start<M>(n, std::move(make), std::move(each), std::move(post), probe);
  }
  template <class E, class Make, class Ok, class Recover, class Recovered>
  static auto try_recover(Make make, Ok ok, Recover recover, Recovered recovered) {
    return duet::start<dsl_style::TryRecoverMethod<E, Make, Ok, Recover, Recovered>>(
        std::move(make), std::move(ok), std::move(recover), std::move(recovered));
  }
};

// =============================================================================================
// fiber — straight-line code on a fiber, `await x` written duet::await(x)
// =============================================================================================
namespace fiber_style {

using detail::fiber_call;

// await_body(pre, make, post, probe) — the body of `task`, `fire` and `value_task`.
template <class Pre, class Make, class Post>
detail::task_result_t<Make, Post> await_body(Pre& pre, Make& make, Post& post, Probe* probe) {
  using In = detail::awaitable_result_t<std::invoke_result_t<Make&>>;
  if (probe) probe->slice();
  fiber_call(pre);
  decltype(auto) operand = fiber_call(make);
  const bool suspends = probe && !detail::is_ready(operand);
  if (suspends) probe->suspend(0);
  if constexpr (std::is_void_v<In>) {
    duet::await(static_cast<decltype(operand)&&>(operand));
    if (suspends) probe->slice(), probe->resumed();
    if (probe) probe->after_await.fetch_add(1);
    return fiber_call(post);
  } else {
    In r = duet::await(static_cast<decltype(operand)&&>(operand));
    if (suspends) probe->slice(), probe->resumed();
    if (probe) probe->after_await.fetch_add(1);
    return fiber_call(post, std::move(r));
  }
}

}  // namespace fiber_style

struct Fiber {
  static constexpr const char* name = "fiber";

  template <class Pre, class Make, class Post>
  static auto task(Pre pre, Make make, Post post, Probe* probe = nullptr) {
    return duet::fiber::async([pre = std::move(pre), make = std::move(make), post = std::move(post),
                               probe]() mutable { return fiber_style::await_body(pre, make, post, probe); });
  }
  template <class Pre, class Make, class Post, class Fin = std::remove_const_t<decltype(nop)>>
  static void fire(Pre pre, Make make, Post post, Fin fin = {}) {
    static_assert(std::is_void_v<detail::task_result_t<Make, Post>>, "async void: post returns nothing");
    duet::fiber::async_void([pre = std::move(pre), make = std::move(make), post = std::move(post),
                             fin = std::move(fin)]() mutable {
      detail::fiber_call(pre);
      std::exception_ptr pending;
      try {
        auto nothing = [] {};
        fiber_style::await_body(nothing, make, post, nullptr);
      } catch (...) {
        pending = std::current_exception();
      }
      detail::fiber_call(fin);  // finally
      if (pending) std::rethrow_exception(pending);
    });
  }
  // value_task<true> is async_value (the fiber's pooled ValueTask form). value_task<false> is the
  // plain builder's rule written over async(): the value itself when the call completed
  // successfully before returning, the call's task otherwise.
  template <bool Pooled, class Pre, class Make, class Post>
  static auto value_task(Pre pre, Make make, Post post) {
    auto body = [pre = std::move(pre), make = std::move(make), post = std::move(post)]() mutable {
      return fiber_style::await_body(pre, make, post, nullptr);
    };
    using R = detail::task_result_t<Make, Post>;
    if constexpr (Pooled) {
      return duet::fiber::async_value(std::move(body));
    } else {
      duet::Task<R> t = duet::fiber::async(std::move(body));
      if (t.is_completed_successfully()) {
        if constexpr (std::is_void_v<R>) {
          return duet::ValueTask<R>();
        } else {
          return duet::ValueTask<R>(t.result());
        }
      }
      return duet::ValueTask<R>(std::move(t));
    }
  }
  template <class Make, class Each, class Post>
  static auto loop(int n, Make make, Each each, Post post, Probe* probe = nullptr) {
    return duet::fiber::async([n, make = std::move(make), each = std::move(each), post = std::move(post),
                               probe]() mutable {
      using In = detail::loop_in_t<Make>;
      if (probe) probe->slice();
      for (int i = 0; i < n; ++i) {
        decltype(auto) operand = detail::fiber_call(make, i);
        const bool suspends = probe && !detail::is_ready(operand);
        if (suspends) probe->suspend(i);
        if constexpr (std::is_void_v<In>) {
          duet::await(static_cast<decltype(operand)&&>(operand));
          if (suspends) probe->slice(), probe->resumed();
          detail::fiber_call(each, i);
        } else {
          In r = duet::await(static_cast<decltype(operand)&&>(operand));
          if (suspends) probe->slice(), probe->resumed();
          detail::fiber_call(each, i, std::move(r));
        }
      }
      if (probe) probe->after_await.fetch_add(1);
      return detail::fiber_call(post);
    });
  }
  template <class E, class Make, class Ok, class Recover, class Recovered>
  static auto try_recover(Make make, Ok ok, Recover recover, Recovered recovered) {
    return duet::fiber::async([make = std::move(make), ok = std::move(ok), recover = std::move(recover),
                               recovered = std::move(recovered)]() mutable {
      try {
        auto r = duet::await(detail::fiber_call(make));
        return detail::fiber_call(ok, std::move(r));
      } catch (const E& e) {
        auto r2 = duet::await(detail::fiber_call(recover, e));
        return detail::fiber_call(recovered, e, std::move(r2));
      }
    });
  }
};

// collect<S>(e, k) — a style-S method consuming an async stream:
//   async Task<List<T>> M() { var got = new List<T>();
//     for (j < k) { if (await e.MoveNextAsync()) got.Add(e.Current); } return got; }
template <class S, class T>
duet::Task<std::vector<T>> collect(duet::AsyncEnumerator<T>& e, int k) {
  auto got = std::make_shared<std::vector<T>>();
  return S::loop(
      k, [&e](int) { return e.move_next_async(); },
      [&e, got](int, bool more) {
        if (more) got->push_back(e.current());
      },
      [got] { return *got; });
}

using AllStyles = ::testing::Types<Explicit, Dsl, Fiber>;

// StyleName — names the typed instantiations after the style ("MethodCore/explicit").
struct StyleName {
  template <class S>
  static std::string GetName(int) {
    return S::name;
  }
};

}  // namespace semantic
