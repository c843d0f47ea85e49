// duet/execution_context.hpp — ExecutionContext and AsyncLocal<T>: ambient state that flows
// across awaits, as in .NET.
//
// Model
// -----
// An ExecutionContext is an immutable, reference-counted map from AsyncLocal keys to values
// (detail/execution_context_node.hpp). The empty (default) context is the null pointer, so
// capturing, flowing and restoring it costs nothing: no allocation, no atomic. Each thread has a
// *current* context. AsyncLocal<T>::set_value builds a new map (copy-on-write) and installs it as
// the thread's current context; whoever captured the old map keeps seeing the old value.
//
// Where contexts are captured and restored (the whole of "flow")
// ---------------------------------------------------------------
//  * Capture is a pointer copy plus a reference: ExecutionContext::capture(), and the capture
//    step of every on_completed (detail::capture_execution_context into the Continuation).
//  * run_continuation(c) installs the captured context, runs c, and restores the thread's own —
//    so a value set before an await is seen after it, on whatever thread the method resumes.
//  * The method builder saves the caller's context around start(), and run_continuation restores
//    around every later move_next(): a value set inside an async method is never seen by its
//    caller once the call returns (or suspends).
//  * run(fn) and every pool work item flow the poster's context; a pool thread returns to the
//    default context between items.
//  * unsafe_on_completed captures nothing: its continuation runs in whatever context the
//    resuming thread has (the builders call it after flowing the context themselves).
//  * suppress_flow(): capture() returns a null context and awaits/run(fn) flow nothing, until
//    the guard goes or restore_flow() is called (.NET's ExecutionContext.SuppressFlow).
//
// Change callbacks (.NET's AsyncLocal(Action<AsyncLocalValueChangedArgs<T>>)): the callback runs
// with thread_context_changed = false when set_value changes the value on this thread, and with
// thread_context_changed = true when the thread switches to a context where the value differs
// (run_continuation, ExecutionContext::run, the builder's restore, a pool thread cleaning up).
//
// Costs: capture and flowing the default context 0 allocations; set_value 1 allocation for a small
// trivially copyable T (stored inline in the map), 2 for any other T (a shared refcounted box plus
// the map); value() none (a copy of T).
//
// Thread-safety: ExecutionContext handles are immutable and may be shared freely. The thread's
// *current* context is thread-local: reach it only through the functions below (never cache its
// address — fibers migrate between threads). An AsyncLocal may be used from any number of threads
// at once: each thread reads and writes its own current map.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "duet/continuation.hpp"
#include "duet/detail/execution_context_node.hpp"
#include "duet/errors.hpp"
#include "duet/sync_context.hpp"

namespace duet {

namespace detail {

// ec_add_ref / ec_release — intrusive reference counting; null is allowed and ignored.
void ec_add_ref(ExecutionContextNode* n) noexcept;
void ec_release(ExecutionContextNode* n) noexcept;

// ec_current — the calling thread's current context, borrowed (no reference taken).
ExecutionContextNode* ec_current() noexcept;

// ec_set_current — installs `n` (taking a reference) and drops the reference to the previous one.
// Notifies AsyncLocal change callbacks whose value differs between the two contexts.
void ec_set_current(ExecutionContextNode* n) noexcept;

// report_unhandled_exception(e) — forwards to the process-wide unhandled-exception handler.
void report_unhandled_exception(std::exception_ptr e) noexcept;
// report_change_handler_threw(e) — reports an InvalidOperationError naming the rule (an AsyncLocal
// change handler must not throw on a context switch) and `e`'s message, once per local.
void report_change_handler_threw(std::exception_ptr e) noexcept;

// ec_flow_suppressed — true when ExecutionContext::suppress_flow() is in force on this thread.
bool ec_flow_suppressed() noexcept;

// capture_execution_context(c) — the capture step for an awaiter: records the current context in
// `c` (holding one reference) and sets c.flow_execution_context, unless flow is suppressed.
inline void capture_execution_context(Continuation& c) noexcept {
  if (ec_flow_suppressed()) {
    c.flow_execution_context = false;
    return;
  }
  ExecutionContextNode* n = ec_current();
  c.flow_execution_context = true;
  // A second capture of the same context (the builder captures, then the awaiter's
  // on_completed does) keeps the reference the first one took.
  if (c.execution_context == n) return;
  ec_add_ref(n);
  ExecutionContextNode* old = c.execution_context;
  c.execution_context = n;
  ec_release(old);
}

// EcScope — saves the thread's current context and restores it on destruction (the
// "always restore" half of ExecutionContext.RunInternal). Zero reference-count traffic when the
// saved context is the default one.
class EcScope {
 public:
  EcScope() noexcept : saved_(ec_current()) { ec_add_ref(saved_); }
  EcScope(const EcScope&) = delete;
  EcScope& operator=(const EcScope&) = delete;
  ~EcScope() {
    if (ec_current() != saved_) ec_set_current(saved_);
    ec_release(saved_);
  }

 private:
  ExecutionContextNode* saved_;
};

}  // namespace detail

// ExecutionContext — a captured context: a handle to one immutable AsyncLocal map.
// Copyable; all members are thread-safe.
class ExecutionContext {
 public:
  // ExecutionContext() — the default (empty) context.
  ExecutionContext() noexcept = default;
  ExecutionContext(const ExecutionContext& o) noexcept : node_(o.node_) { detail::ec_add_ref(node_); }
  ExecutionContext(ExecutionContext&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
  ExecutionContext& operator=(ExecutionContext o) noexcept {
    std::swap(node_, o.node_);
    return *this;
  }
  ~ExecutionContext() { detail::ec_release(node_); }

  // capture() — the calling thread's current context (a pointer copy; no allocation). While flow
  // is suppressed it returns a *null* context instead (is_null() is true), as .NET's Capture()
  // returns null; run() refuses a null context.
  static ExecutionContext capture() noexcept {
    ExecutionContext ec;
    if (detail::ec_flow_suppressed()) {
      ec.null_ = true;
      return ec;
    }
    ec.node_ = detail::ec_current();
    detail::ec_add_ref(ec.node_);
    return ec;
  }

  // is_null() — true for the result of capture() under suppressed flow.
  bool is_null() const noexcept { return null_; }

  // run(ctx, fn) — runs fn() with `ctx` installed as the current context and always restores
  // the caller's ExecutionContext and SynchronizationContext afterwards, also when fn throws
  // (.NET's ExecutionContext.Run / RunInternal). Returns what fn returns. Throws
  // InvalidOperationError for a null context (captured while flow was suppressed).
  template <class Fn>
  static decltype(auto) run(const ExecutionContext& ctx, Fn&& fn) {
    if (ctx.null_) throw_run_null();
    detail::EcScope restore;
    SyncContextScope restore_sync(SynchronizationContext::current());
    detail::ec_set_current(ctx.node_);
    return std::forward<Fn>(fn)();
  }

  // suppress_flow() — stops capture on this thread until the returned guard is destroyed or
  // restore_flow() is called (.NET's AsyncFlowControl). Throws InvalidOperationError when flow is
  // already suppressed.
  class AsyncFlowControl;
  static AsyncFlowControl suppress_flow();
  // restore_flow() — ends suppression. Throws InvalidOperationError when flow is not suppressed.
  static void restore_flow();
  // is_flow_suppressed() — whether capture is currently suppressed on this thread.
  static bool is_flow_suppressed() noexcept { return detail::ec_flow_suppressed(); }

  // node() — the underlying map (internal use).
  detail::ExecutionContextNode* node() const noexcept { return node_; }

  friend bool operator==(const ExecutionContext& a, const ExecutionContext& b) noexcept {
    return a.node_ == b.node_ && a.null_ == b.null_;
  }

 private:
  [[noreturn]] static void throw_run_null();

  detail::ExecutionContextNode* node_ = nullptr;
  bool null_ = false;
};

// ExecutionContext::AsyncFlowControl — scope guard returned by suppress_flow(); its destructor
// restores flow if restore_flow() was not called. Move-only; use on the thread that created it.
class ExecutionContext::AsyncFlowControl {
 public:
  AsyncFlowControl(AsyncFlowControl&& o) noexcept : active_(std::exchange(o.active_, false)) {}
  AsyncFlowControl& operator=(AsyncFlowControl&&) = delete;
  ~AsyncFlowControl();
  // undo() — restores flow now (.NET's AsyncFlowControl.Undo).
  void undo();

 private:
  friend class ExecutionContext;
  AsyncFlowControl() noexcept = default;
  bool active_ = true;
};

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
