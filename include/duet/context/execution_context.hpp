// duet/context/execution_context.hpp — ExecutionContext: ambient state that flows across awaits,
// as in .NET (AsyncLocal<T>, its values, is in context/async_local.hpp).
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
//    step of every on_completed (core/continuation.hpp).
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

#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/detail/execution_context_node.hpp"

namespace duet {

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
  // (.NET's ExecutionContext.Run / RunInternal). Flow is never suppressed inside fn, whatever
  // the caller's suppress_flow() (as in .NET, where the suppression belongs to the caller's
  // context); the caller's suppression is back when run returns. Returns what fn returns.
  // Throws InvalidOperationError for a null context (captured while flow was suppressed).
  template <class Fn>
  static decltype(auto) run(const ExecutionContext& ctx, Fn&& fn) {
    if (ctx.null_) throw_run_null();
    detail::AmbientScope restore;
    FlowScope lift;
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
  // FlowScope — lifts suppress_flow() for run()'s body and puts the caller's back afterwards.
  class FlowScope {
   public:
    FlowScope() noexcept : suppressed_(detail::ec_flow_suppressed()) {
      if (suppressed_) detail::ec_set_flow_suppressed(false);
    }
    FlowScope(const FlowScope&) = delete;
    FlowScope& operator=(const FlowScope&) = delete;
    ~FlowScope() { detail::ec_set_flow_suppressed(suppressed_); }

   private:
    bool suppressed_;
  };

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

}  // namespace duet
