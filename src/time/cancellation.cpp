// cancellation.cpp — CancellationState (see the ground rules in cancellation.hpp).
#include "duet/time/cancellation.hpp"

#include <string>

#include "duet/detail/assert.hpp"

namespace duet {

namespace detail {

CancellationState::~CancellationState() {
  DUET_ASSERT(head_ == nullptr || state_.load() != k_notified,
              "callbacks left registered after notification");
}

bool CancellationState::register_node(CancellationCallbackNode& n) noexcept {
  lock();
  if (state_.load(std::memory_order_relaxed) != k_not_canceled) {
    unlock();
    return false;
  }
  DUET_ASSERT(!n.linked, "a cancellation callback node registered twice");
  n.prev = nullptr;
  n.next = head_;
  if (head_) head_->prev = &n;
  head_ = &n;
  n.linked = true;
  unlock();
  return true;
}

bool CancellationState::unregister_node(CancellationCallbackNode& n, bool* running_here) noexcept {
  lock();
  if (n.linked) {
    if (n.prev) {
      n.prev->next = n.next;
    } else {
      head_ = n.next;
    }
    if (n.next) n.next->prev = n.prev;
    n.prev = n.next = nullptr;
    n.linked = false;
    unlock();
    return true;
  }
  unlock();
  // cancel() took it. Wait while it is running on another thread (never from inside it).
  if (executing_.load(std::memory_order_acquire) != &n) return false;
  if (executing_thread_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
    if (running_here) *running_here = true;
    return false;
  }
  {
    for (;;) {
      const std::uint32_t seen = executed_.load(std::memory_order_acquire);
      if (executing_.load(std::memory_order_acquire) != &n) break;
      executed_.wait(seen, std::memory_order_acquire);
    }
  }
  return false;
}

void CancellationState::cancel() {
  int expected = k_not_canceled;
  if (!state_.compare_exchange_strong(expected, k_notifying, std::memory_order_acq_rel)) return;
  add_ref();  // a callback may drop the last outside reference (e.g. a linked source's owner)
  executing_thread_.store(std::this_thread::get_id(), std::memory_order_release);

  // Our own timer is of no use any more.
  lock();
  TimerWheel* wheel = std::exchange(timer_wheel_, nullptr);
  unlock();
  if (wheel && wheel->cancel(*timer_)) release();  // the timer's reference

  std::vector<std::exception_ptr> errors;
  std::exception_ptr lost;  // a callback's exception that could not be recorded (no memory)
  for (;;) {
    lock();
    CancellationCallbackNode* n = head_;
    if (!n) {
      unlock();
      break;
    }
    head_ = n->next;
    if (head_) head_->prev = nullptr;
    n->prev = n->next = nullptr;
    n->linked = false;
    executing_.store(n, std::memory_order_release);
    unlock();
    try {
      n->invoke(n);  // may free n: never touch it again (unless it asked us to free it)
    } catch (...) {
      try {
        errors.push_back(std::current_exception());
      } catch (...) {  // out of memory: keep notifying, report the std::bad_alloc at the end
        if (!lost) lost = std::current_exception();
      }
    }
    if (CancellationCallbackNode* d = std::exchange(deferred_destroy_, nullptr)) d->destroy(d);
    executing_.store(nullptr, std::memory_order_release);
    executed_.fetch_add(1, std::memory_order_acq_rel);
    executed_.notify_all();
  }
  state_.store(k_notified, std::memory_order_release);
  release();
  if (!errors.empty()) throw AggregateError(std::move(errors));
  if (lost) std::rethrow_exception(lost);
}

void CancellationState::cancel_after(TimerWheel& wheel, std::chrono::nanoseconds due) {
  if (due < std::chrono::nanoseconds::zero() || due > TimerWheel::k_max_delay) {
    throw ArgumentError(
        "CancellationTokenSource::cancel_after: the delay must be between 0 and "
        "TimerWheel::k_max_delay; got " + std::to_string(due.count()) + " ns");
  }
  // The timer is allocated on the first cancel_after (a source that never uses one does not
  // carry its 72 bytes), outside the spin lock; a racing first call's spare is dropped.
  lock();
  const bool need_timer = !timer_;
  unlock();
  std::unique_ptr<Timer> fresh;
  if (need_timer) fresh = std::make_unique<Timer>();
  // The state lock is held across the wheel calls (lock order: state, then wheel; the wheel
  // never calls back into us while holding its lock), so arming and re-arming are atomic with
  // respect to cancel(), dispose() and a firing timer.
  lock();
  if (!timer_) timer_ = std::move(fresh);
  if (is_cancellation_requested() || disposed_) {
    unlock();
    return;
  }
  if (timer_wheel_) {
    if (!timer_wheel_->cancel(*timer_)) {
      // The previous timer is firing right now (essay case 2): it cancels the source anyway.
      unlock();
      return;
    }
    // Re-arm: the reference the armed timer held carries over.
  } else {
    add_ref();  // the armed timer keeps the state alive until on_timer or a successful cancel
  }
  timer_->owner = this;
  timer_->invoke = &CancellationState::on_timer;
  timer_wheel_ = &wheel;
  wheel.schedule(*timer_, due);  // cannot throw: due was validated, the entry is unlinked
  unlock();
}

void CancellationState::on_timer(Continuation* c) noexcept {
  Timer& timer = static_cast<Timer&>(static_cast<TimerEntry&>(*c));
  CancellationState* self = timer.owner;
  self->lock();
  self->timer_wheel_ = nullptr;
  const bool disposed = self->disposed_;
  self->unlock();
  if (!disposed && !timer.abandoned()) {
    try {
      self->cancel();
    } catch (const AggregateError& e) {
      // .NET: an exception from a callback run by CancelAfter's timer is unhandled. Reported
      // once, naming the rule (no caller exists to receive it).
      std::exception_ptr named;
      try {
        named = std::make_exception_ptr(AggregateError(
            "a cancellation callback threw while cancel_after's timer canceled its source: no "
            "caller can receive it there, so callbacks run by cancel_after must not throw (catch "
            "inside the callback). First: " + std::string(e.what()),
            e.inner_exceptions()));
      } catch (...) {
        named = std::current_exception();  // out of memory: report the std::bad_alloc
      }
      report_unhandled_exception(std::move(named));
    } catch (...) {
      report_unhandled_exception(std::current_exception());
    }
  }
  self->release();
}

void CancellationState::dispose() noexcept {
  lock();
  disposed_ = true;
  TimerWheel* wheel = std::exchange(timer_wheel_, nullptr);
  unlock();
  if (wheel && wheel->cancel(*timer_)) release();
  // Unregister from parents (waits for a parent callback that is canceling us right now).
  linked_.reset();
}

std::vector<CancellationRegistration>& CancellationState::linked() noexcept {
  if (!linked_) linked_ = std::make_unique<std::vector<CancellationRegistration>>();
  return *linked_;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

bool CancellationRegistration::dispose() noexcept {
  if (!node_) return false;
  bool running_here = false;
  const bool removed = state_->unregister_node(*node_, &running_here);
  if (running_here) {
    state_->destroy_after_callback(node_);  // disposed from inside its own callback
  } else {
    node_->destroy(node_);
  }
  node_ = nullptr;
  state_->release();
  state_ = nullptr;
  return removed;
}

CancellationToken CancellationToken::canceled() {
  CancellationTokenSource cts;
  cts.cancel();
  return cts.token();
}

void CancellationToken::throw_canceled() const { throw OperationCanceledError(*this); }

CancellationTokenSource::~CancellationTokenSource() {
  if (state_) {
    state_->dispose();
    state_->release();
  }
}

detail::CancellationState* CancellationTokenSource::checked() const {
  if (!state_) {
    throw InvalidOperationError(
        "this CancellationTokenSource was moved from; use the source it was moved into");
  }
  return state_;
}

CancellationTokenSource CancellationTokenSource::create_linked_range(
    const std::vector<CancellationToken>& tokens) {
  CancellationTokenSource linked;
  detail::CancellationState* const s = linked.state_;
  auto& regs = s->linked();
  regs.reserve(tokens.size());
  for (const CancellationToken& t : tokens) {
    if (!t.can_be_canceled()) continue;
    // The callback holds a raw pointer: the registration is disposed (and a running callback
    // waited for) before the state can go away.
    regs.push_back(t.register_callback([s] { s->cancel(); }));
    if (s->is_cancellation_requested()) break;
  }
  return linked;
}

}  // namespace duet
