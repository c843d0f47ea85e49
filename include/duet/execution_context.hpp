// duet/execution_context.hpp — ExecutionContext and AsyncLocal<T>: ambient state that flows
// across awaits, as in .NET.
//
// Model. An ExecutionContext is an immutable, reference-counted map from AsyncLocal keys to
// values. The empty (default) context is the null pointer, so capturing and restoring it costs
// nothing. AsyncLocal<T>::set_value builds a new map (copy-on-write) and installs it as the
// thread's current context; nothing that captured the old map can see the change. So:
//  * capture() is a pointer copy plus a reference;
//  * a value set before an await is seen after it, on whatever thread the method resumes (the
//    awaiter captured the map, the continuation reinstalls it);
//  * a value set inside an async method is never seen by its caller once the call returns: the
//    method builder saves the caller's context before start()/move_next() and restores it after.
//
// Thread-safety: ExecutionContext handles are immutable and may be shared freely. The thread's
// *current* context is thread-local: reach it only through the functions below (never cache its
// address — fibers migrate between threads).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "duet/continuation.hpp"

namespace duet {

namespace detail {

// ExecutionContextNode — the immutable map behind ExecutionContext (see execution_context.cpp).
struct ExecutionContextNode;

// ec_add_ref / ec_release — intrusive reference counting; null is allowed and ignored.
void ec_add_ref(ExecutionContextNode* n) noexcept;
void ec_release(ExecutionContextNode* n) noexcept;

// ec_current — the calling thread's current context, borrowed (no reference taken).
ExecutionContextNode* ec_current() noexcept;

// ec_set_current — installs `n` (taking a reference) and drops the reference to the previous one.
// Notifies AsyncLocal change callbacks whose value differs between the two contexts.
void ec_set_current(ExecutionContextNode* n) noexcept;

// ec_flow_suppressed — true when ExecutionContext::suppress_flow() is in force on this thread.
bool ec_flow_suppressed() noexcept;

// capture_into(c) — the capture step for an awaiter: records the current context in `c` (with a
// reference) and sets c.flow_execution_context, unless flow is suppressed.
inline void capture_execution_context(Continuation& c) noexcept {
  if (ec_flow_suppressed()) {
    c.flow_execution_context = false;
    return;
  }
  ExecutionContextNode* n = ec_current();
  ec_add_ref(n);
  ExecutionContextNode* old = c.execution_context;
  c.execution_context = n;
  c.flow_execution_context = true;
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

  // capture() — the calling thread's current context; the default context when flow is
  // suppressed is *not* returned: capture() then returns an empty optional-like handle whose
  // `is_null()` is true, as .NET's Capture() returns null.
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
  // the caller's context afterwards, also when fn throws. Returns what fn returns.
  template <class Fn>
  static decltype(auto) run(const ExecutionContext& ctx, Fn&& fn) {
    detail::EcScope restore;
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
