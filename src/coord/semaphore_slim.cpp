// semaphore_slim.cpp — SemaphoreSlim's slow paths and its waiter.
//
// SemaphoreWaiter lifetime. References: the Task<bool> handle wait_async returns, one "queue"
// reference dropped by finish() (which runs exactly once, by whoever unlinked the waiter), and
// one "timer" reference while a timeout is armed, dropped by on_expired (which always runs once
// the wheel took the entry) or by finish() when it cancels the entry out of the wheel. The
// cancellation node holds no reference: finish() unregisters it (waiting for a callback that is
// running right now) before it drops the queue reference, unless finish() runs inside that very
// callback. The waiter references the SemaphoreCore, so its callbacks never outlive the lock
// they take.
#include "duet/coord/semaphore_slim.hpp"

#include <new>
#include <string>

namespace duet {
namespace detail {

namespace {

// ImmortalBoolTask — the completed Task<bool> states behind cached_bool_task (static storage,
// never freed, not counted by live_task_states(), like the completed Task<>).
class ImmortalBoolTask final : public TaskState<bool> {
 public:
  explicit ImmortalBoolTask(bool v) noexcept : TaskState<bool>(TaskStateBase::k_immortal) {
#ifndef NDEBUG
    count_task_state(-1);
#endif
    complete_value_unshared(v);
  }
};

}  // namespace

Task<bool> cached_bool_task(bool v) noexcept {
  alignas(ImmortalBoolTask) static unsigned char storage[2][sizeof(ImmortalBoolTask)];
  static TaskState<bool>* const states[2] = {::new (static_cast<void*>(storage[0])) ImmortalBoolTask(false),
                                             ::new (static_cast<void*>(storage[1])) ImmortalBoolTask(true)};
  TaskState<bool>* s = states[v ? 1 : 0];
  s->add_ref();
  return adopt_task(s);
}

class SemaphoreWaiter final : public TaskState<bool>, public TimerEntry, public CancellationCallbackNode {
 public:
  enum class Outcome { acquired, timed_out, canceled, disposed };

  SemaphoreWaiter(SemaphoreCore* core, const CancellationToken& token)
      : TaskState<bool>(2), core_(core), token_(token) {
    core_->add_ref();
    TimerEntry::invoke = &SemaphoreWaiter::on_expired;
    TimerEntry::owner = this;
    CancellationCallbackNode::invoke = &SemaphoreWaiter::on_canceled;
    set_run_continuations_asynchronously(true);  // as .NET's TaskNode
  }
  ~SemaphoreWaiter() override { core_->release_ref(); }

  // finish(o) — completes the waiter; called once, by whoever unlinked it, outside the lock.
  void finish(Outcome o) noexcept {
    if (registered && o != Outcome::canceled) token_.state()->unregister_node(*this);
    if (wheel && o != Outcome::timed_out && wheel->cancel(*this)) release();  // the timer reference
    switch (o) {
      case Outcome::acquired:
        try_complete_value(true);
        break;
      case Outcome::timed_out:
        try_complete_value(false);
        break;
      case Outcome::canceled:
        try_complete_exception(canceled_error(token_));
        break;
      case Outcome::disposed:
        try_complete_exception(error_ptr<InvalidOperationError>(
            "SemaphoreSlim destroyed while this wait_async was queued on it: keep a semaphore "
            "alive until every waiter has been released, canceled or timed out"));
        break;
    }
    release();  // the queue reference
  }

  // Queue links, guarded by the core's lock.
  SemaphoreWaiter* q_prev = nullptr;
  SemaphoreWaiter* q_next = nullptr;
  bool queued = false;
  bool registered = false;        // the cancellation node is registered
  TimerWheel* wheel = nullptr;    // the wheel the timeout is armed on

 private:
  // take_out() — unlinks the waiter if it is still queued; true when this call did.
  bool take_out() noexcept {
    core_->lock.lock();
    const bool was = queued;
    if (was) {
      core_->unlink(*this);
      if (core_->waiters == 0) core_->state.store(0, std::memory_order_release);
    }
    core_->lock.unlock();
    return was;
  }
  static void on_expired(Continuation* c) noexcept {
    auto* self = &static_cast<SemaphoreWaiter&>(static_cast<TimerEntry&>(*c));
    if (self->take_out()) self->finish(Outcome::timed_out);
    self->release();  // the timer reference
  }
  static void on_canceled(CancellationCallbackNode* n) {
    auto& self = static_cast<SemaphoreWaiter&>(*n);
    if (self.take_out()) self.finish(Outcome::canceled);
  }

  SemaphoreCore* core_;
  CancellationToken token_;
};

void SemaphoreCore::unlink(SemaphoreWaiter& w) noexcept {
  if (w.q_prev) {
    w.q_prev->q_next = w.q_next;
  } else {
    head = w.q_next;
  }
  if (w.q_next) {
    w.q_next->q_prev = w.q_prev;
  } else {
    tail = w.q_prev;
  }
  w.q_prev = w.q_next = nullptr;
  w.queued = false;
  --waiters;
}

}  // namespace detail

SemaphoreSlim::SemaphoreSlim(int initial_count, int max_count) {
  if (max_count <= 0 || initial_count < 0 || initial_count > max_count) {
    throw ArgumentError("SemaphoreSlim(initial_count = " + std::to_string(initial_count) +
                        ", max_count = " + std::to_string(max_count) +
                        "): needs 0 <= initial_count <= max_count and max_count > 0");
  }
  core_ = new detail::SemaphoreCore(initial_count, max_count);
}

SemaphoreSlim::~SemaphoreSlim() {
  detail::SemaphoreWaiter* list = nullptr;
  core_->lock.lock();
  while (detail::SemaphoreWaiter* w = core_->head) {
    core_->unlink(*w);
    w->q_next = list;
    list = w;
  }
  core_->state.store(0, std::memory_order_relaxed);
  core_->lock.unlock();
  while (list) {
    detail::SemaphoreWaiter* w = list;
    list = w->q_next;
    w->finish(detail::SemaphoreWaiter::Outcome::disposed);
  }
  core_->release_ref();
}

std::size_t SemaphoreSlim::waiter_count() const noexcept {
  core_->lock.lock();
  const std::size_t n = core_->waiters;
  core_->lock.unlock();
  return n;
}

void SemaphoreSlim::check_timeout(std::chrono::milliseconds ms) {
  if ((ms.count() < 0 && ms != k_infinite_timeout) || ms > TimerWheel::k_max_delay) {
    throw ArgumentError("SemaphoreSlim::wait_async(timeout): timeout " + std::to_string(ms.count()) +
                        " ms is out of range: use 0 (try once), a positive duration up to "
                        "TimerWheel::k_max_delay, or k_infinite_timeout");
  }
}

Task<bool> SemaphoreSlim::wait_slow(std::chrono::milliseconds timeout, const CancellationToken& token) {
  auto* w = new detail::SemaphoreWaiter(core_, token);
  detail::SemaphoreCore& c = *core_;
  c.lock.lock();
  int s = c.state.load(std::memory_order_relaxed);
  for (;;) {
    if (s > 0) {
      if (c.state.compare_exchange_weak(s, s - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        c.lock.unlock();
        delete w;  // never shared
        return detail::cached_bool_task(true);
      }
    } else if (s == 0) {
      if (c.state.compare_exchange_weak(s, -1, std::memory_order_relaxed, std::memory_order_relaxed)) break;
    } else {
      break;  // -1: others wait already
    }
  }
  if (token.can_be_canceled()) {
    if (!token.state()->register_node(*w)) {  // canceled since wait_async checked
      if (c.waiters == 0) c.state.store(0, std::memory_order_release);
      c.lock.unlock();
      w->finish(detail::SemaphoreWaiter::Outcome::canceled);
      return detail::adopt_task(static_cast<detail::TaskState<bool>*>(w));
    }
    w->registered = true;
  }
  w->q_prev = c.tail;
  if (c.tail) {
    c.tail->q_next = w;
  } else {
    c.head = w;
  }
  c.tail = w;
  w->queued = true;
  ++c.waiters;
  if (timeout != k_infinite_timeout) {
    w->add_ref();  // the timer reference
    w->wheel = &TimerWheel::current();
    w->wheel->schedule(*w, timeout);  // validated by check_timeout: does not throw
  }
  c.lock.unlock();
  return detail::adopt_task(static_cast<detail::TaskState<bool>*>(w));
}

int SemaphoreSlim::release_slow(int n) {
  if (n < 1) {
    throw ArgumentError("SemaphoreSlim::release(n): n = " + std::to_string(n) + " must be >= 1");
  }
  detail::SemaphoreCore& c = *core_;
  auto full = [&](int count) {
    return SemaphoreFullError("SemaphoreSlim::release(" + std::to_string(n) + "): the count " +
                              std::to_string(count) + " would exceed max_count " + std::to_string(c.max) +
                              " (.NET's SemaphoreFullException): release only counts you took");
  };
  detail::SemaphoreWaiter* list = nullptr;
  detail::SemaphoreWaiter** tail = &list;
  c.lock.lock();
  int s = c.state.load(std::memory_order_relaxed);
  while (s >= 0) {
    if (c.max - s < n) {
      c.lock.unlock();
      throw full(s);
    }
    if (c.state.compare_exchange_weak(s, s + n, std::memory_order_release, std::memory_order_relaxed)) {
      c.lock.unlock();
      return s;
    }
  }
  // s == -1: waiters are queued, and only the lock holder changes that. Hand counts to the
  // oldest first; what is left becomes free once the queue is empty.
  const int left = n - static_cast<int>(std::min<std::size_t>(c.waiters, static_cast<std::size_t>(n)));
  if (left > c.max) {
    c.lock.unlock();
    throw full(0);
  }
  for (int k = 0; k < n && c.head; ++k) {
    detail::SemaphoreWaiter* w = c.head;
    c.unlink(*w);
    *tail = w;
    tail = &w->q_next;
  }
  if (c.waiters == 0) c.state.store(left, std::memory_order_release);
  c.lock.unlock();
  while (list) {
    detail::SemaphoreWaiter* w = list;
    list = w->q_next;
    w->finish(detail::SemaphoreWaiter::Outcome::acquired);
  }
  return 0;
}

}  // namespace duet
