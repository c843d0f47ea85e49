// duet/core/configure_await.hpp — configure_await(x, continue_on_captured_context): .NET's
// ConfigureAwait for any awaitable. Task<T> and ValueTask<T> have their own member
// configure_await (core/task.hpp, value_task/value_task.hpp); this generic form serves the rest
// by hiding the current SynchronizationContext from the inner awaiter.
#pragma once

#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/synchronization_context.hpp"

namespace duet {

// ConfiguredAwaitable<A> — the generic result of configure_await(x, continue_on_captured_context)
// for awaitables without a member configure_await. Its awaiter hides the current context from
// the inner awaiter when continue_on_captured_context is false.
template <class Inner>
class ConfiguredAwaitable {
 public:
  class ConfiguredAwaiter {
   public:
    // ConfiguredAwaiter() — an empty awaiter (when Inner has one), so a state machine can keep
    // it in a field as Roslyn does (`<>u__1 = default`). Assign a real one before use.
    ConfiguredAwaiter() = default;
    ConfiguredAwaiter(Inner inner, bool capture) : inner_(std::move(inner)), capture_(capture) {}
    bool is_completed() { return inner_.is_completed(); }
    void on_completed(Continuation& c) {
      if (capture_) return inner_.on_completed(c);
      SyncContextScope no_context(nullptr);
      inner_.on_completed(c);
    }
    void unsafe_on_completed(Continuation& c) {
      if (capture_) return inner_.unsafe_on_completed(c);
      SyncContextScope no_context(nullptr);
      inner_.unsafe_on_completed(c);
    }
    decltype(auto) get_result() { return inner_.get_result(); }

   private:
    Inner inner_{};
    bool capture_ = true;
  };

  ConfiguredAwaitable(Inner inner, bool capture) : inner_(std::move(inner)), capture_(capture) {}
  ConfiguredAwaiter get_awaiter() && { return ConfiguredAwaiter(std::move(inner_), capture_); }

 private:
  Inner inner_;
  bool capture_;
};

// configure_await(x, continue_on_captured_context) — as .NET's ConfigureAwait: false means the
// continuation does not resume on the captured SynchronizationContext. Uses x's member
// configure_await when it has one.
template <class T>
auto configure_await(T&& x, bool continue_on_captured_context) {
  if constexpr (requires { std::forward<T>(x).configure_await(continue_on_captured_context); }) {
    return std::forward<T>(x).configure_await(continue_on_captured_context);
  } else {
    require_awaitable<T>();
    using Inner = awaiter_t<T>;
    return ConfiguredAwaitable<Inner>(duet::get_awaiter(std::forward<T>(x)),
                                      continue_on_captured_context);
  }
}

}  // namespace duet
