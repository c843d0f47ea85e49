// delay.cpp — delay() and its state.
//
// Two state types, as .NET's DelayPromise and DelayPromiseWithCancellation: a delay whose token
// cannot be canceled (the default token, the common case) needs neither a cancellation callback
// node nor the token, so it is a DelayState of 112 bytes (TaskState<void> 40, TimerEntry 64,
// wheel 8); a delay with a cancelable token is a CancelableDelayState, which adds the node and
// the token (160 bytes). docs/design.md ("Layout") has the figures; tests/time/test_delay.cpp
// pins them.
//
// Lifetime. A delay's state is one object. References: the task handle, plus one "timer"
// reference that is released exactly once — by the expiry (on_expired, which always runs when
// the wheel took the entry), or by whoever cancels the entry out of the wheel successfully (the
// token callback, or start() itself when the token fired while it was arming the timer). An
// infinite delay has no timer; its "timer" reference is released by the token callback (without
// a cancelable token it holds none: nothing can ever complete it).
// The callback node holds no reference: on_expired unregisters it before dropping the timer
// reference, and unregistering waits for a callback that cancel() is running right now, so the
// node is never used after the state is gone.
#include "duet/time/delay.hpp"

#include <string>

namespace duet {

namespace detail {

namespace {

// DelayState — a delay without a cancelable token: the task state and its timer.
class DelayState : public TaskState<void>, public TimerEntry {
 public:
  // wheel — null for an infinite delay (no timer is armed). refs — the handle, plus the timer
  // reference when a timer or a token can complete the task.
  DelayState(TimerWheel* wheel, std::uint32_t refs) noexcept
      : TaskState<void>(refs), wheel_(wheel) {
    TimerEntry::invoke = &DelayState::on_expired;
    TimerEntry::owner = this;
  }

  // start(d) — arms the timer (an infinite delay arms none).
  void start(std::chrono::nanoseconds d) {
    if (wheel_) wheel_->schedule(*this, d);
  }

  // diag_describe(out) — a delay, with its deadline tick (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    out.set(diagnostics::AwaitKind::delay, static_cast<const TaskStateBase*>(this),
            wheel_ ? "delay" : "delay (infinite)");
    if (wheel_) out.due_ms = static_cast<std::int64_t>(deadline_tick());
  }

 protected:
  // complete_expired() — what an expiry does: the task ends successfully, or canceled when the
  // wheel was destroyed under it (abandoned). A no-op when the token callback won.
  void complete_expired() noexcept {
    if (abandoned()) {
      try_complete_exception(canceled_error(
          "delay: the TimerWheel running this delay was destroyed before it elapsed"));
    } else {
      try_complete_value();
    }
  }

  // Two words beside the bases: no flags ("infinite" is a null wheel; "registered" is implied by
  // an expiry, see CancelableDelayState::on_expired), so a pending delay stays small.
  TimerWheel* wheel_;

 private:
  static void on_expired(Continuation* c) noexcept {
    DelayState* self = &static_cast<DelayState&>(static_cast<TimerEntry&>(*c));
    self->complete_expired();
    self->release();  // the timer reference
  }
};

// CancelableDelayState — a delay whose token can be canceled: adds the callback node and the
// token.
class CancelableDelayState final : public DelayState, public CancellationCallbackNode {
 public:
  CancelableDelayState(TimerWheel* wheel, const CancellationToken& token) noexcept
      : DelayState(wheel, 2), token_(token) {
    TimerEntry::invoke = &CancelableDelayState::on_expired;
    CancellationCallbackNode::invoke = &CancelableDelayState::on_canceled;
  }

  // start(d) — registers with the token, then arms the timer (in that order: an expiry
  // unregisters, so the node must be registered before the timer can fire).
  void start(std::chrono::nanoseconds d) {
    if (!token_.state()->register_node(*this)) {
      // Canceled between delay()'s check and now.
      try_complete_exception(canceled_error(token_));
      release();  // the timer reference: no timer will be armed
      return;
    }
    if (!wheel_) return;  // infinite
    wheel_->schedule(*this, d);
    // The callback may have claimed the task before the entry was linked (its cancel missed):
    // stop it now. The wheel's lock orders the two cancels: exactly one unlinks.
    if (is_claimed() && wheel_->cancel(*this)) release();
  }

 private:
  static void on_expired(Continuation* c) noexcept {
    auto* self = &static_cast<CancelableDelayState&>(
        static_cast<DelayState&>(static_cast<TimerEntry&>(*c)));
    // Registered: a timer is armed only after a successful registration (start()), so an expiry
    // implies the node is registered.
    self->token_.state()->unregister_node(*self);
    self->complete_expired();
    self->release();  // the timer reference
  }

  static void on_canceled(CancellationCallbackNode* n) {
    auto* self = &static_cast<CancelableDelayState&>(*n);
    if (!self->try_begin_complete()) return;  // the expiry (or an abandoned wheel) won
    // Claimed: still holding the timer reference (linked in the wheel, or the expiry waits for
    // us in unregister_node). Remove the entry in O(1) BEFORE publishing the cancellation, so no
    // observer sees a canceled delay whose timer is still registered. If the wheel already took
    // the entry, the expiry releases instead.
    const bool unlinked = !self->wheel_ || self->wheel_->cancel(*self);
    self->complete_exception_claimed(canceled_error(self->token_));
    if (unlinked) self->release();
  }

  CancellationToken token_;
};

// The sizes docs/design.md ("Layout") gives and issue 15 bounds (a pending delay <= 128 bytes).
static_assert(sizeof(void*) != 8 || sizeof(DelayState) <= 128,
              "a pending delay() without a cancelable token must fit 128 bytes");
static_assert(sizeof(void*) != 8 || sizeof(CancelableDelayState) <= 160,
              "a delay() with a cancelable token must fit 160 bytes (256 with its source)");

}  // namespace

}  // namespace detail

Task<> delay(TimerWheel& wheel, std::chrono::nanoseconds d, const CancellationToken& token) {
  const bool infinite = d == k_infinite_timeout;
  if (d < std::chrono::nanoseconds::zero() && !infinite) {
    throw ArgumentError("delay: the duration must be >= 0 (or duet::k_infinite_timeout); got " +
                        std::to_string(d.count()) + " ns");
  }
  if (d > TimerWheel::k_max_delay) {
    throw ArgumentError("delay: the duration exceeds TimerWheel::k_max_delay (about 2.18 years); "
                        "use duet::k_infinite_timeout for a delay that only cancellation ends");
  }
  if (token.is_cancellation_requested()) return detail::canceled_task<void>(token);
  if (d == std::chrono::nanoseconds::zero()) return completed_task();
  TimerWheel* const timer_wheel = infinite ? nullptr : &wheel;
  if (token.can_be_canceled()) {
    auto* s = new detail::CancelableDelayState(timer_wheel, token);
    Task<> task = detail::adopt_task(static_cast<detail::TaskState<void>*>(s));
    s->start(d);
    return task;
  }
  // No cancelable token: only the timer can complete the task (an infinite delay never ends).
  auto* s = new detail::DelayState(timer_wheel, timer_wheel ? 2 : 1);
  Task<> task = detail::adopt_task(static_cast<detail::TaskState<void>*>(s));
  s->start(d);
  return task;
}

}  // namespace duet
