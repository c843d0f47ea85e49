// duet/coord/semaphore_slim.hpp — SemaphoreSlim (.NET's System.Threading.SemaphoreSlim) and
// SemaphoreReleaser, the RAII guard that gives back one count.
//
// State. One atomic word holds the whole fast-path state:
//   state_ >= 0   that many counts are free and nobody waits;
//   state_ == -1  no count is free and at least one waiter is queued.
// wait_async takes a count with one CAS while state_ > 0 and returns a cached, immortal completed
// Task<bool>: no lock, no allocation. release(n) adds with one CAS while state_ >= 0. Only the
// lock holder moves state_ to or from -1, and while it is -1 every count a release brings is
// handed straight to the oldest waiter (so a count is never free while someone waits: FIFO, and
// no barging).
//
// Waiters. A waiter is one heap object (src/coord/semaphore_slim.cpp): the Task<bool> state, its
// TimerEntry (timeout) and its CancellationCallbackNode, linked into an intrusive FIFO list under
// the semaphore's spin lock. Whoever unlinks a waiter completes it — release() (true), its timer
// (false) or its token (canceled) — so exactly one of them wins, and a waiter that timed out or
// was canceled is gone from the list at once: it never consumes a count that a release brings.
// As in .NET, a waiter's continuation never runs inside release(): it is posted (its task runs
// continuations asynchronously).
//
// Lifetime. The state lives in a reference-counted detail::SemaphoreCore that every queued waiter
// also references, so a waiter's timer or token callback never touches freed memory. Destroying
// a SemaphoreSlim while waiters are queued faults each of them with an InvalidOperationError
// that names the misuse (every started task completes; none hangs).
//
// Thread-safety: every member may be called from any thread, except concurrently with the
// destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/detail/spin_lock.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/time/delay.hpp"

namespace duet {

// SemaphoreFullError — release() would lift the count above max_count (.NET's
// SemaphoreFullException).
class SemaphoreFullError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
class SemaphoreWaiter;
// cached_bool_task(v) — the immortal completed Task<bool> for `v` (no allocation).
Task<bool> cached_bool_task(bool v) noexcept;

// SemaphoreCore — the shared state (see "State" and "Lifetime" above). Internal.
struct SemaphoreCore {
  SemaphoreCore(int initial, int max) noexcept : state(initial), max(max) {}
  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release_ref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // unlink(w) — lock held: removes w from the queue; state 0 when it was the last.
  void unlink(SemaphoreWaiter& w) noexcept;

  alignas(64) std::atomic<int> state;
  const int max;
  std::atomic<std::uint32_t> refs{1};
  SpinLock lock;
  SemaphoreWaiter* head = nullptr;  // oldest; guarded by lock
  SemaphoreWaiter* tail = nullptr;  // newest; guarded by lock
  std::size_t waiters = 0;          // guarded by lock
};
}  // namespace detail

// SemaphoreSlim — see the header comment.
class SemaphoreSlim {
 public:
  // SemaphoreSlim(initial, max) — `initial` free counts, at most `max`. ArgumentError unless
  // 0 <= initial <= max and max > 0.
  explicit SemaphoreSlim(int initial_count, int max_count = INT32_MAX);
  SemaphoreSlim(const SemaphoreSlim&) = delete;
  SemaphoreSlim& operator=(const SemaphoreSlim&) = delete;
  ~SemaphoreSlim();

  // current_count() — the free counts now (0 while anybody waits).
  int current_count() const noexcept {
    const int s = core_->state.load(std::memory_order_acquire);
    return s > 0 ? s : 0;
  }
  int max_count() const noexcept { return core_->max; }

  // wait_async(token) — a task that completes true once a count was taken for the caller.
  // Uncontended: completes synchronously, allocates nothing. Already-canceled token: a canceled
  // task (even when a count is free, as .NET). Canceled while queued: the task ends canceled
  // and the waiter leaves the queue at once.
  Task<bool> wait_async(const CancellationToken& token = {}) {
    if (token.is_cancellation_requested()) return detail::canceled_task<bool>(token);
    if (try_take()) return detail::cached_bool_task(true);
    return wait_slow(k_infinite_timeout, token);
  }
  // wait_async(timeout, token) — as above, but the task completes false when no count came
  // within `timeout` (on TimerWheel::current()). timeout 0: try once, never queue;
  // k_infinite_timeout: no timeout. Any other negative timeout, or one beyond
  // TimerWheel::k_max_delay: ArgumentError.
  template <class Rep, class Period>
  Task<bool> wait_async(std::chrono::duration<Rep, Period> timeout, const CancellationToken& token = {}) {
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout);
    check_timeout(ms);
    if (token.is_cancellation_requested()) return detail::canceled_task<bool>(token);
    if (try_take()) return detail::cached_bool_task(true);
    if (ms.count() == 0) return detail::cached_bool_task(false);
    return wait_slow(ms, token);
  }

  // wait(token) / wait(timeout, token) — the blocking forms (.NET's Wait): block the calling
  // thread (never call them on a thread whose work the release depends on). wait(token) throws
  // OperationCanceledError when canceled; wait(timeout) returns false on timeout.
  void wait(const CancellationToken& token = {}) { (void)wait_async(token).result(); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout, const CancellationToken& token = {}) {
    return wait_async(timeout, token).result();
  }

  // release(n) — gives back n counts (n >= 1, else ArgumentError): the oldest waiters get them
  // first, the rest are added to the free count. Returns the free count before the call.
  // SemaphoreFullError (nothing changed) when the free count would exceed max_count().
  int release(int n = 1) {
    if (n >= 1) {
      int c = core_->state.load(std::memory_order_relaxed);
      while (c >= 0 && core_->max - c >= n) {
        if (core_->state.compare_exchange_weak(c, c + n, std::memory_order_release, std::memory_order_relaxed)) {
          return c;
        }
      }
    }
    return release_slow(n);
  }

  // waiter_count() — queued waiters (tests and diagnostics).
  std::size_t waiter_count() const noexcept;

 private:
  bool try_take() noexcept {
    int c = core_->state.load(std::memory_order_relaxed);
    while (c > 0) {
      if (core_->state.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  static void check_timeout(std::chrono::milliseconds ms);
  Task<bool> wait_slow(std::chrono::milliseconds timeout, const CancellationToken& token);
  int release_slow(int n);

  detail::SemaphoreCore* core_;
};

// SemaphoreReleaser — owns one count of a SemaphoreSlim and gives it back on destruction (or
// release()). Move-only; default-constructed it owns nothing, so a DSL method can hold one as a
// member and assign it after its await. The C# it replaces:
//   await sem.WaitAsync(); try { ... } finally { sem.Release(); }
class SemaphoreReleaser {
 public:
  SemaphoreReleaser() noexcept = default;
  // SemaphoreReleaser(sem) — adopts one count the caller has already taken from `sem`.
  explicit SemaphoreReleaser(SemaphoreSlim& sem) noexcept : sem_(&sem) {}
  SemaphoreReleaser(SemaphoreReleaser&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
  SemaphoreReleaser& operator=(SemaphoreReleaser&& o) {
    if (this != &o) {
      release();
      sem_ = std::exchange(o.sem_, nullptr);
    }
    return *this;
  }
  SemaphoreReleaser(const SemaphoreReleaser&) = delete;
  SemaphoreReleaser& operator=(const SemaphoreReleaser&) = delete;
  // The destructor releases; a SemaphoreFullError there (someone released a count they did not
  // own) would escape a destructor, so it terminates — as any throwing destructor.
  ~SemaphoreReleaser() { release(); }

  // owns() — whether a count is still held.
  bool owns() const noexcept { return sem_ != nullptr; }
  // release() — gives the count back now (idempotent).
  void release() {
    if (SemaphoreSlim* s = std::exchange(sem_, nullptr)) s->release();
  }

 private:
  SemaphoreSlim* sem_ = nullptr;
};

}  // namespace duet
