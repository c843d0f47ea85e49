// periodic_timer.cpp — PeriodicTimer and its state.
//
// References on PeriodicTimerState: the PeriodicTimer (dropped by its destructor), the timer (one
// while the entry is armed or firing: dropped by on_tick once stopped, or by dispose() when it
// cancels the entry out of the wheel) and the wait (from wait_for_next_tick_async until the
// consumer's get_result, or the ValueTask abandoned). The cancellation node holds none: whoever
// completes the wait unregisters it first (waiting for a running callback), unless it is that
// callback.
#include "duet/coord/periodic_timer.hpp"

#include <atomic>
#include <string>

#include "duet/detail/spin_lock.hpp"
#include "duet/time/delay.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet {
namespace detail {

class PeriodicTimerState final : public SharedValueTaskSource<bool, PeriodicTimerState>,
                                 public TimerEntry,
                                 public CancellationCallbackNode {
 public:
  PeriodicTimerState(TimerWheel& wheel, std::chrono::nanoseconds period) : wheel_(wheel), period_(period) {
    TimerEntry::invoke = &PeriodicTimerState::on_tick;
    CancellationCallbackNode::invoke = &PeriodicTimerState::on_canceled;
    core_.set_run_continuations_asynchronously(true);
    next_due_ = wheel_.clock().now() + period_;
    refs_.store(2, std::memory_order_relaxed);  // the PeriodicTimer and the timer
    wheel_.schedule(*this, period_);
  }

  void release_ref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  ValueTask<bool> wait(const CancellationToken& token) {
    lock_.lock();
    if (active_) {
      lock_.unlock();
      throw InvalidOperationError(
          "PeriodicTimer::wait_for_next_tick_async: another wait is still pending; a PeriodicTimer "
          "supports one consumer at a time (await the previous wait first)");
    }
    if (stopped_) {
      lock_.unlock();
      return ValueTask<bool>(false);
    }
    if (signaled_) {
      signaled_ = false;
      lock_.unlock();
      return ValueTask<bool>(true);
    }
    if (token.is_cancellation_requested()) {
      lock_.unlock();
      return ValueTask<bool>(canceled_task<bool>(token));
    }
    core_.reset();
    token_ = token;
    registered_ = false;
    if (token.can_be_canceled()) {
      if (!token.state()->register_node(*this)) {
        token_ = CancellationToken();
        lock_.unlock();
        return ValueTask<bool>(canceled_task<bool>(token));
      }
      registered_ = true;
    }
    active_ = true;
    refs_.fetch_add(1, std::memory_order_relaxed);  // the wait
    const short v = version();
    lock_.unlock();
    return ValueTask<bool>(*this, v);
  }

  void dispose() noexcept {
    lock_.lock();
    if (stopped_) {
      lock_.unlock();
      return;
    }
    stopped_ = true;
    const bool had_waiter = std::exchange(active_, false);
    lock_.unlock();
    if (wheel_.cancel(*this)) release_ref();  // the timer reference; else on_tick drops it
    if (had_waiter) complete(true, false);
  }

 private:
  friend class PooledValueTaskSource<bool, PeriodicTimerState>;
  friend class SharedValueTaskSource<bool, PeriodicTimerState>;
  ~PeriodicTimerState() = default;
  // consumed() — the wait's reference is done (get_result ran, or the ValueTask was abandoned).
  void consumed() noexcept { release_ref(); }

  // complete(unregister, v) — ends the pending wait with v; the caller took active_ away.
  void complete(bool unregister, bool v) noexcept {
    if (unregister && registered_) token_.state()->unregister_node(*this);
    core_.set_result(v);
  }

  static void on_tick(Continuation* c) noexcept {
    auto& self = static_cast<PeriodicTimerState&>(static_cast<TimerEntry&>(*c));
    self.lock_.lock();
    if (self.stopped_ || self.abandoned()) {
      self.stopped_ = true;
      const bool had_waiter = std::exchange(self.active_, false);
      self.lock_.unlock();
      if (had_waiter) self.complete(true, false);
      self.release_ref();  // the timer reference
      return;
    }
    const bool had_waiter = std::exchange(self.active_, false);
    if (!had_waiter) self.signaled_ = true;  // coalesces with any earlier missed tick
    // The next grid point after now.
    const auto now = self.wheel_.clock().now();
    auto due = self.next_due_ + self.period_;
    if (due <= now) due += ((now - due) / self.period_ + 1) * self.period_;
    self.next_due_ = due;
    self.wheel_.schedule(self, due - now);
    self.lock_.unlock();
    if (had_waiter) self.complete(true, true);
  }

  static void on_canceled(CancellationCallbackNode* n) {
    auto& self = static_cast<PeriodicTimerState&>(*n);
    self.lock_.lock();
    const bool had_waiter = std::exchange(self.active_, false);
    self.lock_.unlock();
    if (had_waiter) self.core_.set_exception(canceled_error(self.token_));
  }

  TimerWheel& wheel_;
  const std::chrono::nanoseconds period_;
  std::atomic<int> refs_{0};
  SpinLock lock_;
  CancellationToken token_;
  std::chrono::nanoseconds next_due_{};  // guarded by lock_
  bool registered_ = false;
  bool active_ = false;    // a wait is pending; guarded by lock_
  bool signaled_ = false;  // a tick came while nobody waited; guarded by lock_
  bool stopped_ = false;   // guarded by lock_
};

}  // namespace detail

PeriodicTimer::PeriodicTimer(std::chrono::milliseconds period, TimerWheel& wheel) : period_(period) {
  if (period < std::chrono::milliseconds(1) || period > TimerWheel::k_max_delay) {
    throw ArgumentError("PeriodicTimer(period = " + std::to_string(period.count()) +
                        " ms): the period must be at least 1 ms and at most TimerWheel::k_max_delay");
  }
  state_ = new detail::PeriodicTimerState(wheel, period);
}

PeriodicTimer::~PeriodicTimer() {
  state_->dispose();
  state_->release_ref();
}

ValueTask<bool> PeriodicTimer::wait_for_next_tick_async(const CancellationToken& token) {
  return state_->wait(token);
}

void PeriodicTimer::dispose() noexcept { state_->dispose(); }

}  // namespace duet
