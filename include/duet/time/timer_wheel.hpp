// duet/time/timer_wheel.hpp — TimerWheel: a hierarchical timing wheel, TimerEntry, TimerWheelScope.
//
// Geometry
// --------
// Time is counted in ticks of 1 ms from the wheel's origin (its clock's time at construction). The wheel has k_levels = 5 levels of k_slots = 256 slots.
// A slot of level L spans 256^L ticks, so a level spans 256^(L+1) ticks:
//
//   level 0: 256 slots x 1 ms      = 256 ms         level 3: 256 slots x 4.66 h   = 49.7 days
//   level 1: 256 slots x 256 ms    = 65.5 s         level 4: 256 slots x 49.7 days = 34.8 years
//   level 2: 256 slots x 65.5 s    = 4.66 h
//
// delay() accepts up to k_max_delay = 2^36 - 1 ticks (about 2.18 years), well inside level 4. A
// timer due at tick `when` lives at the level given by the most significant 8-bit group in which
// `when` differs from `elapsed_` (the tick the wheel has processed up to):
// level = (63 - clz((elapsed_ ^ when) | 255)) / 8, and in slot (when >> 8*level) & 255 of it.
// Each level keeps a 256-bit occupancy bitmap (four words; bit s set <=> slot s is non-empty).
// Why 256 and not tokio's 64: a timer is touched once more each time it cascades (below), and at
// scale every touch is a cache miss. With 64-slot levels a 100 ms retry timer cascades once and a
// 30 s timeout twice; with 256-slot levels timers under 256 ms never cascade and timers under a
// minute at most once: by count, about half the cascades of the benchmark's workload
// (bench_timer.cpp) disappear. It costs 160 KiB of list heads per wheel (16 lanes, below), kept
// on the heap so a wheel fits on a fiber's stack.
//
// Entries and lists: what an operation touches
// --------------------------------------------
// Every slot holds k_lanes = 16 intrusive doubly-linked lists ("lanes") of TimerEntry nodes;
// link() deals entries round-robin over the lanes, and a 16-bit mask per slot (lanes_) says
// which lanes are non-empty. The links are the inherited Continuation::next (the node is in no
// other list while the wheel holds it) and pprev_, which points at whatever points at the entry
// (the lane head, or the previous entry's next), so a TimerEntry is 64 bytes: one cache line
// when aligned. Insert and cancel are O(1) pointer operations and allocate nothing: the entry is
// embedded in the object that waits (the delay's task state, the CancellationTokenSource). The
// lines each operation touches, beside the wheel's own hot fields, masks and list heads (which
// stay cached):
//   schedule   the entry, and the lane's old head (the entry linked there last: usually cached)
//              — or, while the thread ticks, the staged list's head ("The cached now");
//   cancel     the entry and its two list neighbours (independent stores: their misses
//              overlap). cancel() prefetches the entry before taking the lock, so its miss
//              overlaps the lock's atomic exchange, which waits for the stores still pending
//              from the previous operation (on x86 a locked instruction drains the store buffer:
//              at 1M pending timers those stores miss, and this wait is most of an operation);
//   expiry     every entry of the slot once. A lane is a chain of dependent loads, so a walk of
//              one list would wait for one miss per entry; poll() walks the slot's non-empty
//              lanes interleaved and prefetches each lane's next entry as soon as it is known
//              (the lane comes round again only after the other lanes' visits, beyond what the
//              out-of-order window reaches by itself), keeping up to sixteen misses in flight;
//   cascade    the same walk, plus the lower lane's head.
// Why 16 lanes: in the workload benchmark at 1M pending timers the expiry and cascade walks are
// a third of the time; 16 lanes with the prefetches (here and in cancel) cut the whole
// workload to 0.8x of what 4 lanes without them cost (docs/design.md, "TimerWheel"). More lanes would add heads (32 lanes: 320 KiB,
// more than the L2 share the hot levels can keep). A slot's heads are 128 bytes, but unlink()
// and expire_slot() read the slot's lane mask instead of scanning them.
// No operation touches any other entry, and none walks a list to insert.
//
// Finding the next deadline without ticking
// -----------------------------------------
// Every entry of level L is due before every entry of level L+1 (an entry at level L agrees with
// `elapsed_` on all groups above L, one at L+1 does not). So the next expiry is in the lowest
// non-empty level, in its first occupied slot at or after elapsed_'s slot: a masked scan of at
// most five bitmap words and one count-trailing-zeros. The slot's start is the deadline the wheel
// reports (next_deadline()) and the timer thread sleeps until; an idle wheel never wakes up.
//
// Cascading
// ---------
// poll() processes, in order, every slot whose start is <= now: it detaches the whole slot, sets
// elapsed_ to the slot's start, and for each entry either fires it (when <= elapsed_) or
// re-inserts it, which — because the entry now agrees with elapsed_ on one more group — puts it
// on a strictly lower level. An entry therefore moves down at most 4 times in its life (at most
// once below a minute), and the amortised cost of a timer stays O(1). Cascading is lazy: an
// entry moves only when its slot comes due, so a timer canceled before that is never cascaded.
// Deadlines too far for the wheel are clamped to level 4 and simply re-inserted each time their
// slot comes round (delay() rejects durations beyond k_max_delay up front, so this only happens
// when elapsed_ lags far behind).
//
// Who runs what
// -------------
// The wheel never runs user code. Firing an entry means posting its Continuation (TimerEntry
// derives from Continuation) to the wheel's Scheduler (default: the thread pool); the posted node
// does whatever its owner wants (complete the delay's task, cancel the token source). With a real
// clock one timer thread per wheel sleeps until the next deadline and polls; with a ManualClock
// the thread does not exist and ManualClock::advance() polls on the caller's thread.
//
// Locking
// -------
// One spin lock (lock_) guards the slots, bitmaps, elapsed_ and every entry's link fields. Each
// operation takes it exactly once: schedule(), cancel() and reschedule() for O(1) pointer work,
// poll() once for a whole batch of expiries and cascades. It is never held while posting to the
// scheduler: poll() gathers the fired entries into a private list under the lock and posts them
// after releasing it. (An uncontended acquire/release is one atomic exchange and one store; it
// is most of the cost of schedule + cancel. A timer thread owning the wheel, fed by an MPSC
// queue, would save it on the caller's side but would make cancel() asynchronous — it could no
// longer say whether it won against the expiry, which delay() and CancellationTokenSource rely
// on (case 2 below) — so the wheel stays a locked structure.)
//
// The cached now
// --------------
// On a real-time clock, schedule() does not read the clock while the wheel is busy. A schedule
// that finds the wheel idle reads it (as before) and asks the timer thread to *tick*: the thread
// then wakes at every tick boundary, reads the clock once, and publishes that reading
// (cached_ns_, under the lock). Each following schedule() computes its deadline from the cached
// reading — no clock read, no wake-up — and pushes the entry onto a staged list (staged_, linked
// with the same next/pprev_ fields, so cancel() unlinks a staged entry like any other). At its
// next tick the thread drains the staged list before publishing a new reading: every staged entry
// was armed at some instant between the cached reading and now, so the thread adds the reading's
// age (now - cached_ns_, rounded up to ticks) to its deadline before filing it into its slot. A
// timer is therefore never early, even when the thread itself ran late, and at most one tick
// later than an exact reading would make it (plus that lateness). The thread stops ticking after
// a whole tick in which no schedule used the cache; the next schedule reads the clock again.
// Costs: while busy, one wake-up per millisecond for the thread, and one more touch of each
// staged entry (by the thread, not the caller); a timer armed and canceled within one tick never
// reaches a slot. next_deadline() does not see staged entries (they exist only while the thread
// ticks). A self-driving clock (ManualClock) is exact and cheap to read: its wheels never stage.
//
// Races between cancel and expiry, and how each is resolved
// ---------------------------------------------------------
// An entry is *linked* (in a slot: pprev_ != null) or *unlinked*; only the lock holder changes
// that. cancel() returns true iff it unlinked the entry itself, so exactly one of {cancel,
// expiry} wins:
//  1. cancel() before poll() reached the slot: cancel unlinks it, returns true; the entry never
//     fires. The owner may reuse or destroy the entry at once.
//  2. poll() took the slot first: the entry is unlinked (it sits in poll's private fired list, or
//     has already been posted, or has already run). cancel() returns false. The rule for owners:
//     *an entry for which cancel() returned false will have its Continuation run exactly once*;
//     the owner must keep the entry alive until then and must not schedule it again before it
//     runs. (delay(): the token callback completes the task as canceled first, so the expiry
//     that still arrives finds the task completed and only drops its reference.)
//  3. cancel() while poll() is cascading the entry to a lower level: impossible to observe —
//     cascading happens entirely under the lock; cancel sees it linked before or after.
//  4. schedule() with a deadline that has already passed: the entry is never linked; it is
//     posted at once (case 2 applies: cancel() returns false).
//  5. schedule() of an entry that is still linked: a caller bug; schedule() throws
//     InvalidOperationError instead of corrupting the lists.
//  6. The wheel is destroyed with entries still linked: they are unlinked, marked abandoned()
//     and posted, so every waiter is told (delay() ends canceled) rather than hanging forever.
//     Precondition: no thread calls cancel()/schedule() on the wheel during or after destruction.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <memory>
#include <optional>
#include <thread>

#include "duet/core/continuation.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/detail/spin_lock.hpp"
#include "duet/time/clock.hpp"

namespace duet {

// k_infinite_timeout — "no timeout" for delay(), wait_async(), CancellationTokenSource(d) and
// cancel_after() (.NET's Timeout.InfiniteTimeSpan, -1 ms).
inline constexpr std::chrono::milliseconds k_infinite_timeout{-1};

class TimerWheel;

// TimerEntry — one timer, embedded in its owner. The owner sets the inherited Continuation's
// `invoke` before scheduling; the wheel posts the entry (as a Continuation) to its scheduler when
// the deadline passes. Link fields are owned by the wheel and guarded by its lock.
// Thread-safety: see TimerWheel::schedule/cancel; abandoned() is meaningful inside `invoke`.
class TimerEntry : public Continuation {
 public:
  TimerEntry() noexcept = default;
  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

  // abandoned() — true when the entry was posted because its wheel was destroyed, not because
  // its deadline passed. Read it from `invoke`.
  bool abandoned() const noexcept { return (when_ & k_abandoned_bit) != 0; }
  // deadline_tick() — the tick (ms since the wheel's origin) the entry is due at; valid after
  // schedule().
  std::uint64_t deadline_tick() const noexcept { return when_ & ~k_abandoned_bit; }

 private:
  friend class TimerWheel;
  static constexpr std::uint64_t k_abandoned_bit = std::uint64_t{1} << 63;
  // While the entry is linked, the inherited Continuation::next is the next entry of its slot
  // lane and pprev_ points at whatever points here (the lane head in the wheel, or the previous
  // entry's `next`); unlinked <=> pprev_ == nullptr. Guarded by the wheel lock.
  Continuation** pprev_ = nullptr;
  std::uint64_t when_ = 0;  // deadline tick; bit 63 = abandoned
};

// TimerWheel — see the essay above.
// Thread-safety: schedule(), cancel(), next_deadline(), pending() and poll() may be called from
// any thread. Destroy a wheel only when no thread can still schedule or cancel on it.
class TimerWheel {
 public:
  static constexpr int k_slot_bits = 8;
  static constexpr int k_slots = 1 << k_slot_bits;
  static constexpr int k_levels = 5;
  // k_tick — the wheel's resolution.
  static constexpr std::chrono::milliseconds k_tick{1};
  // k_max_delay — the longest delay the wheel accepts (2^36 - 1 ticks, about 2.18 years).
  static constexpr std::chrono::milliseconds k_max_delay{(std::int64_t{1} << 36) - 1};

  // TimerWheel(clock, scheduler) — a wheel reading `clock` and posting expiries to `scheduler`.
  // Both must outlive the wheel. A real-time clock gets a timer thread, started lazily on the
  // first schedule(); a self-driving clock (ManualClock) polls the wheel itself.
  explicit TimerWheel(Clock& clock = steady_clock_instance(),
                      Scheduler& scheduler = default_scheduler());
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;
  // ~TimerWheel — stops the timer thread, abandons pending entries (essay, case 6).
  ~TimerWheel();

  // schedule(entry, due) — arms `entry` to fire `due` (>= 0) from now, rounded up to the next
  // tick so it never fires early. O(1), no allocation. Throws InvalidOperationError when `entry`
  // is still linked, ArgumentError when due is negative or beyond k_max_delay.
  void schedule(TimerEntry& entry, std::chrono::nanoseconds due);

  // cancel(entry) — unlinks `entry` if it is still waiting; true iff this call unlinked it (then
  // it never fires). False: it already fired, is firing, or was never scheduled — see the essay,
  // case 2. O(1), no allocation, noexcept.
  bool cancel(TimerEntry& entry) noexcept;

  // reschedule(entry, due) — moves a still-linked entry to fire `due` from now, under one lock
  // acquisition (.NET's Timer.Change, tokio's reset). Returns false, changing nothing, when the
  // entry is not linked (it fired, is firing, or was never scheduled: essay case 2 — schedule()
  // it again once its expiry has run). Same argument checks as schedule(). O(1), no allocation.
  bool reschedule(TimerEntry& entry, std::chrono::nanoseconds due);

  // poll() — fires every entry due at clock().now(). Called by the timer thread or the
  // self-driving clock; callable by hand too. Posts outside the lock.
  void poll() noexcept;

  // next_deadline() — the clock time of the earliest slot that holds a timer, or nullopt when
  // none is pending. O(levels).
  std::optional<Clock::duration> next_deadline() const noexcept;

  // uses_cached_now() — whether schedule() currently arms timers from the timer thread's cached
  // reading instead of reading the clock (essay: "The cached now"). Diagnostic.
  bool uses_cached_now() const noexcept {
    lock();
    const bool t = ticking_;
    unlock();
    return t;
  }

  // pending() — number of linked entries.
  std::size_t pending() const noexcept { return pending_.load(std::memory_order_relaxed); }

  Clock& clock() const noexcept { return clock_; }
  Scheduler& scheduler() const noexcept { return scheduler_; }

  // default_wheel() — the process-wide wheel: SteadyClock, default_scheduler(). Never destroyed.
  static TimerWheel& default_wheel();
  // current() — the wheel delay() and cancel_after() use: the innermost TimerWheelScope's wheel,
  // else default_wheel(). Process-wide (not per thread: continuations of one test run on pool
  // threads and must see the same wheel).
  static TimerWheel& current();

 private:
  friend class TimerWheelScope;
  struct Expiration {
    int level;
    int slot;
    std::uint64_t deadline;
  };

  void lock() const noexcept { lock_.lock(); }
  void unlock() const noexcept { lock_.unlock(); }
  // k_lanes — independent lists per slot. link() deals entries round-robin over a slot's lanes,
  // and poll() walks the lanes interleaved with a prefetch, so up to k_lanes cache misses are in
  // flight at once while a large slot is cascaded or expired (one list is a serial chain of
  // misses).
  static constexpr int k_lanes = 16;
  static constexpr std::size_t k_heads = std::size_t{k_levels} * k_slots * k_lanes;
  static constexpr int k_words = k_slots / 64;  // occupancy words per level

  void link(TimerEntry& e) noexcept;     // lock held; e.when_ > elapsed_; pending_ not updated
  void unlink(TimerEntry& e) noexcept;   // lock held; e linked; pending_ not updated
  std::optional<Expiration> next_expiration() const noexcept;  // lock held
  // expire_slot(exp, fired_tail) — lock held: empties the slot, appends its due entries to the
  // fired list and cascades the others; returns the new tail and the number of entries fired.
  Continuation** expire_slot(const Expiration& exp, Continuation** fired_tail,
                             std::size_t& fired) noexcept;
  // append_fired(e, fired_tail, fired) — e is due: unlinked, it goes on the fired list.
  static Continuation** append_fired(TimerEntry& e, Continuation** fired_tail, std::size_t& fired) noexcept;
  static void check_due(std::chrono::nanoseconds due);               // throws ArgumentError
  std::uint64_t deadline_tick(std::chrono::nanoseconds due) const;  // validates `due`
  [[noreturn]] static void throw_already_scheduled();
  // stage(e, due) — lock held, ticking_: pushes `e` on the staged list, its deadline computed
  // from the cached reading (essay: "The cached now").
  void stage(TimerEntry& e, std::chrono::nanoseconds due) noexcept;
  // drain_staged(now_ns, fired_tail, fired) — lock held: moves every staged entry into the wheel
  // (or onto the fired list), its deadline shifted by the cached reading's age at now_ns.
  Continuation** drain_staged(std::int64_t now_ns, Continuation** fired_tail,
                              std::size_t& fired) noexcept;
  // poll_at(now, from_thread) — poll() at `now`, a clock reading minus origin_ (every reading the
  // wheel keeps, cached_ns_ included, counts from its origin); the timer thread also publishes
  // `now` as the cached reading and decides whether to keep ticking.
  void poll_at(Clock::duration now, bool from_thread) noexcept;
  void post_list(Continuation* list) noexcept;
  void wake_thread();
  void ensure_thread();
  void thread_main();

  // Hot fields first, together: every schedule/cancel reads or writes them under the lock.
  Clock& clock_;
  Scheduler& scheduler_;
  // origin_ — the clock time tick 0 starts at: the wheel's construction. Ticks are counted from
  // there, so a delay armed on a wheel whose clock started off a tick boundary (a ManualClock
  // at 0.5 ms) still fires exactly `due` later, not at the clock's next whole millisecond.
  const Clock::duration origin_;
  bool self_driven_ = false;
  mutable detail::SpinLock lock_;
  unsigned lane_ = 0;                                           // guarded by lock_: next lane
  std::uint64_t elapsed_ = 0;                                   // guarded by lock_
  std::atomic<std::size_t> pending_{0};                         // written under lock_
  std::uint64_t sleep_until_ = UINT64_MAX;  // guarded by lock_: tick the thread sleeps until
  // The cached now (essay): all guarded by lock_, written by the timer thread once per tick.
  bool ticking_ = false;                     // the thread wakes every tick; cached_ns_ is fresh
  bool tick_requested_ = false;              // a schedule read the clock: start ticking
  std::int64_t cached_ns_ = 0;               // the thread's reading at its last tick, from origin_
  std::uint64_t cached_tick_ = 0;            // the tick at which ticking_ was last decided
  std::size_t staged_since_tick_ = 0;        // schedules that used cached_ns_ since that tick
  Continuation* staged_ = nullptr;           // entries armed from cached_ns_, not yet in a slot
  std::array<std::uint64_t, k_levels * k_words> occupied_{};    // guarded by lock_
  // lanes_ — per slot, bit l set <=> lane l is non-empty (guarded by lock_): unlink() learns
  // whether a slot emptied, and expire_slot() which lanes to detach, without reading the heads.
  using LaneMask = std::uint16_t;
  static_assert(k_lanes <= 16, "a LaneMask holds one bit per lane");
  std::array<LaneMask, std::size_t{k_levels} * k_slots> lanes_{};
  // heads_ — the k_heads lane heads (a slot's k_lanes heads are one 128-byte block, aligned to
  // its cache lines), guarded by lock_. On the heap: 160 KiB would not fit a fiber's stack.
  struct HeadsDeleter {
    void operator()(Continuation** p) const noexcept;
  };
  std::unique_ptr<Continuation*[], HeadsDeleter> heads_;

  std::mutex thread_mutex_;
  std::condition_variable thread_cv_;
  bool wake_ = false;                       // guarded by thread_mutex_
  bool stopping_ = false;                   // guarded by thread_mutex_
  std::once_flag thread_once_;
  std::thread thread_;
};

// TimerWheelScope — makes `wheel` the process-wide TimerWheel::current() for its lifetime and
// restores the previous one after. Scopes nest (LIFO). Used by tests and samples to run delay()
// and cancel_after() on a ManualClock. Not meant to be swapped while other threads call delay().
class TimerWheelScope {
 public:
  explicit TimerWheelScope(TimerWheel& wheel) noexcept;
  TimerWheelScope(const TimerWheelScope&) = delete;
  TimerWheelScope& operator=(const TimerWheelScope&) = delete;
  ~TimerWheelScope();

 private:
  TimerWheel* previous_;
};

}  // namespace duet
