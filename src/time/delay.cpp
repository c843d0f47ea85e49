// delay.cpp — delay() and its state.
//
// DelayState lifetime. A delay's state is one object: the task state, the TimerEntry and the
// cancellation callback node. References: the task handle, plus one "timer" reference that is
// released exactly once — by the expiry (on_expired, which always runs when the wheel took the
// entry), or by whoever cancels the entry out of the wheel successfully (the token callback, or
// delay() itself when the token fired while it was arming the timer). An infinite delay has no
// timer; its "timer" reference is released by the token callback.
// The callback node holds no reference: on_expired unregisters it before dropping the timer
// reference, and unregistering waits for a callback that cancel() is running right now, so the
// node is never used after the state is gone.
#include "duet/time/delay.hpp"

#include <string>

namespace duet {

namespace detail {

namespace {

class DelayState final : public TaskState<void>, public TimerEntry, public CancellationCallbackNode {
 public:
  // wheel — null for an infinite delay (no timer is armed).
  DelayState(TimerWheel* wheel, const CancellationToken& token)
      : TaskState<void>(!wheel && !token.can_be_canceled() ? 1 : 2), wheel_(wheel), token_(token) {
    TimerEntry::invoke = &DelayState::on_expired;
    TimerEntry::owner = this;
    CancellationCallbackNode::invoke = &DelayState::on_canceled;
  }

  // start(d) — registers with the token, then arms the timer (in that order: an expiry
  // unregisters, so the node must be registered before the timer can fire).
  void start(std::chrono::nanoseconds d) {
    if (token_.can_be_canceled()) {
      if (!token_.state()->register_node(*this)) {
        // Canceled between delay()'s check and now.
        try_complete_exception(canceled_error(token_));
        release();  // the timer reference: no timer will be armed
        return;
      }
    }
    if (!wheel_) return;  // infinite
    wheel_->schedule(*this, d);
    // The callback may have claimed the task before the entry was linked (its cancel missed):
    // stop it now. The wheel's lock orders the two cancels: exactly one unlinks.
    if (is_claimed() && wheel_->cancel(*this)) release();
  }

  // diag_describe(out) — a delay, with its deadline tick (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    out.set(diagnostics::AwaitKind::delay, static_cast<const TaskStateBase*>(this),
            wheel_ ? "delay" : "delay (infinite)");
    if (wheel_) out.due_ms = static_cast<std::int64_t>(deadline_tick());
  }

 private:
  static void on_expired(Continuation* c) noexcept {
    DelayState* self = &static_cast<DelayState&>(static_cast<TimerEntry&>(*c));
    // Registered: a timer is armed only after a successful registration (start()), so an expiry
    // implies the node is registered whenever the token can be canceled.
    if (self->token_.can_be_canceled()) self->token_.state()->unregister_node(*self);
    if (self->abandoned()) {
      self->try_complete_exception(canceled_error(
          "delay: the TimerWheel running this delay was destroyed before it elapsed"));
    } else {
      self->try_complete_value();
    }
    self->release();  // the timer reference
  }

  static void on_canceled(CancellationCallbackNode* n) {
    DelayState* self = &static_cast<DelayState&>(*n);
    if (!self->try_begin_complete()) return;  // the expiry (or an abandoned wheel) won
    // Claimed: still holding the timer reference (linked in the wheel, or the expiry waits for
    // us in unregister_node). Remove the entry in O(1) BEFORE publishing the cancellation, so no
    // observer sees a canceled delay whose timer is still registered. If the wheel already took
    // the entry, the expiry releases instead.
    const bool unlinked = !self->wheel_ || self->wheel_->cancel(*self);
    self->complete_exception_claimed(canceled_error(self->token_));
    if (unlinked) self->release();
  }

  // Two words: no flags beside them ("infinite" is a null wheel; "registered" is implied by an
  // expiry, see on_expired), so the pending delay stays small (docs/design.md, "Layout").
  TimerWheel* wheel_;
  CancellationToken token_;
};

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
  auto* s = new detail::DelayState(infinite ? nullptr : &wheel, token);
  Task<> task = detail::adopt_task(static_cast<detail::TaskState<void>*>(s));
  s->start(d);
  return task;
}

}  // namespace duet
