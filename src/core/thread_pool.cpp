// thread_pool.cpp — ThreadPool: per-worker LIFO slot + work-stealing ring, a global injection
// queue, futex parking, blocking compensation and a starvation monitor. The design, the wake-up
// protocol and the scaling notes are in duet/scheduler.hpp; the ring's invariants in
// duet/detail/work_stealing_ring.hpp.
//
// Idle driver (src/core/idle_driver.hpp; the socket engine registers with default_scheduler()):
// a worker out of local work collects what the driver has ready without blocking before it
// searches, and a parked worker (not a surplus one, which must stay able to retire) waits in the
// driver instead of its futex, one at a time (the driver's token); see drive() for why no
// wake-up is lost. A pool without a driver pays one relaxed load per search and per park.
//
// Locks (never nested except as noted): Global::mutex (the injection list), idle_mutex (the
// parked list and the stopping flag's transitions), threads_mutex (worker slots, spawning,
// retiring; may be taken with nothing else held), monitor_mutex (the monitor's sleep).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/lockfree/queue.hpp>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/detail/assert.hpp"
#include "../detail/shuffle_hook.hpp"
#include "idle_driver.hpp"
#include "duet/detail/cpu_relax.hpp"
#include "duet/detail/work_stealing_ring.hpp"
#include "duet/diag/trace.hpp"

namespace duet {

namespace {
// k_ring — slots of a worker's ring.
constexpr std::size_t k_ring = 256;
// k_fair_interval — every this many picks a worker looks at the global queue and the oldest item
// of its ring before its slot (Go's and tokio's 61: prime, so it does not beat with patterns).
constexpr unsigned k_fair_interval = 61;
// k_stale_time — how much CPU time the worker may spend on newer items while its ring's oldest
// item stays the oldest, before it runs that item ahead of them: the starvation bound of the
// owner's LIFO order when no thief comes by. Each such pick starts an old (in a tree: big) piece
// of work beside the current one, so the bound trades latency against depth-first order: taking
// the top every 61 picks made skynet 1M keep its whole tree alive; every ~1,000 picks, or every
// 10 ms, ran it 2-3x slower (the subtrees' frontiers piled up, overflowed the ring into the
// global queue, which is looked at first). Wall time would make the bound shrink, in work, on a
// loaded machine (at 100 ms wall and 8 runnable threads per core skynet on one worker ran 10x
// slower); the thread's own CPU time does not.
constexpr std::chrono::nanoseconds k_stale_time{std::chrono::milliseconds(100)};
// k_stale_stride — while the top stays stale, the CPU clock is read at every this-many-th
// fairness pick only: CLOCK_THREAD_CPUTIME_ID is a system call (no vDSO), and reading it every
// 61 picks cost fork/join trees, whose oldest item stays stale for long, ~5% of their time
// (skynet). The bound grows by at most k_stale_stride * k_fair_interval picks.
constexpr unsigned k_stale_stride = 16;
// k_batch_max — the most items one take moves from the global queue into a ring.
constexpr std::size_t k_batch_max = k_ring / 2;
// k_search_rounds — steal attempts over all victims (with a pause between) before parking.
constexpr int k_search_rounds = 32;
// k_relax — pause instructions between search rounds.
constexpr int k_relax = 64;
// k_starvation — work queued and no item started for this long: the monitor adds a worker.
constexpr std::chrono::milliseconds k_starvation{500};
// k_monitor_period — how often the monitor looks.
constexpr std::chrono::milliseconds k_monitor_period{100};
// k_default_idle_timeout — a surplus worker parked this long retires (.NET: 20 s).
constexpr std::chrono::milliseconds k_default_idle_timeout{20'000};
// k_extra_threads — max_threads() - min_threads() by default.
constexpr unsigned k_extra_threads = 256;

using Ring = detail::WorkStealingRing<Continuation, k_ring>;

// futex_wait(word, expected, timeout) — sleeps while `word` holds `expected`, at most `timeout`
// (null: forever). Returns false only on a timeout. Spurious returns are the caller's to handle.
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                const std::chrono::nanoseconds* timeout) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  timespec ts{};
  if (timeout) {
    ts.tv_sec = static_cast<time_t>(timeout->count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout->count() % 1'000'000'000);
  }
  const long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
                         expected, timeout ? &ts : nullptr, nullptr, 0);
  return !(r == -1 && errno == ETIMEDOUT);
}

// thread_cpu_time() — the calling thread's CPU time (a system call on Linux: no vDSO for it).
std::chrono::nanoseconds thread_cpu_time() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

// Worker — one worker thread's queues and bookkeeping. Lives as long as its pool; a slot is
// reused by a later thread after its thread retired.
struct Worker {
  // ring — owner pushes/pops, anyone steals.
  Ring ring;
  // lifo — the LIFO slot: owner stores; owner and the monitor take it with a CAS.
  alignas(64) std::atomic<Continuation*> lifo{nullptr};
  // ticks — items started by this worker; written by the owner (relaxed), read by the monitor.
  std::atomic<std::uint64_t> ticks{0};
  // futex — 1 once a waker picked this parked worker; the owner resets it to 0.
  alignas(64) std::atomic<std::uint32_t> futex{0};
  // driving — the idle driver this parked worker waits in instead of its futex (null: none).
  // Written by the owner; a waker reads it under idle_mutex (see Impl::drive).
  std::atomic<detail::IdleDriver*> driving{nullptr};

  ThreadPool::Impl* pool = nullptr;
  unsigned index = 0;
  // Owner-only state (written by a waker only while the owner is parked, published by `futex`).
  std::uint32_t rng = 0;
  unsigned picks = 0;
  std::int64_t stale_top = -1;  // the ring's top index at the last fairness pick
  // stale_since — the thread's CPU time when a fairness pick first saw stale_top (-1: not yet).
  std::chrono::nanoseconds stale_since{-1};
  // stale_skips — fairness picks left before the clock is read again while the top stays stale.
  unsigned stale_skips = 0;
  bool searching = false;
  bool force_search = false;
  // parked — guarded by Impl::idle_mutex.
  bool parked = false;
  // thread, in_use — guarded by Impl::threads_mutex.
  std::thread thread;
  bool in_use = false;
};

thread_local Worker* tls_worker = nullptr;

std::uint32_t next_random(std::uint32_t& s) noexcept {  // xorshift32
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}
}  // namespace

struct ThreadPool::Impl {
  // Global — the injection queue: an intrusive FIFO of Continuations linked through `next`.
  struct Global {
    std::mutex mutex;
    Continuation* head = nullptr;  // guarded by mutex
    Continuation* tail = nullptr;  // guarded by mutex
    // size — the list's length; written under mutex, read anywhere (relaxed) as a hint.
    std::atomic<std::size_t> size{0};

    // push_list(first, last, n) — appends a linked chain of n items.
    void push_list(Continuation* first, Continuation* last, std::size_t n) noexcept {
      last->next = nullptr;
      std::lock_guard<std::mutex> lk(mutex);
      if (tail) {
        tail->next = first;
      } else {
        head = first;
      }
      tail = last;
      size.store(size.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    // push_front_list(first, last, n) — prepends a linked chain of n items (they run next).
    void push_front_list(Continuation* first, Continuation* last, std::size_t n) noexcept {
      std::lock_guard<std::mutex> lk(mutex);
      last->next = head;
      head = first;
      if (!tail) tail = last;
      size.store(size.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  };

  explicit Impl(unsigned n) : slots(new std::atomic<Worker*>[k_thread_limit]) {
    for (unsigned i = 0; i < k_thread_limit; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
    min_threads.store(n, std::memory_order_relaxed);
    max_threads.store(std::min(k_thread_limit, n + k_extra_threads), std::memory_order_relaxed);
    idle.reserve(k_thread_limit);
  }

  ~Impl() {
    for (unsigned i = 0; i < slot_count.load(std::memory_order_relaxed); ++i) {
      delete slots[i].load(std::memory_order_relaxed);
    }
  }

  void start(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      if (!spawn()) break;
    }
    // The monitor's bookkeeping is allocated here, not on its thread: a thread that first runs
    // late would otherwise allocate while the pool is already in use.
    using clock = std::chrono::steady_clock;
    monitor = std::thread([this, seen = std::vector<std::uint64_t>(k_thread_limit, 0),
                           since = std::vector<clock::time_point>(k_thread_limit, clock::now())]() mutable {
      run_monitor(seen, since);
    });
  }

  void shut_down() {
    {
      std::lock_guard<std::mutex> lk(idle_mutex);
      stopping.store(true, std::memory_order_seq_cst);
      for (Worker* w : idle) release_parked(*w, false);
      idle.clear();
    }
    {
      std::lock_guard<std::mutex> lk(monitor_mutex);
      monitor_stop = true;
    }
    monitor_cv.notify_all();
    monitor.join();
    // Join until no thread is left; a worker blocked during the drain may start another.
    for (;;) {
      std::vector<std::thread> to_join;
      {
        std::lock_guard<std::mutex> lk(threads_mutex);
        for (unsigned i = 0; i < slot_count.load(std::memory_order_relaxed); ++i) {
          Worker* w = slots[i].load(std::memory_order_relaxed);
          if (w->thread.joinable()) to_join.push_back(std::move(w->thread));
        }
        if (to_join.empty() && live.load(std::memory_order_acquire) == 0) break;
      }
      for (auto& t : to_join) t.join();
      if (to_join.empty()) std::this_thread::yield();
    }
  }

  // ---- posting --------------------------------------------------------------------------------

  void post(Continuation& c) noexcept {
    Worker* w = tls_worker;
    if (w && w->pool == this) {
      if (detail::shuffle::on()) [[unlikely]] return shuffled_post(*w, c);
      post_local(*w, c);
    } else {
      global.push_list(&c, &c, 1);
      notify_if_needed();
    }
  }

  // post_local(w, c) — into the LIFO slot; the item it displaces goes to the ring.
  void post_local(Worker& w, Continuation& c) noexcept {
    Continuation* old = w.lifo.load(std::memory_order_relaxed);
    if (!old) {  // only the owner makes the slot non-null, so it stays null until this store
      w.lifo.store(&c, std::memory_order_release);
      return;
    }
    if (!w.lifo.compare_exchange_strong(old, &c, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
      w.lifo.store(&c, std::memory_order_release);  // the monitor took `old` meanwhile
      return;
    }
    push_ring(w, *old);
  }

  // push_ring(w, c) — into the owner's ring; when full, half of it moves to the global queue.
  void push_ring(Worker& w, Continuation& c) noexcept {
    if (!w.ring.push(&c)) {
      Continuation* first = nullptr;
      Continuation* last = nullptr;
      std::size_t n = 0;
      for (std::size_t i = 0; i < k_ring / 2; ++i) {
        Continuation* x = nullptr;
        const auto r = w.ring.steal(x);
        if (r == Ring::Steal::empty) break;
        if (r == Ring::Steal::abort) continue;
        link(first, last, n, x);
      }
      if (!w.ring.push(&c)) link(first, last, n, &c);  // thieves emptied nothing: cannot fail
      if (n > 0) global.push_list(first, last, n);
    }
    notify_if_needed();
  }

  static void link(Continuation*& first, Continuation*& last, std::size_t& n,
                   Continuation* x) noexcept {
    x->next = nullptr;
    if (last) {
      last->next = x;
    } else {
      first = x;
    }
    last = x;
    ++n;
  }

  // notify_if_needed() — after publishing stealable work: wake a parked worker when nobody is
  // searching (see the wake-up protocol in scheduler.hpp).
  void notify_if_needed() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (searching.load(std::memory_order_relaxed) == 0 &&
        parked.load(std::memory_order_relaxed) > 0) {
      wake_one();
    }
  }

  // wake_one() — unparks the most recently parked worker as a searcher. False: none parked.
  bool wake_one() noexcept {
    Worker* w = nullptr;
    {
      std::lock_guard<std::mutex> lk(idle_mutex);
      if (idle.empty()) return false;
      w = idle.back();
      idle.pop_back();
      release_parked(*w, true);
    }
    futex_wake_one(w->futex);
    return true;
  }

  // release_parked(w, as_searcher) — with idle_mutex held: takes `w` off the parked count and
  // marks it woken. The caller removes it from `idle` and calls futex_wake_one afterwards (or
  // has already, as shut_down does it under the lock).
  void release_parked(Worker& w, bool as_searcher) noexcept {
    w.parked = false;
    parked.fetch_sub(1, std::memory_order_relaxed);
    if (as_searcher) {
      searching.fetch_add(1, std::memory_order_seq_cst);
      w.searching = true;
    }
    w.futex.store(1, std::memory_order_seq_cst);
    // A worker waiting in the idle driver sleeps there, not on its futex (see drive()).
    if (detail::IdleDriver* d = w.driving.load(std::memory_order_seq_cst)) d->interrupt();
    if (!as_searcher) futex_wake_one(w.futex);
  }

  // ---- the worker loop ------------------------------------------------------------------------

  static void execute(Continuation* c) noexcept {
    run_continuation(c);
    // A pool thread is clean between work items.
    if (detail::ec_current()) detail::ec_set_current(nullptr);
    if (SynchronizationContext::current()) SynchronizationContext::set_current(nullptr);
  }

  enum class Park {
    resumed,  // woken, or work appeared: look again
    stop,     // the pool is shutting down and nothing is left
    retire,   // idle timeout on a surplus worker (live was decremented)
  };

  void run_worker(Worker& w) noexcept {
    tls_worker = &w;
    detail::shuffle::name_thread((std::uint64_t{ordinal} << 32) | (w.index + 1));
    Park why = Park::resumed;
    for (;;) {
      Continuation* c = local_item(w);
      // Out of local work: what the idle driver has ready comes first (Go's findrunnable polls
      // the network before stealing), without blocking.
      if (!c && driver.load(std::memory_order_relaxed) && poll_driver()) c = local_item(w);
      if (!c) {
        c = search(w);  // ends the search itself
      } else if (w.searching) {
        end_searching(w, true);  // woken as a searcher, found work without searching
      }
      if (!c) {
        why = park(w);
        if (why == Park::resumed) continue;
        break;
      }
      w.ticks.store(w.ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (detail::shuffle::on()) [[unlikely]] detail::shuffle::preempt();
      DUET_TRACE(record('B', "pool work item", nullptr));
      execute(c);
      DUET_TRACE(end());
    }
    tls_worker = nullptr;
    std::lock_guard<std::mutex> lk(threads_mutex);
    w.in_use = false;
    if (why == Park::stop) live.fetch_sub(1, std::memory_order_release);
    // Last touch of the pool from this thread: the destructor joins it, or spawn() does when it
    // reuses the slot.
  }

  // local_item(w) — the next item from the worker's own queues (and, for fairness, the global
  // queue every k_fair_interval picks), or null.
  //
  // Fairness. Every 61st pick looks at the global queue first. The ring's oldest item is run
  // ahead of the newer ones only once it has stayed the oldest while this worker spent
  // k_stale_time of CPU on other items: that bounds how long a busy bottom (say, two items posting
  // each other through the slot) can starve it, without turning the owner's depth-first order
  // into a breadth-first one in fork/join trees (see k_stale_time). The clock is read only while
  // the top is stale, once per 61 picks.
  Continuation* local_item(Worker& w) noexcept {
    if (detail::shuffle::on()) [[unlikely]] {
      if (Continuation* c = shuffled_pick(w)) return c;
    }
    if (++w.picks == k_fair_interval) {
      w.picks = 0;
      if (Continuation* c = take_global(w)) return c;
      const std::int64_t top = w.ring.top_index();
      if (top != w.stale_top || w.ring.approx_size() == 0) {
        w.stale_top = top;
        w.stale_since = std::chrono::nanoseconds{-1};
        w.stale_skips = 0;
      } else if (w.stale_skips > 0) {
        --w.stale_skips;  // the clock is a system call: read it every k_stale_stride-th look
      } else {
        w.stale_skips = k_stale_stride - 1;
        const std::chrono::nanoseconds now = thread_cpu_time();
        if (w.stale_since.count() < 0) {
          w.stale_since = now;
        } else if (now - w.stale_since >= k_stale_time) {
          w.stale_since = std::chrono::nanoseconds{-1};
          Continuation* oldest = nullptr;
          for (;;) {
            const auto r = w.ring.steal(oldest);
            if (r == Ring::Steal::success) return oldest;
            if (r == Ring::Steal::empty) break;
          }
        }
      }
    }
    Continuation* c = w.lifo.load(std::memory_order_relaxed);
    if (c && w.lifo.compare_exchange_strong(c, nullptr, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      return c;
    }
    return w.ring.pop();
  }

  // take_global(w) — takes a batch from the global queue: returns the first item and pushes the
  // rest into w's ring. Null when the queue is empty.
  Continuation* take_global(Worker& w) noexcept {
    if (global.size.load(std::memory_order_relaxed) == 0) return nullptr;
    Continuation* first = nullptr;
    std::size_t moved = 0;
    {
      std::lock_guard<std::mutex> lk(global.mutex);
      const std::size_t size = global.size.load(std::memory_order_relaxed);
      if (size == 0) return nullptr;
      const unsigned active = std::max(1u, unblocked());
      std::size_t n = std::min({size, size / active + 1, k_batch_max,
                                k_ring - w.ring.approx_size() + 1});
      first = global.head;
      Continuation* c = first->next;
      for (std::size_t i = 1; i < n; ++i) {
        Continuation* next = c->next;
        c->next = nullptr;
        (void)w.ring.push(c);  // room reserved above; only the owner pushes
        c = next;
        ++moved;
      }
      global.head = c;
      if (!c) global.tail = nullptr;
      global.size.store(size - n, std::memory_order_relaxed);
      first->next = nullptr;
    }
    if (moved > 0) notify_if_needed();
    return first;
  }

  unsigned unblocked() const noexcept {
    const unsigned l = live.load(std::memory_order_relaxed);
    const unsigned b = blocked.load(std::memory_order_relaxed);
    return l > b ? l - b : 0;
  }

  bool become_searching(Worker& w) noexcept {
    if (w.searching) return true;
    if (!w.force_search) {
      const unsigned s = searching.load(std::memory_order_relaxed);
      if (2 * s >= unblocked()) return false;
    }
    w.force_search = false;
    searching.fetch_add(1, std::memory_order_seq_cst);
    w.searching = true;
    return true;
  }

  void end_searching(Worker& w, bool found) noexcept {
    if (!w.searching) return;
    w.searching = false;
    const unsigned prev = searching.fetch_sub(1, std::memory_order_seq_cst);
    // The last searcher found work: there may be more, and posters that saw it searching did
    // not wake anyone. Hand the search on.
    if (prev == 1 && found) notify_if_needed();
  }

  // search(w) — the global queue, then steal rounds as a searcher; null: nothing found.
  Continuation* search(Worker& w) noexcept {
    if (Continuation* c = take_global(w)) {
      end_searching(w, true);
      return c;
    }
    if (!become_searching(w)) return nullptr;
    Continuation* c = nullptr;
    for (int round = 0; round < k_search_rounds && !c; ++round) {
      c = steal_any(w);
      if (!c) c = take_global(w);
      if (!c) {
        for (int i = 0; i < k_relax; ++i) detail::cpu_relax();
      }
    }
    end_searching(w, c != nullptr);
    return c;
  }

  Continuation* steal_any(Worker& w) noexcept {
    const unsigned n = slot_count.load(std::memory_order_acquire);
    if (n <= 1) return nullptr;
    const unsigned start =
        (detail::shuffle::on() ? detail::shuffle::draw(n) : next_random(w.rng)) % n;
    for (unsigned i = 0; i < n; ++i) {
      Worker* v = slots[(start + i) % n].load(std::memory_order_acquire);
      if (!v || v == &w || v->ring.approx_size() == 0) continue;
      if (Continuation* c = v->ring.steal_half_into(w.ring)) return c;
    }
    return nullptr;
  }

  // work_visible() — any stealable item anywhere (global queue or a ring). Slots are left out on
  // purpose: their owners are running and take them next.
  bool work_visible() const noexcept {
    if (global.size.load(std::memory_order_relaxed) > 0) return true;
    const unsigned n = slot_count.load(std::memory_order_acquire);
    for (unsigned i = 0; i < n; ++i) {
      Worker* v = slots[i].load(std::memory_order_acquire);
      if (v && v->ring.approx_size() > 0) return true;
    }
    return false;
  }

  Park park(Worker& w) noexcept {
    DUET_ASSERT(!w.searching, "a worker parks while still counted as searching");
    {
      std::lock_guard<std::mutex> lk(idle_mutex);
      if (stopping.load(std::memory_order_relaxed) && !work_visible()) return Park::stop;
      w.parked = true;
      idle.push_back(&w);
      parked.fetch_add(1, std::memory_order_seq_cst);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (work_visible()) {
      std::lock_guard<std::mutex> lk(idle_mutex);
      if (w.parked) {
        idle.erase(std::find(idle.begin(), idle.end(), &w));
        w.parked = false;
        parked.fetch_sub(1, std::memory_order_relaxed);
        w.force_search = true;  // the half-searching cap must not hide this work from us
        return Park::resumed;
      }
      // A waker picked us already: fall through to consume its futex store.
    }
    for (;;) {
      if (w.futex.load(std::memory_order_acquire) == 1) {
        w.futex.store(0, std::memory_order_relaxed);
        return Park::resumed;
      }
      const bool surplus = live.load(std::memory_order_relaxed) >
                           min_threads.load(std::memory_order_relaxed);
      // Not a surplus worker: it must stay able to time out and retire.
      if (!surplus && driver.load(std::memory_order_relaxed) && drive(w)) return Park::resumed;
      const std::chrono::nanoseconds timeout{idle_timeout_ns.load(std::memory_order_relaxed)};
      if (futex_wait(w.futex, 0, surplus ? &timeout : nullptr)) continue;
      // Timed out: retire if still parked and still surplus.
      std::lock_guard<std::mutex> lk(idle_mutex);
      if (!w.parked) continue;  // woken meanwhile
      unsigned l = live.load(std::memory_order_relaxed);
      bool retired = false;
      while (l > min_threads.load(std::memory_order_relaxed)) {
        if (live.compare_exchange_weak(l, l - 1, std::memory_order_acq_rel)) {
          retired = true;
          break;
        }
      }
      if (!retired) continue;
      idle.erase(std::find(idle.begin(), idle.end(), &w));
      w.parked = false;
      parked.fetch_sub(1, std::memory_order_relaxed);
      return Park::retire;
    }
  }

  // drive(w) — park()'s alternative to the futex: with nothing to run and `w` registered as
  // parked (and the queues re-checked after that), wait in the idle driver if its token is free.
  // False: no driver, or the token is taken: park on the futex as usual. True: `w` waited, left the parked state and handed out what the
  // driver found (into its own queues): look again.
  //
  // No lost wake-up. A waker picks a parked worker under idle_mutex (release_parked): it stores
  // the futex word, then reads `driving`, both seq_cst; the worker stores `driving`, then reads
  // the futex word, both seq_cst. In the single total order one of the stores comes first, so
  // either the worker sees the futex word set and does not wait, or the waker sees `driving`
  // and interrupts the driver, which makes the current or the next wait() return. The worker is
  // still counted parked while it waits, so posters find it as they would on the futex
  // (notify_if_needed reads `parked`), and the re-check in park() covers work published before
  // it counted itself parked. Once wait() returns the worker leaves the parked state under
  // idle_mutex before finish(): its own posts see it running and wake others only for what it
  // cannot take itself. A waker that picked it in between has stored the futex word and made it
  // a searcher, as it would have on the futex; the word is consumed here.
  //
  // The driver's lifetime: `driver_users` counts workers between reading `driver` and giving the
  // token back; ThreadPoolAccess::set_idle_driver(null) clears `driver` and waits for the count
  // to drop (seq_cst on both sides: either the worker reads null or the remover sees it
  // counted). A waker's interrupt() runs under idle_mutex while the worker is parked, before the
  // worker's own leaving (under the same lock), which comes before it is uncounted.
  bool drive(Worker& w) noexcept {
    driver_users.fetch_add(1, std::memory_order_seq_cst);
    detail::IdleDriver* d = driver.load(std::memory_order_seq_cst);
    if (!d || !d->try_begin(true)) {
      driver_users.fetch_sub(1, std::memory_order_release);
      return false;
    }
    w.driving.store(d, std::memory_order_seq_cst);
    if (w.futex.load(std::memory_order_seq_cst) == 0) d->wait(true);
    w.driving.store(nullptr, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(idle_mutex);
      if (w.parked) {
        idle.erase(std::find(idle.begin(), idle.end(), &w));
        w.parked = false;
        parked.fetch_sub(1, std::memory_order_relaxed);
      } else {
        w.futex.store(0, std::memory_order_relaxed);  // a waker picked us meanwhile
      }
    }
    d->finish();
    driver_users.fetch_sub(1, std::memory_order_release);
    return true;
  }

  // poll_driver() — a running worker out of local work: takes what the idle driver has ready
  // now, into its own queues. False: no driver, or its token is taken.
  bool poll_driver() noexcept {
    driver_users.fetch_add(1, std::memory_order_seq_cst);
    detail::IdleDriver* d = driver.load(std::memory_order_seq_cst);
    if (!d || !d->try_begin(false)) {
      driver_users.fetch_sub(1, std::memory_order_release);
      return false;
    }
    d->wait(false);
    d->finish();
    driver_users.fetch_sub(1, std::memory_order_release);
    return true;
  }

  // set_driver(d) — ThreadPoolAccess::set_idle_driver.
  void set_driver(detail::IdleDriver* d) noexcept {
    detail::IdleDriver* old = driver.exchange(d, std::memory_order_seq_cst);
    DUET_ASSERT(!(old && d), "a pool has one idle driver at a time: remove the old one first");
    if (!old) return;
    while (driver_users.load(std::memory_order_seq_cst) != 0) {
      old->interrupt();
      std::this_thread::yield();
    }
  }

  // ---- the schedule shuffler (test builds; detail/schedule_shuffler.hpp) -----------------------

  // shuffled_post(w, c) — a worker's post while the shuffler is on: the slot (as usual), the
  // ring, or the global queue.
  void shuffled_post(Worker& w, Continuation& c) noexcept {
    switch (detail::shuffle::draw(4)) {
      case 0:
        push_ring(w, c);
        return;
      case 1:
        global.push_list(&c, &c, 1);
        notify_if_needed();
        return;
      default:
        post_local(w, c);
        return;
    }
  }

  // shuffled_pick(w) — a worker's pick while the shuffler is on: the global queue first, the
  // ring's oldest or newest item ahead of the slot, or (null) the usual order.
  Continuation* shuffled_pick(Worker& w) noexcept {
    switch (detail::shuffle::draw(4)) {
      case 0:
        return take_global(w);
      case 1:
        for (;;) {
          Continuation* c = nullptr;
          const Ring::Steal r = w.ring.steal(c);
          if (r == Ring::Steal::success) return c;
          if (r == Ring::Steal::empty) return nullptr;
        }
      case 2:
        return w.ring.pop();
      default:
        return nullptr;
    }
  }

  // ---- threads --------------------------------------------------------------------------------

  // spawn() — starts one more worker if below max_threads(). False: at the maximum, or the
  // thread could not be started.
  bool spawn() noexcept {
    std::lock_guard<std::mutex> lk(threads_mutex);
    if (live.load(std::memory_order_relaxed) >= max_threads.load(std::memory_order_relaxed)) {
      return false;
    }
    Worker* w = nullptr;
    const unsigned n = slot_count.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < n && !w; ++i) {
      Worker* s = slots[i].load(std::memory_order_relaxed);
      if (!s->in_use) w = s;
    }
    try {
      if (!w) {
        if (n >= k_thread_limit) return false;
        w = new Worker;
        w->pool = this;
        w->index = n;
        w->rng = 0x9E3779B9u * (n + 1);
        slots[n].store(w, std::memory_order_release);
        slot_count.store(n + 1, std::memory_order_release);
      }
      if (w->thread.joinable()) w->thread.join();  // retired: past its last touch of the pool
      DUET_ASSERT(w->ring.approx_size() == 0 && !w->lifo.load(), "a reused worker slot has work");
      w->in_use = true;
      w->searching = false;
      w->force_search = false;
      w->picks = 0;
      w->stale_top = -1;
      w->stale_since = std::chrono::nanoseconds{-1};
      w->futex.store(0, std::memory_order_relaxed);
      live.fetch_add(1, std::memory_order_relaxed);
      w->thread = std::thread([this, w] { run_worker(*w); });
    } catch (...) {
      if (w && w->in_use) {
        w->in_use = false;
        live.fetch_sub(1, std::memory_order_relaxed);
      }
      return false;
    }
    return true;
  }

  // ---- blocking compensation ------------------------------------------------------------------

  void on_block(Worker& w) noexcept {
    // Hand over what this worker holds, at the FRONT of the global queue, in the order it would
    // have run them (slot first, then the ring's newest): what a blocked item waits for is most
    // often what it posted last, and its replacement takes the front first. Appending instead
    // lets a growing tree of new work bury those items while blocked workers pile up (until
    // max_threads: a deadlock the stress test found).
    Continuation* first = nullptr;
    Continuation* last = nullptr;
    std::size_t n = 0;
    Continuation* c = w.lifo.load(std::memory_order_relaxed);
    if (c && w.lifo.compare_exchange_strong(c, nullptr, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      link(first, last, n, c);
    }
    for (Continuation* x = w.ring.pop(); x; x = w.ring.pop()) link(first, last, n, x);
    if (n > 0) global.push_front_list(first, last, n);
    blocked.fetch_add(1, std::memory_order_seq_cst);
    // A parked worker is no replacement: it was idle capacity already.
    if (unblocked() < min_threads.load(std::memory_order_relaxed)) (void)spawn();
    if (n > 0) notify_if_needed();
  }

  void on_unblock() noexcept { blocked.fetch_sub(1, std::memory_order_relaxed); }

  // ---- starvation monitor ---------------------------------------------------------------------

  // run_monitor(seen, since) — the monitor thread; `seen`/`since` hold one entry per worker slot.
  void run_monitor(std::vector<std::uint64_t>& seen,
                   std::vector<std::chrono::steady_clock::time_point>& since) noexcept {
    using clock = std::chrono::steady_clock;
    std::uint64_t total_seen = 0;
    clock::time_point progress = clock::now();
    std::unique_lock<std::mutex> lk(monitor_mutex);
    while (!monitor_stop) {
      monitor_cv.wait_for(lk, k_monitor_period);
      if (monitor_stop) break;
      const clock::time_point now = clock::now();
      std::uint64_t total = 0;
      const unsigned n = slot_count.load(std::memory_order_acquire);
      bool rescued = false;
      for (unsigned i = 0; i < n; ++i) {
        Worker* w = slots[i].load(std::memory_order_acquire);
        const std::uint64_t t = w->ticks.load(std::memory_order_relaxed);
        total += t;
        if (t != seen[i]) {
          seen[i] = t;
          since[i] = now;
        } else if (now - since[i] >= k_starvation) {
          // Stuck in one item: its slot item would wait for it. Move it where others look.
          Continuation* c = w->lifo.load(std::memory_order_relaxed);
          if (c && w->lifo.compare_exchange_strong(c, nullptr, std::memory_order_acquire,
                                                   std::memory_order_relaxed)) {
            global.push_list(c, c, 1);
            rescued = true;
          }
        }
      }
      if (rescued) notify_if_needed();
      if (total != total_seen || pending() == 0) {
        total_seen = total;
        progress = now;
        continue;
      }
      if (now - progress >= k_starvation) {
        if (!wake_one()) (void)spawn();
        progress = now;
      }
    }
  }

  std::size_t pending() const noexcept {
    std::size_t p = global.size.load(std::memory_order_relaxed);
    const unsigned n = slot_count.load(std::memory_order_acquire);
    for (unsigned i = 0; i < n; ++i) {
      Worker* w = slots[i].load(std::memory_order_acquire);
      p += w->ring.approx_size();
      if (w->lifo.load(std::memory_order_relaxed)) ++p;
    }
    return p;
  }

  // ordinal — this pool's creation order in the process: with the worker's index, its
  // schedule-shuffler stream (detail/schedule_shuffler.hpp).
  const unsigned ordinal = next_ordinal().fetch_add(1, std::memory_order_relaxed);
  static std::atomic<unsigned>& next_ordinal() noexcept {
    static std::atomic<unsigned> n{0};
    return n;
  }

  Global global;
  // slots — worker slots [0, slot_count); a slot, once published, lives as long as the pool.
  std::unique_ptr<std::atomic<Worker*>[]> slots;
  std::atomic<unsigned> slot_count{0};
  // live — worker threads alive (incremented by spawn before the thread starts).
  std::atomic<unsigned> live{0};
  // blocked — workers inside a BlockingRegion.
  std::atomic<unsigned> blocked{0};
  // searching — workers in search() as searchers (or woken as such).
  std::atomic<unsigned> searching{0};
  // parked — workers on the idle list.
  std::atomic<unsigned> parked{0};
  std::atomic<unsigned> min_threads{0};
  std::atomic<unsigned> max_threads{0};
  std::atomic<std::int64_t> idle_timeout_ns{
      std::chrono::nanoseconds(k_default_idle_timeout).count()};
  std::atomic<bool> stopping{false};
  // driver — the idle driver parked workers wait in (src/core/idle_driver.hpp), or null;
  // driver_users — workers using it (see drive()).
  std::atomic<detail::IdleDriver*> driver{nullptr};
  std::atomic<unsigned> driver_users{0};
  // idle — parked workers, most recent last. Guarded by idle_mutex.
  std::mutex idle_mutex;
  std::vector<Worker*> idle;
  std::mutex threads_mutex;
  std::thread monitor;
  std::mutex monitor_mutex;
  std::condition_variable monitor_cv;
  bool monitor_stop = false;  // guarded by monitor_mutex
};

namespace {
// The pools alive, by address: the internal hooks (src/core/idle_driver.hpp) find a pool's Impl
// here. Touched only when a pool is made or destroyed and when a hook is called.
std::mutex g_pools_mutex;
std::vector<std::pair<const ThreadPool*, ThreadPool::Impl*>>& pools() {
  static auto* const p = new std::vector<std::pair<const ThreadPool*, ThreadPool::Impl*>>();
  return *p;
}
ThreadPool::Impl& impl_of(const ThreadPool& pool) noexcept {
  std::lock_guard<std::mutex> lk(g_pools_mutex);
  for (auto& [p, impl] : pools()) {
    if (p == &pool) return *impl;
  }
  DUET_ASSERT(false, "an internal hook was called with a pool that does not exist");
  std::abort();
}
}  // namespace

ThreadPool::ThreadPool(unsigned workers) {
  if (workers == 0) workers = std::max(2u, std::thread::hardware_concurrency());
  workers = std::min(workers, k_thread_limit);
  impl_ = std::make_unique<Impl>(workers);
  {
    std::lock_guard<std::mutex> lk(g_pools_mutex);
    pools().emplace_back(this, impl_.get());
  }
  impl_->start(workers);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(g_pools_mutex);
    auto& ps = pools();
    ps.erase(std::find_if(ps.begin(), ps.end(), [this](const auto& e) { return e.first == this; }));
  }
  if (is_worker_thread()) [[unlikely]] {  // misuse: a worker cannot join itself (see errors.cpp)
    detail::report_pool_destroyed_from_worker();
    (void)impl_.release();  // abandoned: the workers keep running, nothing is freed under them
    return;
  }
  impl_->shut_down();
}

void ThreadPool::post(Continuation& c) noexcept { impl_->post(c); }

unsigned ThreadPool::thread_count() const noexcept {
  return impl_->live.load(std::memory_order_relaxed);
}

std::size_t ThreadPool::pending_work_item_count() const noexcept { return impl_->pending(); }

bool ThreadPool::set_min_threads(unsigned n) {
  if (n == 0 || n > impl_->max_threads.load(std::memory_order_relaxed)) return false;
  impl_->min_threads.store(n, std::memory_order_relaxed);
  while (impl_->live.load(std::memory_order_relaxed) < n) {
    if (!impl_->spawn()) break;
  }
  return true;
}

bool ThreadPool::set_max_threads(unsigned n) noexcept {
  if (n < impl_->min_threads.load(std::memory_order_relaxed) || n > k_thread_limit) return false;
  impl_->max_threads.store(n, std::memory_order_relaxed);
  return true;
}

unsigned ThreadPool::min_threads() const noexcept {
  return impl_->min_threads.load(std::memory_order_relaxed);
}

unsigned ThreadPool::max_threads() const noexcept {
  return impl_->max_threads.load(std::memory_order_relaxed);
}

void ThreadPool::set_idle_timeout(std::chrono::milliseconds d) noexcept {
  impl_->idle_timeout_ns.store(std::chrono::nanoseconds(d).count(), std::memory_order_relaxed);
}

bool ThreadPool::is_worker_thread() const noexcept {
  return tls_worker && tls_worker->pool == impl_.get();
}

namespace detail {
BlockingRegion::BlockingRegion() noexcept : worker_(tls_worker) {
  if (worker_) static_cast<Worker*>(worker_)->pool->on_block(*static_cast<Worker*>(worker_));
}

BlockingRegion::~BlockingRegion() {
  if (worker_) static_cast<Worker*>(worker_)->pool->on_unblock();
}
}  // namespace detail

ThreadPool& default_scheduler() {
  // Never destroyed: work may still be running when static destructors run at exit, and joining
  // a worker blocked on a task nobody will complete would hang the exit.
  static ThreadPool* const pool = new ThreadPool();
  return *pool;
}

void detail::ThreadPoolAccess::set_idle_driver(ThreadPool& pool, IdleDriver* d) noexcept {
  impl_of(pool).set_driver(d);
}

void detail::ThreadPoolAccess::wake_parked(ThreadPool& pool) noexcept {
  (void)impl_of(pool).wake_one();
}

bool is_thread_pool_thread() noexcept { return default_scheduler().is_worker_thread(); }

}  // namespace duet
