// duet/context/async_local.hpp — AsyncLocal<T>: a value local to an asynchronous control flow,
// stored in the ExecutionContext (context/execution_context.hpp) and flowing with it.
#pragma once

#include <atomic>
#include <concepts>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/context/execution_context.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/detail/execution_context_node.hpp"

namespace duet {

namespace detail {
// report_change_handler_threw(e) — reports an InvalidOperationError naming the rule (an AsyncLocal
// change handler must not throw on a context switch) and `e`'s message, once per local.
void report_change_handler_threw(std::exception_ptr e) noexcept;
}  // namespace detail

// AsyncLocalValueChangedArgs<T> — what a change callback receives (.NET's type of that name).
template <class T>
struct AsyncLocalValueChangedArgs {
  T previous_value;             // the value before the change (T{} when it was not set)
  T current_value;              // the value after the change
  bool thread_context_changed;  // true: the thread switched contexts; false: set_value
};

// AsyncLocal<T> — ambient data local to an asynchronous control flow (.NET's AsyncLocal<T>).
// value() reads the calling thread's current ExecutionContext; set_value() installs a new one.
// Requirements on T: default-constructible (an unset local reads T{}) and copy-constructible.
// Values compare with == when T has it: setting an equal value is a no-op (no new map, no
// callback), and callbacks fire only when the value observed by value() changes. Without ==,
// values compare by identity (the bytes of an inline value; the box of a boxed one).
// Thread-safety: every member may be called from any thread. A local with a change callback must
// outlive every context holding its value (make it static); one without may be destroyed at any
// time — its values simply become unreachable. Neither copyable nor movable (it is a key).
template <class T>
class AsyncLocal final : private detail::AsyncLocalBase {
  static_assert(std::is_default_constructible_v<T> && std::is_copy_constructible_v<T>,
                "duet::AsyncLocal<T>: T must be default-constructible (an unset local reads T{}) "
                "and copy-constructible (value() returns a copy)");

 public:
  // ValueChangedHandler — the change callback type.
  using ValueChangedHandler = std::function<void(const AsyncLocalValueChangedArgs<T>&)>;

  // AsyncLocal() — a local without change callback.
  AsyncLocal() noexcept = default;
  // AsyncLocal(handler) — a local whose changes are reported to `handler` (see the header).
  // Exceptions from the handler propagate out of set_value(); on a context switch they go to the
  // unhandled-exception handler (.NET fails fast there) once, as an InvalidOperationError naming
  // the rule, and this local's switch notifications stop.
  explicit AsyncLocal(ValueChangedHandler handler) : handler_(std::move(handler)) {}

  // value() — the value in the calling thread's current context, or T{} when not set there.
  T value() const { return ref(detail::ec_find(detail::ec_current(), id_)); }

  // set_value(v) — sets the value for the current context and everything that captures it from
  // now on (copy-on-write; see "Costs" in the header). Throws std::bad_alloc and leaves the
  // context unchanged when memory runs out.
  void set_value(T v) {
    detail::ExecutionContextNode* const cur = detail::ec_current();
    const detail::EcEntry* const old = detail::ec_find(cur, id_);
    if constexpr (std::equality_comparable<T>) {
      if (ref(old) == v) return;
    }
    detail::EcEntry e;
    std::memset(&e, 0, sizeof e);
    e.key = id_;
    e.notify = handler_ ? static_cast<detail::AsyncLocalBase*>(this) : nullptr;
    if constexpr (detail::ec_stores_inline<T>) {
      e.boxed = false;
      std::memcpy(e.storage, std::addressof(v), sizeof(T));
    } else {
      e.boxed = true;
      detail::EcBox* box = new detail::EcBoxOf<T>(std::move(v));
      std::memcpy(e.storage, &box, sizeof box);
    }
    if (!handler_) {
      detail::ec_adopt_current(detail::ec_with(cur, e));
      return;
    }
    T previous = ref(old);  // copied before the old map can go away
    detail::ec_adopt_current(detail::ec_with(cur, e));
    handler_(AsyncLocalValueChangedArgs<T>{std::move(previous), value(), false});
  }

 private:
  // ref(e) — the value an entry holds (T{} for a missing entry). Valid while the entry's map is.
  static const T& ref(const detail::EcEntry* e) noexcept {
    if (!e) return default_value();
    if constexpr (detail::ec_stores_inline<T>) {
      return *std::launder(reinterpret_cast<const T*>(e->storage));
    } else {
      return static_cast<const detail::EcBoxOf<T>*>(e->box())->value;
    }
  }
  static const T& default_value() noexcept {
    static const T v{};
    return v;
  }
  // same(a, b) — whether two entries hold the same value (see the class comment).
  static bool same(const detail::EcEntry* a, const detail::EcEntry* b) {
    if constexpr (std::equality_comparable<T>) {
      return ref(a) == ref(b);
    } else {
      if (!a || !b) return a == b;
      if constexpr (detail::ec_stores_inline<T>) {
        return std::memcmp(a->storage, b->storage, sizeof(T)) == 0;
      } else {
        return a->box() == b->box();
      }
    }
  }

  // value_changed — the context-switch notification. A handler that throws here has no caller
  // to receive the exception: it is reported once (report_change_handler_threw) and this
  // local's switch notifications stop, so a handler that keeps throwing cannot flood the
  // unhandled-exception handler (whose default terminates) from every thread at once.
  void value_changed(const detail::EcEntry* previous, const detail::EcEntry* current,
                     bool thread_context_changed) noexcept override {
    if (switch_failed_.load(std::memory_order_relaxed)) return;
    try {
      if (same(previous, current)) return;
      handler_(AsyncLocalValueChangedArgs<T>{ref(previous), ref(current), thread_context_changed});
    } catch (...) {
      if (!switch_failed_.exchange(true, std::memory_order_relaxed)) {
        detail::report_change_handler_threw(std::current_exception());
      }
    }
  }

  ValueChangedHandler handler_;
  std::atomic<bool> switch_failed_{false};  // a switch notification threw (see value_changed)
};

}  // namespace duet
