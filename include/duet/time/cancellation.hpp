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
//  * A callback runs in the ExecutionContext captured when it was registered (its AsyncLocal
//    values), unless it was registered with unsafe_register or while flow was suppressed; with
//    use_synchronization_context it runs through the registering thread's SynchronizationContext
//    (send, as .NET does).
//  * Unregistering removes the node in O(1). CancellationRegistration::unregister() never waits:
//    when cancel() has already taken the node and is running it on another thread, it returns
//    false at once and cancel() frees the node when the callback returns. dispose() (and the
//    destructor) waits until that callback has returned, so after dispose() the callback is not
//    running and never will; called from inside the callback itself it does not wait (it would
//    deadlock).
//  * cancel() never touches a node after its callback returned: the callback may free it (an
//    orphaned node, see unregister(), is freed by cancel() itself).
//  * cancel(true) (throw_on_first_exception) stops at the first callback that throws: that
//    exception propagates as is and the callbacks not yet run never run.
//  * try_reset() returns a source that was never canceled (and whose timer could be stopped) to
//    its fresh state, dropping every registration; cancel_async() requests cancellation at once
//    and runs the callbacks on the pool.
//
// Thread-safety: every member of every type here may be called from any thread, except that a
// single CancellationRegistration / CancellationTokenSource object must not be used concurrently
// with its own destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "duet/context/execution_context.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"
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

  // cancel(throw_on_first) — see the ground rules. Throws AggregateError when callbacks threw
  // (throw_on_first: the first callback exception itself, the rest not run).
  void cancel(bool throw_on_first = false) {
    if (begin_cancel()) notify(throw_on_first);
  }
  // begin_cancel() — not_canceled -> notifying (true), taking the reference notify() drops;
  // false when cancellation was already requested.
  bool begin_cancel() noexcept;
  // notify(throw_on_first) — runs the callbacks after a successful begin_cancel().
  void notify(bool throw_on_first);
  // try_reset() — see CancellationTokenSource::try_reset.
  bool try_reset() noexcept;

  // register_node(n) — links `n`; false when cancellation was already requested (the node was
  // not linked; the caller runs the callback itself).
  bool register_node(CancellationCallbackNode& n) noexcept;

  // unregister_node(n, running_here) — unlinks `n` if still linked (true). Otherwise waits until
  // a concurrent cancel() is no longer running `n` and returns false — unless called from that
  // very callback, which sets *running_here (when given) instead of waiting.
  bool unregister_node(CancellationCallbackNode& n, bool* running_here = nullptr) noexcept;

  // Outcome of try_unregister_node.
  enum class Unregistered { removed, done, running_here, orphaned };
  // try_unregister_node(n) — never waits: removed (unlinked), done (its callback already
  // returned), running_here (called from inside it), or orphaned (running on another thread:
  // cancel() now owns the heap node and frees it when the callback returns).
  Unregistered try_unregister_node(CancellationCallbackNode& n) noexcept;

  // wait_while_executing(n) — waits until cancel() is no longer running `n` (orphaned or not),
  // without touching `n`.
  void wait_while_executing(const CancellationCallbackNode* n) noexcept;

  // destroy_after_callback(n) — called from inside n's own callback (running_here): cancel()
  // frees the heap node `n` once the callback returns, instead of the caller freeing it under
  // the running callable.
  void destroy_after_callback(CancellationCallbackNode* n) noexcept { deferred_destroy_ = n; }

  // cancel_after(wheel, due) — arms (or re-arms) the source's own timer; k_infinite_timeout
  // disarms it. No-op once canceled.
  void cancel_after(TimerWheel& wheel, std::chrono::nanoseconds due);

  // dispose() — the source is gone: stop its timer; a timer already firing does not cancel.
  void dispose() noexcept;

  // linked_ — registrations on parent tokens (create_linked); owned by the source.
  std::vector<CancellationRegistration>& linked() noexcept;

 private:
  ~CancellationState() override;
  void lock() const noexcept { lock_.lock(); }
  void unlock() const noexcept { lock_.unlock(); }
  // unlink(n) — removes `n` from the list when linked (true).
  bool unlink(CancellationCallbackNode& n) noexcept;
  // unlink_all_locked() — drops every registration (under the lock).
  void unlink_all_locked() noexcept;
  // stop_timer_locked() — cancels an armed timer: true when none is armed any more (*drop_ref
  // set when the timer's reference must be released after unlocking).
  bool stop_timer_locked(bool* drop_ref) noexcept;
  static void on_timer(Continuation* c) noexcept;

  struct Timer final : TimerEntry {
    CancellationState* owner = nullptr;
  };

  std::atomic<int> state_{k_not_canceled};
  mutable SpinLock lock_;
  CancellationCallbackNode* head_ = nullptr;             // newest first; guarded by the lock
  // executing_ — the node cancel() is running; its low bit is set when unregister() orphaned it.
  std::atomic<std::uintptr_t> executing_{0};
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

// How a registered callable is run (register_callback's forms).
enum class CallbackFlow {
  none,                     // unsafe_register: in whatever context cancel() runs in
  execution_context,        // register_callback: in the ExecutionContext captured at registration
  synchronization_context,  // use_synchronization_context: also through the captured context's send
};

// FunctionCallbackNode<F, Flow> — a heap node holding a user callable.
template <class F, CallbackFlow Flow>
struct FunctionCallbackNode final : CancellationCallbackNode {
  explicit FunctionCallbackNode(F f) : fn(std::move(f)) {
    invoke = &run;
    destroy = &free;
    if constexpr (Flow != CallbackFlow::none) ec = ExecutionContext::capture();
    if constexpr (Flow == CallbackFlow::synchronization_context) {
      sync = SynchronizationContext::current();
    }
  }
  static void run(CancellationCallbackNode* n) {
    auto* self = static_cast<FunctionCallbackNode*>(n);
    if constexpr (Flow == CallbackFlow::none) {
      self->fn();
    } else if constexpr (Flow == CallbackFlow::synchronization_context) {
      if (self->sync) {
        self->sync->send([self] { self->invoke_in_context(); });
      } else {
        self->invoke_in_context();
      }
    } else {
      self->invoke_in_context();
    }
  }
  void invoke_in_context() {
    if (ec.is_null()) {
      fn();  // registered while flow was suppressed: runs in the canceling thread's context
    } else {
      ExecutionContext::run(ec, fn);
    }
  }
  static void free(CancellationCallbackNode* n) noexcept { delete static_cast<FunctionCallbackNode*>(n); }
  F fn;
  struct Empty {};
  [[no_unique_address]] std::conditional_t<Flow == CallbackFlow::none, Empty, ExecutionContext> ec{};
  [[no_unique_address]] std::conditional_t<Flow == CallbackFlow::synchronization_context,
                                           SynchronizationContext*, Empty> sync{};
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
      if (state_) state_->release();
      state_ = std::exchange(o.state_, nullptr);
      node_ = std::exchange(o.node_, nullptr);
    }
    return *this;
  }
  ~CancellationRegistration() {
    dispose();
    if (state_) state_->release();
  }

  // unregister() — .NET's Unregister(): removes the callback and returns true when it had not
  // run and now never will. Never waits: when cancel() is running the callback on another thread
  // right now it returns false at once (the callback may still be running). Idempotent.
  bool unregister() noexcept;
  // dispose() — .NET's Dispose(): unregister(), and when cancel() is running the callback on
  // another thread, wait until it has returned (from inside the callback itself it does not
  // wait). Returns what unregister() would. Idempotent; the destructor calls it.
  bool dispose() noexcept;

  // token() — the token the callback was registered on (.NET's Token), also after
  // unregistering; the default token for an empty registration.
  CancellationToken token() const noexcept;

  // valid() — whether this registration still refers to a callback.
  bool valid() const noexcept { return node_ != nullptr; }

 private:
  friend class CancellationToken;
  CancellationRegistration(detail::CancellationState* s, detail::CancellationCallbackNode* n) noexcept
      : state_(s), node_(n) {}
  detail::CancellationState* state_ = nullptr;  // one reference owned
  detail::CancellationCallbackNode* node_ = nullptr;  // heap node, owned
  bool release(bool wait) noexcept;
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
  // when the source is canceled, in the ExecutionContext current here (the AsyncLocal values at
  // registration); at once, on this thread, when it already is canceled (exceptions then
  // propagate to this caller). Returns the registration that unregisters on destruction. One
  // allocation (the node); none when the token cannot be canceled.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  [[nodiscard]] CancellationRegistration register_callback(F&& fn) const {
    return register_node<detail::CallbackFlow::execution_context>(std::forward<F>(fn));
  }
  // register_callback(fn, use_synchronization_context) — .NET's Register(fn, bool): when true,
  // the callback runs through SynchronizationContext::current() of the registering thread
  // (send(): cancel() waits for it), in the captured ExecutionContext.
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  [[nodiscard]] CancellationRegistration register_callback(F&& fn, bool use_synchronization_context) const {
    if (!use_synchronization_context) return register_callback(std::forward<F>(fn));
    return register_node<detail::CallbackFlow::synchronization_context>(std::forward<F>(fn));
  }
  // register_callback(fn, state) — .NET's Register(Action<object>, object): fn(state) (a copy of
  // `state` is kept with the callback).
  template <class F, class S>
    requires(std::invocable<std::decay_t<F>&, std::decay_t<S>&> && !std::is_same_v<std::decay_t<S>, bool>)
  [[nodiscard]] CancellationRegistration register_callback(F&& fn, S&& state) const {
    return register_callback(
        [f = std::forward<F>(fn), st = std::forward<S>(state)]() mutable { f(st); });
  }
  // unsafe_register(fn) — .NET's UnsafeRegister: as register_callback(fn), but captures no
  // ExecutionContext (the callback runs in the context of whoever cancels).
  template <class F>
    requires std::invocable<std::decay_t<F>&>
  [[nodiscard]] CancellationRegistration unsafe_register(F&& fn) const {
    return register_node<detail::CallbackFlow::none>(std::forward<F>(fn));
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
  template <detail::CallbackFlow Flow, class F>
  CancellationRegistration register_node(F&& fn) const {
    if (!state_) return {};
    using Node = detail::FunctionCallbackNode<std::decay_t<F>, Flow>;
    auto* node = new Node(std::forward<F>(fn));
    if (state_->register_node(*node)) {
      state_->add_ref();
      return CancellationRegistration(state_, node);
    }
    std::unique_ptr<Node> owned(node);
    Node::run(owned.get());
    return {};
  }

  detail::CancellationState* state_ = nullptr;
};

// CancellationTokenSource — the producer side (.NET's CancellationTokenSource). Move-only owner;
// destroying it (.NET's Dispose) stops its cancel_after timer and unlinks it from parents; tokens
// already handed out keep working (they stay canceled or not canceled forever).
class CancellationTokenSource {
 public:
  // CancellationTokenSource() — a fresh, not-canceled source. One allocation.
  CancellationTokenSource() : state_(new detail::CancellationState()) {}
  // CancellationTokenSource(delay) — cancel_after(delay) on TimerWheel::current(); a zero delay
  // gives a source that is already canceled when the constructor returns, k_infinite_timeout one
  // with no timer (.NET).
  template <class Rep, class Period>
  explicit CancellationTokenSource(std::chrono::duration<Rep, Period> delay) : CancellationTokenSource() {
    if (delay == std::chrono::duration<Rep, Period>::zero()) {
      state_->cancel();  // no callback can be registered yet
    } else {
      cancel_after(delay);
    }
  }
  CancellationTokenSource(CancellationTokenSource&& o) noexcept
      : state_(std::exchange(o.state_, nullptr)), disposed_(std::exchange(o.disposed_, false)) {}
  CancellationTokenSource& operator=(CancellationTokenSource&& o) noexcept {
    CancellationTokenSource(std::move(o)).swap(*this);
    return *this;
  }
  ~CancellationTokenSource();
  void swap(CancellationTokenSource& o) noexcept {
    std::swap(state_, o.state_);
    std::swap(disposed_, o.disposed_);
  }

  // token() — a token observing this source.
  CancellationToken token() const { return CancellationToken::from_state(checked()); }
  // is_cancellation_requested() — whether cancel() was called (or the timer fired).
  // Works after dispose() too, as in .NET.
  bool is_cancellation_requested() const {
    if (!state_) checked();
    return state_->is_cancellation_requested();
  }

  // cancel(throw_on_first_exception) — requests cancellation and runs the callbacks (see the
  // ground rules); throws AggregateError when any callback threw, or with
  // throw_on_first_exception the first callback's exception itself, the rest not run.
  void cancel(bool throw_on_first_exception = false) { checked()->cancel(throw_on_first_exception); }

  // cancel_async() — .NET's CancelAsync: requests cancellation before it returns
  // (is_cancellation_requested() is true), then runs the callbacks on the thread pool; the task
  // completes when they have all run (faulted with AggregateError when any threw). Already
  // canceled: a completed task.
  Task<> cancel_async();

  // try_reset() — .NET's TryReset: when cancellation was never requested and the cancel_after
  // timer (if any) could be stopped, drops every registration (their callbacks never run; their
  // unregister() returns false) and returns true: the source is as good as new for an unrelated
  // operation. Otherwise false.
  bool try_reset() { return checked()->try_reset(); }

  // dispose() — .NET's Dispose: stops the timer and unlinks from parents (as the destructor);
  // afterwards token(), cancel(), cancel_after() and try_reset() throw ObjectDisposedError.
  // Idempotent. Tokens handed out earlier keep working.
  void dispose() noexcept;

  // cancel_after(d) — cancels after `d` on TimerWheel::current() (or `wheel`); a later call
  // re-arms the timer, k_infinite_timeout disarms it. No-op once canceled. d must be >= 0 or
  // k_infinite_timeout (0 cancels on the pool at once). The first call allocates the source's
  // timer (72 bytes; a source that never calls it does not carry one): out of memory, it throws
  // std::bad_alloc and arms nothing. Re-arming allocates nothing.
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
  bool disposed_ = false;
};

}  // namespace duet
