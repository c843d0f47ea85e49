// context_machines.hpp — small explicit-style async methods for the context tests.
//
// AwaitMachine is the shape Roslyn generates for
//     async R Method() { pre(); var r = await make(); return post(r); }
// written once as a template so each test states only its three steps (the execution-context
// mechanism tests use it; method behaviour in every style is tests/semantic).
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include <duet/duet.hpp>

namespace ctx_test {

template <class Post, class In>
struct PostResultOf {
  using type = std::invoke_result_t<Post&, In>;
};
template <class Post>
struct PostResultOf<Post, void> {
  using type = std::invoke_result_t<Post&>;
};
template <class Make, class Post>
using post_result_t =
    typename PostResultOf<Post, duet::await_result_t<std::invoke_result_t<Make&>>>::type;

template <class Builder, class Pre, class Make, class Post>
struct AwaitMachine {
  using Awaitable = std::invoke_result_t<Make&>;
  using A = duet::awaiter_t<Awaitable>;
  using In = duet::await_result_t<Awaitable>;

  int state_ = -1;
  Builder builder_;
  Pre pre_;
  Make make_;
  Post post_;
  std::optional<A> awaiter_;

  AwaitMachine(Pre pre, Make make, Post post)
      : pre_(std::move(pre)), make_(std::move(make)), post_(std::move(post)) {}
  AwaitMachine(AwaitMachine&&) = default;

  void move_next() {
    if (state_ == -1) {
      pre_();
      awaiter_.emplace(duet::get_awaiter(make_()));
      if (!awaiter_->is_completed()) {
        state_ = 0;
        builder_.await_on_completed(*awaiter_, *this);
        return;
      }
    }
    state_ = -1;
    finish();
  }

 private:
  void finish() {
    if constexpr (std::is_void_v<In>) {
      awaiter_->get_result();
      awaiter_.reset();
      complete([&] { return post_(); });
    } else {
      In r = awaiter_->get_result();
      awaiter_.reset();
      complete([&] { return post_(std::move(r)); });
    }
  }
  template <class F>
  void complete(F f) {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      state_ = -2;
      builder_.set_result();
    } else {
      auto v = f();
      state_ = -2;
      builder_.set_result(std::move(v));
    }
  }
};

struct Nothing {
  void operator()() const noexcept {}
};

// async_await(pre, make, post) — runs the machine as an `async Task<R>` method.
template <class Pre, class Make, class Post>
auto async_await(Pre pre, Make make, Post post) {
  using R = post_result_t<Make, Post>;
  AwaitMachine<duet::AsyncTaskMethodBuilder<R>, Pre, Make, Post> sm(std::move(pre), std::move(make),
                                                                   std::move(post));
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// reset_thread_context() — back to the default ExecutionContext on this thread (test hygiene:
// a value set on a test thread outside any async method stays there, as in .NET).
inline void reset_thread_context() { duet::detail::ec_set_current(nullptr); }

}  // namespace ctx_test
