// test_timer_wheel.cpp — the wheel's geometry, cascading, cancel/expiry races and misuse, on a
// ManualClock with a hand-drained scheduler (fully deterministic).
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "time_test_support.hpp"

using namespace std::chrono_literals;
using duet::testing::QueueScheduler;

namespace {

// Probe — a timer entry that records the clock time at which it ran and how often.
struct Probe : duet::TimerEntry {
  duet::ManualClock* clock = nullptr;
  int fired = 0;
  bool was_abandoned = false;
  std::chrono::nanoseconds fired_at{-1};
  Probe() {
    invoke = [](duet::Continuation* c) noexcept {
      auto& p = static_cast<Probe&>(static_cast<duet::TimerEntry&>(*c));
      ++p.fired;
      p.was_abandoned = p.abandoned();
      if (p.clock) p.fired_at = p.clock->now();
    };
  }
};

struct WheelTest : ::testing::Test {
  duet::ManualClock clock;
  QueueScheduler sched;
  duet::TimerWheel wheel{clock, sched};

  void advance(std::chrono::nanoseconds d) {
    clock.advance(d);
    sched.drain();
  }
};

TEST_F(WheelTest, FiresAtItsDeadlineAndNotBefore) {
  Probe p;
  p.clock = &clock;
  wheel.schedule(p, 100ms);
  EXPECT_EQ(wheel.pending(), 1u);
  advance(99ms);
  EXPECT_EQ(p.fired, 0);
  advance(1ms);
  EXPECT_EQ(p.fired, 1);
  EXPECT_EQ(p.fired_at, 100ms);
  EXPECT_EQ(wheel.pending(), 0u);
  advance(10s);
  EXPECT_EQ(p.fired, 1) << "a timer fires exactly once";
}

TEST_F(WheelTest, SubMillisecondDueRoundsUpNeverEarly) {
  clock.advance(300us);
  Probe p;
  wheel.schedule(p, 1500us);  // due at 1.8 ms: tick 2
  advance(1ms);               // 1.3 ms
  EXPECT_EQ(p.fired, 0);
  advance(499us);             // 1.799 ms
  EXPECT_EQ(p.fired, 0);
  advance(201us);             // 2.0 ms
  EXPECT_EQ(p.fired, 1);
}

TEST_F(WheelTest, ZeroDueIsPostedImmediately) {
  Probe p;
  wheel.schedule(p, 0ms);
  EXPECT_EQ(wheel.pending(), 0u);
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_EQ(p.fired, 1);
  EXPECT_FALSE(wheel.cancel(p)) << "an entry that already fired cannot be canceled";
}

TEST_F(WheelTest, CancelRemovesAndNeverFires) {
  Probe a, b;
  wheel.schedule(a, 5ms);
  wheel.schedule(b, 5ms);
  EXPECT_TRUE(wheel.cancel(a));
  EXPECT_FALSE(wheel.cancel(a)) << "the second cancel finds it unlinked";
  EXPECT_EQ(wheel.pending(), 1u);
  advance(1h);
  EXPECT_EQ(a.fired, 0);
  EXPECT_EQ(b.fired, 1);
}

TEST_F(WheelTest, CancelAfterExpiryReturnsFalseAndTheExpiryStillRuns) {
  Probe p;
  wheel.schedule(p, 10ms);
  clock.advance(10ms);             // polled: p is posted, not yet run
  EXPECT_FALSE(wheel.cancel(p));   // essay case 2
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_EQ(p.fired, 1);
}

TEST_F(WheelTest, EntryCanBeRescheduledAfterCancelOrExpiry) {
  Probe p;
  wheel.schedule(p, 10ms);
  ASSERT_TRUE(wheel.cancel(p));
  wheel.schedule(p, 20ms);
  advance(20ms);
  EXPECT_EQ(p.fired, 1);
  wheel.schedule(p, 5ms);
  advance(5ms);
  EXPECT_EQ(p.fired, 2);
}

TEST_F(WheelTest, MisuseThrows) {
  Probe p;
  wheel.schedule(p, 10ms);
  EXPECT_THROW(wheel.schedule(p, 20ms), duet::InvalidOperationError);
  EXPECT_TRUE(wheel.cancel(p));
  EXPECT_THROW(wheel.schedule(p, -1ms), duet::ArgumentError);
  EXPECT_THROW(wheel.schedule(p, duet::TimerWheel::k_max_delay + 1ms), duet::ArgumentError);
  EXPECT_THROW(clock.advance(-1ms), duet::ArgumentError);
  EXPECT_EQ(wheel.pending(), 0u);
}

TEST_F(WheelTest, NextDeadlineIsFoundWithoutTicking) {
  EXPECT_FALSE(wheel.next_deadline().has_value());
  Probe p;
  p.clock = &clock;
  wheel.schedule(p, 1h + 2min + 3s + 4ms);
  // Jumping from one reported deadline to the next reaches the timer in at most one step per
  // level (each jump cascades the entry one level down), never one step per tick.
  int jumps = 0;
  while (p.fired == 0) {
    auto d = wheel.next_deadline();
    ASSERT_TRUE(d.has_value());
    ASSERT_GT(*d, clock.now());
    clock.advance_to(*d);
    sched.drain();
    ASSERT_LE(++jumps, duet::TimerWheel::k_levels);
  }
  EXPECT_EQ(p.fired_at, 1h + 2min + 3s + 4ms);
  EXPECT_FALSE(wheel.next_deadline().has_value());
}

TEST_F(WheelTest, LongestDelayFiresExactlyOnTime) {
  Probe p;
  p.clock = &clock;
  wheel.schedule(p, duet::TimerWheel::k_max_delay);
  int jumps = 0;
  while (p.fired == 0 && jumps < 64) {
    clock.advance_to(*wheel.next_deadline());
    sched.drain();
    ++jumps;
  }
  EXPECT_EQ(p.fired, 1);
  EXPECT_EQ(p.fired_at, duet::TimerWheel::k_max_delay);
}

TEST_F(WheelTest, ScheduleAndCancelAllocateNothing) {
  Probe p;
  duet::testing::AllocScope scope;
  for (int i = 0; i < 1000; ++i) {
    wheel.schedule(p, std::chrono::milliseconds(1 + i * 977));
    ASSERT_TRUE(wheel.cancel(p));
  }
  EXPECT_EQ(scope.allocations(), 0u);
}

// A TimerEntry is one cache line (its links reuse Continuation::next): the essay's cost model
// counts lines, so a layout change that grows it should be a deliberate one.
static_assert(sizeof(void*) != 8 || sizeof(duet::TimerEntry) == 64);

// Many entries in one slot spread over its lanes: canceling any of them (lane heads, middles,
// tails) leaves exactly the others to fire, and emptying a slot by cancels clears its occupancy.
TEST_F(WheelTest, CrowdedSlotCancelsAnyEntryAndFiresTheRest) {
  constexpr int k_n = 1000;
  std::vector<Probe> probes(k_n);
  for (auto& p : probes) {
    p.clock = &clock;
    wheel.schedule(p, 300ms);  // one level-1 slot now, one level-0 slot after cascading
  }
  for (int i = 0; i < k_n; i += 3) ASSERT_TRUE(wheel.cancel(probes[static_cast<std::size_t>(i)]));
  advance(299ms);
  for (int i = 1; i < k_n; i += 3) {
    ASSERT_TRUE(wheel.cancel(probes[static_cast<std::size_t>(i)])) << "after cascading";
  }
  EXPECT_EQ(wheel.pending(), static_cast<std::size_t>(k_n / 3));
  advance(1ms);
  for (int i = 0; i < k_n; ++i) {
    const auto& p = probes[static_cast<std::size_t>(i)];
    ASSERT_EQ(p.fired, i % 3 == 2 ? 1 : 0) << "entry " << i;
    if (p.fired) {
      ASSERT_EQ(p.fired_at, 300ms);
    }
  }
  EXPECT_EQ(wheel.pending(), 0u);
  EXPECT_FALSE(wheel.next_deadline().has_value());

  for (auto& p : probes) wheel.schedule(p, 5s);
  for (auto& p : probes) ASSERT_TRUE(wheel.cancel(p));
  EXPECT_FALSE(wheel.next_deadline().has_value()) << "a slot emptied by cancels is unoccupied";
  advance(10s);
  for (const auto& p : probes) ASSERT_LE(p.fired, 1);
}

// A slot's lanes empty one by one (the wheel deals entries round-robin over its 16 lanes and
// keeps a mask of the non-empty ones): the slot stays occupied, with its deadline, until the last
// lane empties; a walk of a slot with some lanes empty fires exactly the entries left.
TEST_F(WheelTest, ASlotStaysOccupiedUntilItsLastLaneEmpties) {
  constexpr int k_n = 40;  // more than the lanes: some lanes hold three entries, some two
  std::vector<Probe> probes(k_n);
  for (auto& p : probes) {
    p.clock = &clock;
    wheel.schedule(p, 50ms);
  }
  // Cancel all but the last entry, in an order that empties lanes at different moments (heads,
  // tails, middles): after each cancel the slot is still there.
  for (int i = 0; i < k_n - 1; ++i) {
    const int k = (i * 7) % (k_n - 1);  // 7 is coprime with 39: every index once
    ASSERT_TRUE(wheel.cancel(probes[static_cast<std::size_t>(k)]));
    ASSERT_EQ(wheel.next_deadline(), std::chrono::nanoseconds(50ms)) << "after " << i + 1;
  }
  EXPECT_EQ(wheel.pending(), 1u);
  advance(50ms);
  EXPECT_EQ(probes.back().fired, 1);
  EXPECT_FALSE(wheel.next_deadline().has_value());
  for (int i = 0; i < k_n - 1; ++i) EXPECT_EQ(probes[static_cast<std::size_t>(i)].fired, 0);

  // Half of the lanes emptied, the other half expire.
  for (auto& p : probes) {
    p.fired = 0;
    wheel.schedule(p, 20ms);
  }
  for (int i = 0; i < k_n; i += 2) ASSERT_TRUE(wheel.cancel(probes[static_cast<std::size_t>(i)]));
  advance(20ms);
  for (int i = 0; i < k_n; ++i) {
    ASSERT_EQ(probes[static_cast<std::size_t>(i)].fired, i % 2 == 1 ? 1 : 0) << "entry " << i;
  }
  EXPECT_EQ(wheel.pending(), 0u);
  EXPECT_FALSE(wheel.next_deadline().has_value());
}

// Random schedules, cancels and advances against a simple model: every entry fires exactly at
// the first poll whose time is >= its rounded-up deadline, canceled ones never.
TEST_F(WheelTest, MatchesAReferenceModel) {
  std::mt19937_64 rng(12345);
  constexpr int k_n = 2000;
  std::vector<Probe> probes(k_n);
  std::map<int, std::chrono::nanoseconds> due;  // index -> deadline (clock time, whole ms)
  for (auto& p : probes) p.clock = &clock;
  const std::chrono::nanoseconds spans[] = {50ms, 5s, 10min, 30h, 40 * 24h};
  for (int step = 0; step < 4000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    const int i = static_cast<int>(rng() % k_n);
    if (op < 5) {
      if (due.count(i) || probes[static_cast<std::size_t>(i)].fired_at >= 0ns) continue;
      const auto span = spans[rng() % 5];
      const auto d = std::chrono::nanoseconds(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span.count())));
      wheel.schedule(probes[static_cast<std::size_t>(i)], d);
      const auto when = clock.now() + d;
      due[i] = std::chrono::ceil<std::chrono::milliseconds>(when);
    } else if (op < 7) {
      const bool was_pending = due.count(i) != 0;
      EXPECT_EQ(wheel.cancel(probes[static_cast<std::size_t>(i)]), was_pending);
      due.erase(i);
    } else {
      const auto span = spans[rng() % 4];
      clock.advance(std::chrono::nanoseconds(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span.count() / 4))));
      sched.drain();
      for (auto it = due.begin(); it != due.end();) {
        Probe& p = probes[static_cast<std::size_t>(it->first)];
        if (it->second <= clock.now()) {
          ASSERT_EQ(p.fired, 1) << "entry " << it->first << " due at " << it->second.count();
          ASSERT_EQ(p.fired_at, clock.now());
          it = due.erase(it);
        } else {
          ASSERT_EQ(p.fired, 0) << "entry " << it->first << " fired early";
          ++it;
        }
      }
    }
    ASSERT_EQ(wheel.pending(), due.size());
  }
  for (auto& [i, when] : due) ASSERT_TRUE(wheel.cancel(probes[static_cast<std::size_t>(i)]));
  for (auto& p : probes) ASSERT_LE(p.fired, 1);
}

TEST(TimerWheel, DestructionAbandonsPendingEntries) {
  duet::ManualClock clock;
  QueueScheduler sched;
  Probe p;
  {
    duet::TimerWheel wheel(clock, sched);
    wheel.schedule(p, 1h);
  }
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_EQ(p.fired, 1);
  EXPECT_TRUE(p.was_abandoned);
}

TEST(TimerWheel, AdvanceFromInsideAPollThrows) {
  duet::ManualClock clock;
  struct Reentrant final : duet::Scheduler {
    duet::ManualClock* clock;
    bool threw = false;
    void post(duet::Continuation&) noexcept override {
      try {
        clock->advance(1ms);
      } catch (const duet::InvalidOperationError&) {
        threw = true;
      }
    }
  } sched;
  sched.clock = &clock;
  duet::TimerWheel wheel(clock, sched);
  Probe p;
  wheel.schedule(p, 1ms);
  clock.advance(1ms);
  EXPECT_TRUE(sched.threw);
}

// The real-time wheel: its thread sleeps until the deadline and hands the entry to the
// scheduler. No threshold on how long that takes — only that it happens, once.
TEST(TimerWheel, SteadyClockThreadFiresEntries) {
  struct Flag final : duet::TimerEntry {
    std::atomic<int> fired{0};
    Flag() {
      invoke = [](duet::Continuation* c) noexcept {
        auto& f = static_cast<Flag&>(static_cast<duet::TimerEntry&>(*c));
        f.fired.fetch_add(1);
        f.fired.notify_all();
      };
    }
  };
  duet::TimerWheel wheel;  // steady clock, default pool
  Flag a, b, canceled;
  wheel.schedule(canceled, 1h);  // far enough that the cancel below always wins
  wheel.schedule(b, 3ms);
  wheel.schedule(a, 1ms);
  EXPECT_TRUE(wheel.cancel(canceled));
  a.fired.wait(0);
  b.fired.wait(0);
  EXPECT_EQ(a.fired.load(), 1);
  EXPECT_EQ(b.fired.load(), 1);
  EXPECT_EQ(canceled.fired.load(), 0);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The cached now (timer_wheel.hpp): on a real-time clock, once the timer thread ticks, schedule()
// reads no clock; an entry armed from a stale reading is shifted by the reading's age when the
// thread (or a poll) moves it into the wheel, so it never fires early. The clock below is a
// real-time clock to the wheel (it gets a timer thread) whose time the test sets; the thread
// sleeps an hour per "tick", so after its first poll it stays out of the way and the test
// drives poll() itself.
namespace {

class SetClock final : public duet::Clock {
 public:
  explicit SetClock(std::thread::id counted) : counted_(counted) {}
  duration now() const noexcept override {
    if (std::this_thread::get_id() == counted_) reads_.fetch_add(1, std::memory_order_relaxed);
    return duration(ns_.load(std::memory_order_acquire));
  }
  std::chrono::steady_clock::time_point to_steady(duration) const noexcept override {
    return std::chrono::steady_clock::now() + 1h;
  }
  void set(duration t) noexcept { ns_.store(t.count(), std::memory_order_release); }
  // reads() — clock reads made by the counted thread (the test's), not the timer thread's.
  int reads() const noexcept { return reads_.load(std::memory_order_relaxed); }

 private:
  std::thread::id counted_;
  std::atomic<std::int64_t> ns_{0};
  mutable std::atomic<int> reads_{0};
};

struct CachedNowTest : ::testing::Test {
  SetClock clock{std::this_thread::get_id()};
  QueueScheduler sched;
  duet::TimerWheel wheel{clock, sched};

  // start_ticking() — one schedule that reads the clock asks the thread to tick; waits until it
  // published its reading (progress of another thread, not a time threshold).
  void start_ticking(duet::TimerEntry& first, std::chrono::nanoseconds due) {
    wheel.schedule(first, due);
    for (long spins = 0; !wheel.uses_cached_now(); ++spins) {
      ASSERT_LT(spins, 100'000'000) << "the timer thread never started ticking";
      std::this_thread::yield();
    }
  }
};

TEST_F(CachedNowTest, ScheduleAndCancelReadNoClockOnceTheThreadTicks) {
  Probe first;
  start_ticking(first, 1h);
  const int reads = clock.reads();
  std::vector<Probe> probes(1000);
  for (auto& p : probes) wheel.schedule(p, 10min);
  for (auto& p : probes) EXPECT_TRUE(wheel.cancel(p));
  for (auto& p : probes) wheel.schedule(p, 20min);
  EXPECT_EQ(clock.reads(), reads) << "schedule() read the clock while the thread was ticking";
  EXPECT_EQ(wheel.pending(), 1001u);
  for (auto& p : probes) EXPECT_TRUE(wheel.cancel(p));
  EXPECT_TRUE(wheel.cancel(first));
  EXPECT_EQ(wheel.pending(), 0u);
  EXPECT_EQ(sched.drain(), 0u) << "canceled timers never fire";
}

TEST_F(CachedNowTest, AnEntryArmedFromAStaleReadingIsShiftedByItsAgeNeverEarly) {
  Probe first;
  start_ticking(first, 1h);  // the thread published 0 ms
  clock.set(5ms);            // the thread is "late": its reading is 5 ms old
  Probe p;
  wheel.schedule(p, 10ms);   // armed from 0 ms: due 15 ms at the earliest
  wheel.poll();              // moves it into the wheel at 5 ms, shifted by 5 ms
  clock.set(15ms - 1ns);
  wheel.poll();
  EXPECT_EQ(sched.drain(), 0u);
  EXPECT_EQ(p.fired, 0) << "fired before 5 ms + 10 ms";
  clock.set(15ms);
  wheel.poll();
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_EQ(p.fired, 1);
  EXPECT_TRUE(wheel.cancel(first));
}

TEST_F(CachedNowTest, RescheduleOfAStagedEntryAndAbandonOnDestruction) {
  Probe first;
  start_ticking(first, 1h);
  Probe p;
  wheel.schedule(p, 1ms);
  EXPECT_TRUE(wheel.reschedule(p, 50ms));  // re-armed from the cached 0 ms
  wheel.poll();                              // at 0 ms: the reading's age is 0, no shift
  clock.set(49ms);
  wheel.poll();
  EXPECT_EQ(sched.drain(), 0u);
  clock.set(50ms);
  wheel.poll();
  EXPECT_EQ(sched.drain(), 1u);
  EXPECT_EQ(p.fired, 1);
  // A staged entry still waiting when its wheel dies is abandoned, like a linked one.
  Probe q;
  wheel.schedule(q, 1s);
  {
    auto doomed = std::make_unique<duet::TimerWheel>(clock, sched);
    Probe r;
    doomed->schedule(r, 1s);  // not ticking yet: linked; starts the thread
    for (long spins = 0; !doomed->uses_cached_now(); ++spins) {
      ASSERT_LT(spins, 100'000'000);
      std::this_thread::yield();
    }
    Probe staged;
    doomed->schedule(staged, 1s);
    doomed.reset();
    EXPECT_EQ(sched.drain(), 2u);
    EXPECT_TRUE(r.was_abandoned);
    EXPECT_TRUE(staged.was_abandoned);
  }
  EXPECT_TRUE(wheel.cancel(q));
  EXPECT_TRUE(wheel.cancel(first));
}

}  // namespace
