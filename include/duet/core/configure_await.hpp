// duet/core/awaiter.hpp — the awaiter pattern shared by all three styles.
//
// An *awaitable* is anything duet::get_awaiter(x) accepts, found in this order:
//   1. a member      x.get_awaiter()                 (Task<T>, ValueTask<T>, ...);
//   2. a free        get_awaiter(x) found by ADL      (make your own type awaitable);
//   3. a trait       duet::awaitable_traits<T>::get_awaiter(x)
//                    (for types with no namespace to put an ADL overload in, e.g. the seeds'
//                    `await 5` on an int).
// An *awaiter* has
//   bool is_completed()                    fast path: true means "no suspension at all";
//   void on_completed(Continuation&)       resume the continuation when done, flowing the
//                                          ExecutionContext;
//   void unsafe_on_completed(Continuation&) the same without flowing it (the caller flows it);
//   R    get_result()                      the value, or rethrow the stored exception.
// Both on_completed forms capture SynchronizationContext::current() into the continuation
// unless the awaitable was configured with configure_await(false).
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/synchronization_context.hpp"

namespace duet {

// awaitable_traits<T> — customisation point for types that cannot carry a member or ADL
// get_awaiter. Specialise it with `static auto get_awaiter(T)` returning an awaiter.
template <class T>
struct awaitable_traits;

// Awaiter — the awaiter concept (see the table above).
template <class A>
concept Awaiter = requires(A& a, Continuation& c) {
  { a.is_completed() } -> std::convertible_to<bool>;
  a.on_completed(c);
  a.unsafe_on_completed(c);
  a.get_result();
};

namespace detail_adl {
void get_awaiter() = delete;  // poison pill: only ADL finds a free get_awaiter

template <class T>
concept has_member_get_awaiter = requires(T&& t) { std::forward<T>(t).get_awaiter(); };
template <class T>
concept has_adl_get_awaiter = requires(T&& t) { get_awaiter(std::forward<T>(t)); };
template <class T>
concept has_trait_get_awaiter =
    requires(T&& t) { awaitable_traits<std::remove_cvref_t<T>>::get_awaiter(std::forward<T>(t)); };

struct GetAwaiterFn {
  template <class T>
  decltype(auto) operator()(T&& t) const {
    if constexpr (has_member_get_awaiter<T>) {
      return std::forward<T>(t).get_awaiter();
    } else if constexpr (has_adl_get_awaiter<T>) {
      return get_awaiter(std::forward<T>(t));
    } else if constexpr (has_trait_get_awaiter<T>) {
      return awaitable_traits<std::remove_cvref_t<T>>::get_awaiter(std::forward<T>(t));
    } else {
      static_assert(has_member_get_awaiter<T>,
                    "duet: this expression is not awaitable. Give its type a member "
                    "get_awaiter(), a free get_awaiter(x) in its namespace (found by ADL), or "
                    "specialise duet::awaitable_traits<T>; the result must satisfy "
                    "duet::Awaiter (is_completed, on_completed, unsafe_on_completed, "
                    "get_result).");
    }
  }
};
}  // namespace detail_adl

inline namespace cpo {
// get_awaiter(x) — the awaiter of any awaitable (see the lookup order above).
inline constexpr detail_adl::GetAwaiterFn get_awaiter{};
}  // namespace cpo

// Awaitable — something get_awaiter accepts and whose awaiter satisfies Awaiter.
template <class T>
concept Awaitable = (detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                     detail_adl::has_trait_get_awaiter<T>) &&
                    requires(T&& t) {
                      { duet::get_awaiter(std::forward<T>(t)) } -> Awaiter;
                    };

// awaiter_t<T> / await_result_t<T> — the awaiter type and the result type of awaiting a T.
template <class T>
using awaiter_t = std::remove_cvref_t<decltype(duet::get_awaiter(std::declval<T>()))>;
template <class T>
using await_result_t = decltype(std::declval<awaiter_t<T>&>().get_result());

// require_awaitable<T>() — a readable compile error when T is not awaitable (used by builders,
// the DSL and duet::await).
template <class T>
constexpr void require_awaitable() {
  static_assert(detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                    detail_adl::has_trait_get_awaiter<T>,
                "duet: this expression is not awaitable. Give its type a member get_awaiter(), "
                "a free get_awaiter(x) in its namespace (found by ADL), or specialise "
                "duet::awaitable_traits<T>.");
  if constexpr (detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                detail_adl::has_trait_get_awaiter<T>) {
    static_assert(Awaiter<awaiter_t<T>>,
                  "duet: get_awaiter(x) returned a type that is not an awaiter: it needs bool "
                  "is_completed(), on_completed(Continuation&), unsafe_on_completed(Continuation&) "
                  "and get_result().");
  }
}

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
