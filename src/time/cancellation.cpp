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

bool CancellationState::unlink(CancellationCallbackNode& n) noexcept {
  lock();
  if (!n.linked) {
    unlock();
    return false;
  }
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

CancellationState::Unregistered CancellationState::try_unregister_node(
    CancellationCallbackNode& n) noexcept {
  if (unlink(n)) return Unregistered::removed;
  // cancel() took it (or try_reset() dropped it). Running right now?
  auto running = reinterpret_cast<std::uintptr_t>(&n);
  if (executing_.load(std::memory_order_acquire) != running) return Unregistered::done;
  if (executing_thread_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
    return Unregistered::running_here;
  }
  // Hand the node to cancel(): it frees it when the callback returns. Failing the exchange means
  // the callback has just returned, and the node is ours again.
  if (executing_.compare_exchange_strong(running, running | 1, std::memory_order_acq_rel)) {
    return Unregistered::orphaned;
  }
  return Unregistered::done;
}

bool CancellationState::unregister_node(CancellationCallbackNode& n, bool* running_here) noexcept {
  if (unlink(n)) return true;
  // cancel() took it. Wait while it is running on another thread (never from inside it).
  const auto running = reinterpret_cast<std::uintptr_t>(&n);
  if (executing_.load(std::memory_order_acquire) != running) return false;
  if (executing_thread_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
    if (running_here) *running_here = true;
    return false;
  }
  wait_while_executing(&n);
  return false;
}

void CancellationState::wait_while_executing(const CancellationCallbackNode* n) noexcept {
  const auto running = reinterpret_cast<std::uintptr_t>(n);
  for (;;) {
    const std::uint32_t seen = executed_.load(std::memory_order_acquire);
    if ((executing_.load(std::memory_order_acquire) & ~std::uintptr_t{1}) != running) break;
    executed_.wait(seen, std::memory_order_acquire);
  }
}

bool CancellationState::begin_cancel() noexcept {
  int expected = k_not_canceled;
  if (!state_.compare_exchange_strong(expected, k_notifying, std::memory_order_acq_rel)) return false;
  add_ref();  // a callback may drop the last outside reference (e.g. a linked source's owner)
  return true;
}

void CancellationState::unlink_all_locked() noexcept {
  for (CancellationCallbackNode* n = head_; n;) {
    CancellationCallbackNode* const next = n->next;
    n->prev = n->next = nullptr;
    n->linked = false;
    n = next;
  }
  head_ = nullptr;
}

bool CancellationState::stop_timer_locked(bool* drop_ref) noexcept {
  if (!timer_wheel_) return true;
  if (!timer_wheel_->cancel(*timer_)) return false;  // firing right now (timer_ exists while armed)
  timer_wheel_ = nullptr;
  *drop_ref = true;
  return true;
}

void CancellationState::notify(bool throw_on_first) {
  executing_thread_.store(std::this_thread::get_id(), std::memory_order_release);

  // Our own timer is of no use any more.
  lock();
  TimerWheel* wheel = std::exchange(timer_wheel_, nullptr);
  unlock();
  if (wheel && wheel->cancel(*timer_)) release();  // the timer's reference

  std::vector<std::exception_ptr> errors;
  std::exception_ptr lost;  // a callback's exception that could not be recorded (no memory)
  std::exception_ptr first;  // throw_on_first: the exception that stopped notification
  for (;;) {
    lock();
    CancellationCallbackNode* n = head_;
    if (!n || first) {
      unlink_all_locked();  // after a throw_on_first stop: the rest never run
      unlock();
      break;
    }
    head_ = n->next;
    if (head_) head_->prev = nullptr;
    n->prev = n->next = nullptr;
    n->linked = false;
    executing_.store(reinterpret_cast<std::uintptr_t>(n), std::memory_order_release);
    unlock();
    try {
      n->invoke(n);  // may free n: never touch it again (unless it asked us to free it)
    } catch (...) {
      if (throw_on_first) {
        first = std::current_exception();
      } else {
        try {
          errors.push_back(std::current_exception());
        } catch (...) {  // out of memory: keep notifying, report the std::bad_alloc at the end
          if (!lost) lost = std::current_exception();
        }
      }
    }
    if (CancellationCallbackNode* d = std::exchange(deferred_destroy_, nullptr)) d->destroy(d);
    const std::uintptr_t ran = executing_.exchange(0, std::memory_order_acq_rel);
    if (ran & 1) {  // unregister() orphaned it while it ran: ours to free
      auto* orphan = reinterpret_cast<CancellationCallbackNode*>(ran & ~std::uintptr_t{1});
      orphan->destroy(orphan);
    }
    executed_.fetch_add(1, std::memory_order_acq_rel);
    executed_.notify_all();
  }
  state_.store(k_notified, std::memory_order_release);
  release();
  if (first) std::rethrow_exception(first);
  if (!errors.empty()) throw AggregateError(std::move(errors));
  if (lost) std::rethrow_exception(lost);
}

bool CancellationState::try_reset() noexcept {
  bool drop_ref = false;
  lock();
  if (state_.load(std::memory_order_relaxed) != k_not_canceled || !stop_timer_locked(&drop_ref)) {
    unlock();
    return false;
  }
  unlink_all_locked();
  unlock();
  if (drop_ref) release();  // the stopped timer's; the source still holds its own
  return true;
}

void CancellationState::cancel_after(TimerWheel& wheel, std::chrono::nanoseconds due) {
  if (due == k_infinite_timeout) {  // .NET: Change(Infinite) disarms the timer
    bool drop_ref = false;
    lock();
    stop_timer_locked(&drop_ref);  // a timer firing right now cancels anyway, as in .NET
    unlock();
    if (drop_ref) release();
    return;
  }
  if (due < std::chrono::nanoseconds::zero() || due > TimerWheel::k_max_delay) {
    throw ArgumentError(
        "CancellationTokenSource::cancel_after: the delay must be between 0 and "
        "TimerWheel::k_max_delay, or duet::k_infinite_timeout; got " +
        std::to_string(due.count()) + " ns");
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

bool CancellationRegistration::release(bool wait) noexcept {
  if (!node_) return false;
  using U = detail::CancellationState::Unregistered;
  U outcome = state_->try_unregister_node(*node_);
  if (outcome == U::orphaned && wait) {
    // dispose(): wait for the callback. cancel() owns and frees the node now, so wait on the
    // state's executed_ counter for the orphan mark to go, without touching the node.
    state_->wait_while_executing(node_);
  }
  if (outcome == U::running_here) {
    state_->destroy_after_callback(node_);  // from inside its own callback
  } else if (outcome != U::orphaned) {
    node_->destroy(node_);
  }
  node_ = nullptr;  // state_ stays (one reference) for token()
  return outcome == U::removed;
}

CancellationToken CancellationRegistration::token() const noexcept {
  return CancellationToken::from_state(state_);
}

bool CancellationRegistration::unregister() noexcept { return release(false); }

bool CancellationRegistration::dispose() noexcept { return release(true); }

CancellationToken CancellationToken::canceled() {
  CancellationTokenSource cts;
  cts.cancel();
  return cts.token();
}

void CancellationToken::throw_canceled() const { throw OperationCanceledError(*this); }

CancellationTokenSource::~CancellationTokenSource() {
  if (state_) {
    if (!disposed_) state_->dispose();
    state_->release();
  }
}

detail::CancellationState* CancellationTokenSource::checked() const {
  if (!state_) {
    throw InvalidOperationError(
        "this CancellationTokenSource was moved from; use the source it was moved into");
  }
  if (disposed_) {
    throw ObjectDisposedError(
        "this CancellationTokenSource was disposed: token(), cancel(), cancel_after() and "
        "try_reset() are not allowed after dispose(); take the token before disposing, or "
        "dispose only when done with the source");
  }
  return state_;
}

void CancellationTokenSource::dispose() noexcept {
  if (!state_ || disposed_) return;
  disposed_ = true;
  state_->dispose();
}

namespace {
// CancelAsyncState — cancel_async's task and its pool work item.
struct CancelAsyncState final : detail::TaskState<void>, Continuation {
  explicit CancelAsyncState(detail::CancellationState* s) : TaskState<void>(2), source(s) {
    source->add_ref();
    invoke = &CancelAsyncState::run;
    owner = this;
  }
  static void run(Continuation* c) noexcept {
    auto* self = &static_cast<CancelAsyncState&>(*c);
    try {
      self->source->notify(false);
      self->try_complete_value();
    } catch (...) {
      self->try_complete_exception(std::current_exception());
    }
    self->source->release();
    self->TaskState<void>::release();
  }
  detail::CancellationState* source;
};
}  // namespace

Task<> CancellationTokenSource::cancel_async() {
  detail::CancellationState* const s = checked();
  auto* st = new CancelAsyncState(s);  // before begin_cancel: a bad_alloc leaves us not canceled
  if (!s->begin_cancel()) {
    st->source->release();
    st->TaskState<void>::release();
    st->TaskState<void>::release();  // never completed, never observed: just freed
    return completed_task();
  }
  Task<> task = detail::adopt_task(static_cast<detail::TaskState<void>*>(st));
  default_scheduler().post(*st);
  return task;
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
