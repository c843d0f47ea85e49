// duet/time/cancellation.hpp — CancellationTokenSource, CancellationToken, CancellationRegistration:
// cooperative cancellation with .NET's semantics.
//
// Shape. A CancellationTokenSource owns a reference-counted detail::CancellationState; tokens are
// cheap copyable handles to the same state (a default token refers to none and can never be
// canceled). Callbacks are intrusive detail::CancellationCallbackNode objects in a doubly-linked
// list guarded by the state's spin lock; register_callback(fn) allocates one node holding `fn`,
// while runtime pieces (delay, wait_async, linked sources) embed their node and allocate nothing.
//
// Ground rules (.NET's CancellationTokenSource, written down)
// -----------------------------------------------------------
//  * cancel() is idempotent: the first call moves the state not_canceled -> notifying, runs the
//    callbacks, then -> notified; later calls return at once.
//  * Callbacks run once each, on the thread that called cancel() (or the timer's pool thread
//    for cancel_after), most recently registered first.
//  * A callback registered when cancellation was already requested (also while cancel() is still
//    running other callbacks) runs at once, synchronously, inside register_callback().
//  * Exceptions thrown by callbacks do not stop the others; cancel() throws one AggregateError
//    holding all of them, in the order they were thrown, after every callback ran.
//  * Unregistering (CancellationRegistration::dispose / destructor) removes the node in O(1). If
//    cancel() has already taken the node and is running it on another thread, unregistering
//    waits until that callback has returned, so after dispose() the callback is not running and
//    never will; called from inside the callback itself it does not wait (it would deadlock).
//  * cancel() never touches a node after its callback returned: the callback may free it.
//
// Thread-safety: every member of every type here may be called from any thread, except that a
// single CancellationRegistration / CancellationTokenSource object must not be used concurrently
// with its own destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "duet/core/errors.hpp"
#include "duet/detail/spin_lock.hpp"
#include "duet/time/timer_wheel.hpp"

namespace duet {

class CancellationToken;
class CancellationRegistration;

namespace detail {

// CancellationCallbackNode — one registered callback. Embedded by its owner or allocated by
// register_callback. Link fields are guarded by the owning state's lock.
struct CancellationCallbackNode {
  // invoke — runs the callback. May throw (collected by cancel()). May destroy the node.
  void (*invoke)(CancellationCallbackNode*) = nullptr;
  // destroy — frees a heap node (null for embedded nodes).
  void (*destroy)(CancellationCallbackNode*) noexcept = nullptr;
  CancellationCallbackNode* prev = nullptr;
  CancellationCallbackNode* next = nullptr;
  bool linked = false;  // guarded by the state's lock
};

// CancellationState — the shared state of one source (see the ground rules above).
class CancellationState final : public CancellationStateBase {
 public:
  // State of `state_`.
  static constexpr int k_not_canceled = 0;  // cancel() not called yet
  static constexpr int k_notifying = 1;     // cancel() is running the callbacks
  static constexpr int k_notified = 2;      // every callback has run

  CancellationState() noexcept = default;
  CancellationState(const CancellationState&) = delete;
  CancellationState& operator=(const CancellationState&) = delete;

  bool is_cancellation_requested() const noexcept {
    return state_.load(std::memory_order_acquire) != k_not_canceled;
  }

  // cancel() — see the ground rules. Throws AggregateError when callbacks threw.
  void cancel();

  // register_node(n) — links `n`; false when cancellation was already requested (the node was
  // not linked; the caller runs the callback itself).
  bool register_node(CancellationCallbackNode& n) noexcept;

  // unregister_node(n, running_here) — unlinks `n` if still linked (true). Otherwise waits until
  // a concurrent cancel() is no longer running `n` and returns false — unless called from that
  // very callback, which sets *running_here (when given) instead of waiting.
  bool unregister_node(CancellationCallbackNode& n, bool* running_here = nullptr) noexcept;

  // destroy_after_callback(n) — called from inside n's own callback (running_here): cancel()
  // frees the heap node `n` once the callback returns, instead of the caller freeing it under
  // the running callable.
  void destroy_after_callback(CancellationCallbackNode* n) noexcept { deferred_destroy_ = n; }

  // cancel_after(wheel, due) — arms (or re-arms) the source's own timer. No-op once canceled.
  void cancel_after(TimerWheel& wheel, std::chrono::nanoseconds due);

  // dispose() — the source is gone: stop its timer; a timer already firing does not cancel.
  void dispose() noexcept;

  // linked_ — registrations on parent tokens (create_linked); owned by the source.
  std::vector<CancellationRegistration>& linked() noexcept;

 private:
  ~CancellationState() override;
  void lock() const noexcept { lock_.lock(); }
  void unlock() const noexcept { lock_.unlock(); }
  static void on_timer(Continuation* c) noexcept;

  struct Timer final : TimerEntry {
    CancellationState* owner = nullptr;
  };

  std::atomic<int> state_{k_not_canceled};
  mutable SpinLock lock_;
  CancellationCallbackNode* head_ = nullptr;             // newest first; guarded by the lock
  std::atomic<CancellationCallbackNode*> executing_{nullptr};  // node cancel() is running
  std::atomic<std::thread::id> executing_thread_{};
  std::atomic<std::uint32_t> executed_{0};               // bumped after each callback (futex)
  CancellationCallbackNode* deferred_destroy_ = nullptr;  // only touched by the canceling thread
  // timer_ — cancel_after's timer, allocated by the first cancel_after and kept until the state
  // dies (the armed timer holds a reference to the state). Guarded by the lock.
  std::unique_ptr<Timer> timer_;
  // timer_wheel_ — the wheel timer_ is armed on, or firing from; null when not armed. Guarded by
  // the lock.
  TimerWheel* timer_wheel_ = nullptr;
  bool disposed_ = false;                                // guarded by the lock
  std::unique_ptr<std::vector<CancellationRegistration>> linked_;
};

// FunctionCallbackNode<F> — a heap node holding a user callable.
template <class F>
struct FunctionCallbackNode final : CancellationCallbackNode {
  explicit FunctionCallbackNode(F f) : fn(std::move(f)) {
    invoke = &run;
    destroy = &free;
  }
  static void run(CancellationCallbackNode* n) { static_cast<FunctionCallbackNode*>(n)->fn(); }
  static void free(CancellationCallbackNode* n) noexcept { delete static_cast<FunctionCallbackNode*>(n); }
  F fn;
};

}  // namespace detail

// CancellationRegistration — the handle register_callback() returns (.NET's
// CancellationTokenRegistration). Move-only; dispose() or destruction unregisters the callback
// (waiting for a concurrently running one — see the ground rules). An empty registration (the
// token could not be canceled, or the callback already ran at registration) does nothing.
class CancellationRegistration {
 public:
  CancellationRegistration() noexcept = default;
  CancellationRegistration(CancellationRegistration&& o) noexcept
      : state_(std::exchange(o.state_, nullptr)), node_(std::exchange(o.node_, nullptr)) {}
  CancellationRegistration& operator=(CancellationRegistration&& o) noexcept {
    if (this != &o) {
      dispose();
      state_ = std::exchange(o.state_, nullptr);
      node_ = std::exchange(o.node_, nullptr);
    }
    return *this;
  }
  ~CancellationRegistration() { dispose(); }

  // dispose() — unregisters; true when the callback had not run and now never will (.NET's
  // Unregister()). Idempotent.
  bool dispose() noexcept;

  // valid() — whether this registration still refers to a callback.
  bool valid() const noexcept { return node_ != nullptr; }

 private:
  friend class CancellationToken;
  CancellationRegistration(detail::CancellationState* s, detail::CancellationCallbackNode* n) noexcept
      : state_(s), node_(n) {}
  detail::CancellationState* state_ = nullptr;  // one reference owned
  detail::CancellationCallbackNode* node_ = nullptr;  // heap node, owned
};

// CancellationToken — a listener's view of a source (.NET's CancellationToken). Copyable and
// cheap (one reference count). The default token is CancellationToken::none().
class CancellationToken {
 public:
  CancellationToken() noexcept = default;
  CancellationToken(const CancellationToken& o) noexcept : state_(o.state_) {
    if (state_) state_->add_ref();
  }
  CancellationToken(CancellationToken&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  CancellationToken& operator=(CancellationToken o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~CancellationToken() {
    if (state_) state_->release();
  }

  // none() — a token that can never be canceled.
  static CancellationToken none() noexcept { return {}; }
  // canceled() — a token whose cancellation is already requested (.NET's new CancellationToken(true)).
  static CancellationToken canceled();

  // is_cancellation_requested() — whether cancel() was called on the source.
  bool is_cancellation_requested() const noexcept {
    return state_ && state_->is_cancellation_requested();
  }
  // can_be_canceled() — false only for none() / default tokens.
  bool can_be_canceled() const noexcept { return state_ != nullptr; }

  // throw_if_cancellation_requested() — throws OperationCanceledError carrying this token.
  void throw_if_cancellation_requested() const {
    if (is_cancellation_requested()) throw_canceled();
  }
  [[noreturn]] void throw_canceled() const;

  // register_callback(fn) — .NET's Register(fn) (`register` is a C++ keyword). Runs fn() once
  // when the source is canceled; at once, on this thread, when it already is (exceptions then
  // propagate to this caller). Returns the registration that unregisters on destruction. One
  // allocation (the node); none when the token cannot be canceled.
  template <class F>
  [[nodiscard]] CancellationRegistration register_callback(F&& fn) const {
    if (!state_) return {};
    using Node = detail::FunctionCallbackNode<std::decay_t<F>>;
    auto* node = new Node(std::forward<F>(fn));
    if (state_->register_node(*node)) {
      state_->add_ref();
      return CancellationRegistration(state_, node);
    }
    std::unique_ptr<Node> owned(node);
    owned->fn();
    return {};
  }

  // state() — the shared state (internal: delay, wait_async, errors).
  detail::CancellationState* state() const noexcept { return state_; }
  // from_state(s) — a token on `s` (takes a new reference).
  static CancellationToken from_state(detail::CancellationState* s) noexcept {
    CancellationToken t;
    t.state_ = s;
    if (s) s->add_ref();
    return t;
  }
  // from_state_base(s) — from_state for the base OperationCanceledError holds.
  static CancellationToken from_state_base(detail::CancellationStateBase* s) noexcept {
    return from_state(static_cast<detail::CancellationState*>(s));
  }

  friend bool operator==(const CancellationToken& a, const CancellationToken& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  detail::CancellationState* state_ = nullptr;
};

// CancellationTokenSource — the producer side (.NET's CancellationTokenSource). Move-only owner;
// destroying it (.NET's Dispose) stops its cancel_after timer and unlinks it from parents; tokens
// already handed out keep working (they stay canceled or not canceled forever).
class CancellationTokenSource {
 public:
  // CancellationTokenSource() — a fresh, not-canceled source. One allocation.
  CancellationTokenSource() : state_(new detail::CancellationState()) {}
  // CancellationTokenSource(delay) — cancel_after(delay) on TimerWheel::current().
  template <class Rep, class Period>
  explicit CancellationTokenSource(std::chrono::duration<Rep, Period> delay) : CancellationTokenSource() {
    cancel_after(delay);
  }
  CancellationTokenSource(CancellationTokenSource&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  CancellationTokenSource& operator=(CancellationTokenSource&& o) noexcept {
    CancellationTokenSource(std::move(o)).swap(*this);
    return *this;
  }
  ~CancellationTokenSource();
  void swap(CancellationTokenSource& o) noexcept { std::swap(state_, o.state_); }

  // token() — a token observing this source.
  CancellationToken token() const { return CancellationToken::from_state(checked()); }
  // is_cancellation_requested() — whether cancel() was called (or the timer fired).
  bool is_cancellation_requested() const { return checked()->is_cancellation_requested(); }

  // cancel() — requests cancellation and runs the callbacks (see the ground rules); throws
  // AggregateError when any callback threw.
  void cancel() { checked()->cancel(); }

  // cancel_after(d) — cancels after `d` on TimerWheel::current() (or `wheel`); a later call
  // re-arms the timer. No-op once canceled. d must be >= 0 (0 cancels on the pool at once).
  // The first call allocates the source's timer (72 bytes; a source that never calls it does
  // not carry one): out of memory, it throws std::bad_alloc and arms nothing. Re-arming
  // allocates nothing.
  template <class Rep, class Period>
  void cancel_after(std::chrono::duration<Rep, Period> d) {
    cancel_after(TimerWheel::current(), d);
  }
  template <class Rep, class Period>
  void cancel_after(TimerWheel& wheel, std::chrono::duration<Rep, Period> d) {
    checked()->cancel_after(wheel, std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }

  // create_linked(tokens...) — a source that is canceled when any of `tokens` is (or already is).
  template <class... Tokens>
    requires(std::is_convertible_v<const Tokens&, const CancellationToken&> && ...)
  static CancellationTokenSource create_linked(const Tokens&... tokens) {
    return create_linked_range({CancellationToken(tokens)...});
  }
  static CancellationTokenSource create_linked_range(const std::vector<CancellationToken>& tokens);

 private:
  detail::CancellationState* checked() const;
  detail::CancellationState* state_ = nullptr;
};

}  // namespace duet
