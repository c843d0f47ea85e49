// timer_wheel.cpp — the hierarchical timing wheel (see the essay in timer_wheel.hpp), its timer
// thread, and the clocks.
#include "duet/time/timer_wheel.hpp"

#include <algorithm>
#include <bit>
#include <new>
#include <string>
#include <utility>

#include "duet/core/errors.hpp"
#include "duet/detail/assert.hpp"
#include "duet/diag/trace.hpp"

namespace duet {

namespace {

constexpr std::uint64_t k_tick_ns =
    static_cast<std::uint64_t>(std::chrono::nanoseconds(TimerWheel::k_tick).count());

constexpr std::uint64_t slot_range(int level) noexcept {
  return std::uint64_t{1} << (TimerWheel::k_slot_bits * level);
}
constexpr std::uint64_t level_range(int level) noexcept {
  return std::uint64_t{1} << (TimerWheel::k_slot_bits * (level + 1));
}

// level_for(elapsed, when) — the level whose group is the most significant one in which the two
// ticks differ; clamped to the top level (essay: "Cascading").
int level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
  constexpr int k_top_bit = TimerWheel::k_levels * TimerWheel::k_slot_bits - 1;
  const std::uint64_t masked = (elapsed ^ when) | (TimerWheel::k_slots - 1);
  const int significant = std::min(63 - std::countl_zero(masked), k_top_bit);
  return significant / TimerWheel::k_slot_bits;
}

// bit(i) — the occupancy bit of slot index i (level * k_slots + slot) within its word.
constexpr std::uint64_t bit(std::size_t i) noexcept { return std::uint64_t{1} << (i % 64); }

std::uint64_t to_tick_floor(Clock::duration t) noexcept {
  return t.count() <= 0 ? 0 : static_cast<std::uint64_t>(t.count()) / k_tick_ns;
}

std::atomic<TimerWheel*> g_current{nullptr};

constexpr std::align_val_t k_heads_alignment{64};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Clocks

SteadyClock& steady_clock_instance() noexcept {
  static SteadyClock clock;
  return clock;
}

ManualClock::~ManualClock() {
  DUET_ASSERT(wheels_.empty(), "a ManualClock destroyed while a TimerWheel still uses it");
}

std::chrono::steady_clock::time_point ManualClock::to_steady(duration) const noexcept {
  // Never used: a ManualClock drives its wheels (attach() returns true), no thread sleeps on it.
  return std::chrono::steady_clock::time_point::max();
}

void ManualClock::advance(duration d) {
  if (d < duration::zero()) {
    throw ArgumentError("ManualClock::advance: time cannot move backwards (d = " +
                        std::to_string(d.count()) + " ns); pass a duration >= 0");
  }
  std::lock_guard<std::recursive_mutex> lk(mutex_);
  if (polling_) {
    throw InvalidOperationError(
        "ManualClock::advance was called from inside a TimerWheel poll (a Scheduler::post the "
        "wheel runs): time cannot move while expiries are being handed out; advance the clock "
        "from the driving thread instead");
  }
  now_.fetch_add(d.count(), std::memory_order_acq_rel);
  polling_ = true;
  for (TimerWheel* w : wheels_) w->poll();
  polling_ = false;
}

void ManualClock::advance_to(duration t) {
  const duration now = this->now();
  if (t < now) {
    throw ArgumentError("ManualClock::advance_to: the target time is in the past; a clock never "
                        "goes backwards");
  }
  advance(t - now);
}

bool ManualClock::attach(TimerWheel& wheel) {
  std::lock_guard<std::recursive_mutex> lk(mutex_);
  wheels_.push_back(&wheel);
  return true;
}

void ManualClock::detach(TimerWheel& wheel) noexcept {
  std::lock_guard<std::recursive_mutex> lk(mutex_);
  std::erase(wheels_, &wheel);
}

// ---------------------------------------------------------------------------------------------
// TimerWheel

void TimerWheel::HeadsDeleter::operator()(Continuation** p) const noexcept {
  ::operator delete(p, k_heads_alignment);
}

TimerWheel::TimerWheel(Clock& clock, Scheduler& scheduler)
    : clock_(clock),
      scheduler_(scheduler),
      origin_(clock.now()),
      heads_(static_cast<Continuation**>(
          ::operator new(k_heads * sizeof(Continuation*), k_heads_alignment))) {
  std::fill_n(heads_.get(), k_heads, nullptr);
  elapsed_ = 0;
  self_driven_ = clock_.attach(*this);
}

TimerWheel::~TimerWheel() {
  if (self_driven_) clock_.detach(*this);
  {
    std::lock_guard<std::mutex> lk(thread_mutex_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();

  // Abandon what is left (essay, case 6).
  Continuation* list = nullptr;
  lock();
  auto abandon_all = [&list](Continuation*& head) {
    while (Continuation* c = head) {
      auto* e = static_cast<TimerEntry*>(c);
      head = c->next;
      e->pprev_ = nullptr;
      e->when_ |= TimerEntry::k_abandoned_bit;
      c->next = list;
      list = c;
    }
  };
  abandon_all(staged_);
  for (std::size_t i = 0; i < k_heads; ++i) abandon_all(heads_[i]);
  occupied_ = {};
  lanes_ = {};
  pending_.store(0, std::memory_order_relaxed);
  unlock();
  post_list(list);
}

[[gnu::always_inline]] inline void TimerWheel::link(TimerEntry& e) noexcept {
  const int level = level_for(elapsed_, e.when_);
  const auto slot = static_cast<unsigned>((e.when_ >> (k_slot_bits * level)) & (k_slots - 1));
  const std::size_t slot_index = static_cast<std::size_t>(level) * k_slots + slot;
  const unsigned lane = lane_++ & (k_lanes - 1);
  Continuation*& head = heads_[slot_index * k_lanes + lane];
  // Push at the lane's head: touches only the entry and the old head (usually still cached — it
  // is the entry linked into this lane last).
  e.next = head;
  if (head) static_cast<TimerEntry*>(head)->pprev_ = &e.next;
  e.pprev_ = &head;
  head = &e;
  lanes_[slot_index] = static_cast<LaneMask>(lanes_[slot_index] | (1u << lane));
  occupied_[slot_index / 64] |= bit(slot_index);
}

[[gnu::always_inline]] inline void TimerWheel::unlink(TimerEntry& e) noexcept {
  DUET_ASSERT(e.pprev_ != nullptr, "unlinking a timer entry that is not linked");
  Continuation** const pprev = e.pprev_;
  Continuation* const next = e.next;
  *pprev = next;
  if (next) {
    static_cast<TimerEntry*>(next)->pprev_ = pprev;
  } else {
    // The entry was last in its lane. If pprev_ is a lane head the lane is now empty (its bit in
    // the slot's lane mask goes), and the slot is empty when all its lanes are.
    const auto addr = reinterpret_cast<std::uintptr_t>(pprev);
    const auto first = reinterpret_cast<std::uintptr_t>(heads_.get());
    const std::size_t offset = (addr - first) / sizeof(Continuation*);
    if (addr >= first && offset < k_heads) {
      const std::size_t slot_index = offset / k_lanes;
      const auto mask = static_cast<LaneMask>(lanes_[slot_index] & ~(1u << (offset % k_lanes)));
      lanes_[slot_index] = mask;
      if (mask == 0) occupied_[slot_index / 64] &= ~bit(slot_index);
    }
  }
  e.pprev_ = nullptr;
  e.next = nullptr;
}

std::optional<TimerWheel::Expiration> TimerWheel::next_expiration() const noexcept {
  for (int level = 0; level < k_levels; ++level) {
    const std::uint64_t* words = occupied_.data() + static_cast<std::size_t>(level) * k_words;
    const std::uint64_t srange = slot_range(level);
    const std::uint64_t lrange = level_range(level);
    const int now_slot = static_cast<int>((elapsed_ / srange) & (k_slots - 1));
    // The first occupied slot at or after now_slot, circularly: the rest of now_slot's word,
    // then the following words, then now_slot's word again from its start (wrapped around).
    int w = now_slot / 64;
    std::uint64_t bits = words[w] & (~std::uint64_t{0} << (now_slot % 64));
    for (int i = 0; i < k_words && !bits; ++i) {
      w = (w + 1) % k_words;
      bits = words[w];
    }
    if (!bits) continue;
    const int slot = w * 64 + std::countr_zero(bits);
    const std::uint64_t level_start = elapsed_ & ~(lrange - 1);
    std::uint64_t deadline = level_start + static_cast<std::uint64_t>(slot) * srange;
    if (deadline <= elapsed_ && level > 0) deadline += lrange;  // slot of the next rotation
    if (level == 0 && deadline < elapsed_) deadline += lrange;
    return Expiration{level, slot, deadline};
  }
  return std::nullopt;
}

void TimerWheel::check_due(std::chrono::nanoseconds due) {
  if (due < std::chrono::nanoseconds::zero() || due > k_max_delay) [[unlikely]] {
    throw ArgumentError(
        "TimerWheel::schedule: the due time must be between 0 and TimerWheel::k_max_delay "
        "(about 2.18 years); got " + std::to_string(due.count()) + " ns");
  }
}

std::uint64_t TimerWheel::deadline_tick(std::chrono::nanoseconds due) const {
  check_due(due);
  const auto deadline_ns =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, (clock_.now() - origin_ + due).count()));
  return (deadline_ns + k_tick_ns - 1) / k_tick_ns;  // round up: never early
}

[[gnu::always_inline]] inline void TimerWheel::stage(TimerEntry& e, std::chrono::nanoseconds due) noexcept {
  // Relative to the thread's cached reading, rounded up; drain_staged() adds the cache's age.
  const auto deadline_ns = static_cast<std::uint64_t>(cached_ns_ + due.count());
  e.when_ = (deadline_ns + k_tick_ns - 1) / k_tick_ns;  // also clears the abandoned bit
  e.next = staged_;
  if (staged_) static_cast<TimerEntry*>(staged_)->pprev_ = &e.next;
  e.pprev_ = &staged_;
  staged_ = &e;
  ++staged_since_tick_;
}

void TimerWheel::throw_already_scheduled() {
  throw InvalidOperationError(
      "TimerWheel::schedule: this TimerEntry is already scheduled; cancel() it first (an entry "
      "whose cancel() returned false must not be scheduled again until its expiry has run)");
}

void TimerWheel::schedule(TimerEntry& entry, std::chrono::nanoseconds due) {
  if (!self_driven_) {  // a self-driving clock is exact and cheap: it never stages
    check_due(due);
    lock();
    if (entry.pprev_ != nullptr) [[unlikely]] {
      unlock();
      throw_already_scheduled();
    }
    if (ticking_) {  // the fast path: no clock read, no wake-up (essay: "The cached now")
      stage(entry, due);
      pending_.store(pending_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      unlock();
      return;
    }
    unlock();
  }
  const std::uint64_t when = deadline_tick(due);
  bool wake = false;
  lock();
  if (entry.pprev_ != nullptr) [[unlikely]] {
    unlock();
    throw_already_scheduled();
  }
  if (!self_driven_ && !tick_requested_) {
    // A real-time wheel that is not ticking: ask the thread to start, so the schedules that
    // follow this one use its cached reading instead of the clock.
    tick_requested_ = true;
    wake = true;
  }
  entry.when_ = when;  // also clears the abandoned bit
  const std::size_t pending = pending_.load(std::memory_order_relaxed);
  if (pending == 0) {
    // Nothing pending: elapsed_ may be stale after an idle spell; catching up is safe (when was
    // rounded up from a later reading of the clock, so it stays >= the new elapsed_).
    const std::uint64_t now_tick = to_tick_floor(clock_.now() - origin_);
    if (now_tick > elapsed_ && now_tick <= when) elapsed_ = now_tick;
  }
  if (when <= elapsed_) [[unlikely]] {
    unlock();
    entry.next = nullptr;
    scheduler_.post(entry);
    if (wake) wake_thread();
    return;
  }
  link(entry);
  pending_.store(pending + 1, std::memory_order_relaxed);
  if (!self_driven_ && when < sleep_until_) {
    sleep_until_ = when;
    wake = true;
  }
  unlock();
  if (wake) wake_thread();
}

void TimerWheel::wake_thread() {
  ensure_thread();
  {
    std::lock_guard<std::mutex> lk(thread_mutex_);
    wake_ = true;
  }
  thread_cv_.notify_one();
}

bool TimerWheel::reschedule(TimerEntry& entry, std::chrono::nanoseconds due) {
  if (!self_driven_) {
    check_due(due);
    lock();
    if (entry.pprev_ == nullptr) {
      unlock();
      return false;
    }
    if (ticking_) {
      unlink(entry);
      stage(entry, due);
      unlock();
      return true;
    }
    unlock();
  }
  const std::uint64_t when = deadline_tick(due);
  bool wake = false;
  lock();
  if (entry.pprev_ == nullptr) {
    unlock();
    return false;
  }
  unlink(entry);
  entry.when_ = when <= elapsed_ ? elapsed_ + 1 : when;  // due already: fire at the next poll
  link(entry);
  if (!self_driven_ && entry.when_ < sleep_until_) {
    sleep_until_ = entry.when_;
    wake = true;
  }
  unlock();
  if (wake) wake_thread();
  return true;
}

bool TimerWheel::cancel(TimerEntry& entry) noexcept {
  // Start the entry's miss before the lock's exchange, which first waits for the previous
  // operation's pending stores: the two latencies overlap (essay, "Entries and lists").
  __builtin_prefetch(&entry, 1);
  lock();
  const bool linked = entry.pprev_ != nullptr;
  if (linked) {
    unlink(entry);
    pending_.store(pending_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  unlock();
  return linked;
}

[[gnu::always_inline]] inline Continuation** TimerWheel::append_fired(TimerEntry& e, Continuation** fired_tail, std::size_t& fired) noexcept {
  e.pprev_ = nullptr;
  e.next = nullptr;
  *fired_tail = &e;
  ++fired;
  return &e.next;
}

Continuation** TimerWheel::expire_slot(const Expiration& exp, Continuation** fired_tail,
                                       std::size_t& fired) noexcept {
  // Detach every lane of the slot, then walk the lanes interleaved: the loads of the k_lanes
  // current entries do not depend on each other, so their cache misses overlap.
  const std::size_t base = (static_cast<std::size_t>(exp.level) * k_slots +
                            static_cast<std::size_t>(exp.slot)) * k_lanes;
  const std::size_t slot_index = static_cast<std::size_t>(exp.level) * k_slots +
                                 static_cast<std::size_t>(exp.slot);
  std::array<Continuation*, k_lanes> cursor;
  std::size_t active = 0;
  for (unsigned mask = std::exchange(lanes_[slot_index], LaneMask{0}); mask != 0;
       mask &= mask - 1) {  // the non-empty lanes only: sparse slots are the common case
    Continuation* const head = std::exchange(heads_[base + std::countr_zero(mask)], nullptr);
    __builtin_prefetch(head);
    cursor[active++] = head;
  }
  occupied_[slot_index / 64] &= ~bit(slot_index);
  if (exp.deadline > elapsed_) elapsed_ = exp.deadline;

  // visit(c) — fire or cascade one entry; its `next` has been read already.
  auto visit = [&](Continuation* c) noexcept {
    auto* e = static_cast<TimerEntry*>(c);
    if (e->when_ <= elapsed_) {
      fired_tail = append_fired(*e, fired_tail, fired);
    } else {
      DUET_ASSERT(level_for(elapsed_, e->when_) < exp.level || exp.level == k_levels - 1,
                  "cascading did not move a timer to a lower level");
      link(*e);
    }
  };
  while (active > 1) {
    for (std::size_t i = 0; i < active;) {
      Continuation* const c = cursor[i];
      if (Continuation* const next = c->next) {
        // Start next's miss now: the lane comes round again only after the other lanes' visits,
        // further than the out-of-order window reaches on its own.
        __builtin_prefetch(next);
        cursor[i++] = next;
      } else {
        cursor[i] = cursor[--active];  // lane done; its place now holds an unvisited cursor
      }
      visit(c);
    }
  }
  if (active == 1) {  // one lane left (or a slot with a single lane): a plain walk
    for (Continuation* c = cursor[0]; c;) {
      Continuation* const next = c->next;
      visit(c);
      c = next;
    }
  }
  return fired_tail;
}

void TimerWheel::poll() noexcept { poll_at(clock_.now() - origin_, false); }

Continuation** TimerWheel::drain_staged(std::int64_t now_ns, Continuation** fired_tail,
                                        std::size_t& fired) noexcept {
  // Every staged entry's deadline was computed from cached_ns_ (it cannot change while entries
  // are staged: the thread publishes a new reading only here, right after draining). The entry
  // was scheduled at some instant in [cached_ns_, now_ns]; adding the cache's age, rounded up to
  // whole ticks, makes the deadline at least `due` after that instant: never early, at most one
  // tick (plus the thread's own lateness) late.
  const std::int64_t age = std::max<std::int64_t>(0, now_ns - cached_ns_);
  const std::uint64_t shift = (static_cast<std::uint64_t>(age) + k_tick_ns - 1) / k_tick_ns;
  while (Continuation* c = staged_) {
    auto* e = static_cast<TimerEntry*>(c);
    staged_ = c->next;
    e->when_ += shift;
    if (e->when_ <= elapsed_) {
      fired_tail = append_fired(*e, fired_tail, fired);
    } else {
      link(*e);
    }
  }
  return fired_tail;
}

void TimerWheel::poll_at(Clock::duration now_time, bool from_thread) noexcept {
  const std::uint64_t now = to_tick_floor(now_time);
  Continuation* fired_list = nullptr;
  Continuation** tail = &fired_list;
  std::size_t fired = 0;
  lock();
  if (staged_) tail = drain_staged(now_time.count(), tail, fired);
  if (from_thread && !self_driven_) {
    // Publish this reading (every staged entry was just drained: none refers to the old one).
    // Start ticking when a schedule asked; stop once a whole tick passed in which no schedule
    // used the cached reading. A wake-up within the same tick decides nothing.
    cached_ns_ = now_time.count();
    if (tick_requested_) {
      ticking_ = true;
      tick_requested_ = false;
      staged_since_tick_ = 0;
      cached_tick_ = now;
    } else if (now > cached_tick_) {
      ticking_ = staged_since_tick_ != 0;
      staged_since_tick_ = 0;
      cached_tick_ = now;
    }
  }
  while (auto exp = next_expiration()) {
    if (exp->deadline > now) break;
    tail = expire_slot(*exp, tail, fired);
  }
  if (now > elapsed_) elapsed_ = now;
  if (fired) {
    pending_.store(pending_.load(std::memory_order_relaxed) - fired, std::memory_order_relaxed);
  }
  unlock();
  post_list(fired_list);
}

void TimerWheel::post_list(Continuation* list) noexcept {
  while (list) {
    Continuation* c = list;
    list = c->next;
    c->next = nullptr;
    DUET_TRACE(record('i', "timer fire", c));
    scheduler_.post(*c);  // after this the entry belongs to its owner again
  }
}

std::optional<Clock::duration> TimerWheel::next_deadline() const noexcept {
  lock();
  auto exp = next_expiration();
  unlock();
  if (!exp) return std::nullopt;
  return origin_ + std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(static_cast<std::int64_t>(exp->deadline * k_tick_ns)));
}

void TimerWheel::ensure_thread() {
  std::call_once(thread_once_, [this] { thread_ = std::thread([this] { thread_main(); }); });
}

void TimerWheel::thread_main() {
  for (;;) {
    const Clock::duration now = clock_.now() - origin_;  // the thread's one clock read per tick
    poll_at(now, true);
    std::uint64_t target;
    lock();
    auto exp = next_expiration();
    target = exp ? exp->deadline : UINT64_MAX;
    // Ticking: wake at the next tick boundary to publish a fresh reading and drain the staged
    // entries, whatever the next deadline.
    if (ticking_) target = std::min(target, to_tick_floor(now) + 1);
    sleep_until_ = target;  // published under lock_: schedule() compares against it
    unlock();

    std::unique_lock<std::mutex> lk(thread_mutex_);
    if (stopping_) return;
    if (target == UINT64_MAX) {
      thread_cv_.wait(lk, [this] { return wake_ || stopping_; });
    } else {
      const auto wake_at = clock_.to_steady(
          origin_ + std::chrono::nanoseconds(static_cast<std::int64_t>(target * k_tick_ns)));
      thread_cv_.wait_until(lk, wake_at, [this] { return wake_ || stopping_; });
    }
    if (stopping_) return;
    wake_ = false;
  }
}

TimerWheel& TimerWheel::default_wheel() {
  static TimerWheel* const wheel = new TimerWheel(steady_clock_instance(), default_scheduler());
  return *wheel;
}

TimerWheel& TimerWheel::current() {
  if (TimerWheel* w = g_current.load(std::memory_order_acquire)) return *w;
  return default_wheel();
}

TimerWheelScope::TimerWheelScope(TimerWheel& wheel) noexcept
    : previous_(g_current.exchange(&wheel, std::memory_order_acq_rel)) {}

TimerWheelScope::~TimerWheelScope() { g_current.store(previous_, std::memory_order_release); }

}  // namespace duet
