// bench_timer.cpp — the timer wheel against its baselines, in one binary so figures are ratios.
//
//  Timer/ScheduleCancel/*        arm one timer and cancel it, with 1000 others pending:
//    Wheel         TimerWheel on a ManualClock (the data structure + its lock; no clock read)
//    WheelSteady   TimerWheel on the SteadyClock (adds one steady_clock::now() per schedule)
//    Multimap      std::multimap<deadline, entry*> insert + erase(iterator): an ordered,
//                  cancellable timer queue built from the standard library
//    ClockRead     one steady_clock::now(), to subtract from WheelSteady
//  Timer/Workload/{Wheel,Heap}/pending:N   steady state with N live timers: each iteration
//    re-arms one random timer (cancel + schedule at now + U(1, 2D) ms) and every 64 iterations the
//    clock moves 1 ms and the due timers fire and are re-armed; D = N/64 ms keeps about one
//    expiry per iteration. Heap is a std::priority_queue with lazy cancellation (a generation
//    stamp per timer; stale heap items are dropped when they surface) — the way a
//    std::priority_queue timer queue cancels. HeapLocked takes a spin lock per operation like
//    the (thread-safe) wheel does; Heap is the single-threaded lower bound.
// Every benchmark reports allocs/op (counting operator new).
#include <benchmark/benchmark.h>

#include <chrono>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <vector>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"

using namespace std::chrono_literals;

namespace {

// NullScheduler — expiries are counted and dropped (nothing in the ScheduleCancel runs fires).
struct NullScheduler final : duet::Scheduler {
  std::uint64_t posted = 0;
  void post(duet::Continuation& c) noexcept override {
    ++posted;
    if (c.invoke) c.invoke(&c);
  }
};

struct Entry : duet::TimerEntry {
  Entry() { invoke = [](duet::Continuation*) noexcept {}; }
};

struct XorShift {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint64_t operator()() noexcept {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void report_allocs(benchmark::State& state, const duet::testing::AllocScope& scope) {
  state.counters["allocs/op"] = benchmark::Counter(
      static_cast<double>(scope.allocations()), benchmark::Counter::kAvgIterations);
}

// ---------------------------------------------------------------------------------------------
// ScheduleCancel

void BM_ScheduleCancel_Wheel(benchmark::State& state) {
  duet::ManualClock clock;
  NullScheduler sched;
  duet::TimerWheel wheel(clock, sched);
  std::vector<Entry> background(1000);
  for (std::size_t i = 0; i < background.size(); ++i) {
    wheel.schedule(background[i], std::chrono::milliseconds(1 + i * 37));
  }
  Entry e;
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    wheel.schedule(e, 5s);
    benchmark::DoNotOptimize(wheel.cancel(e));
  }
  report_allocs(state, scope);
  for (auto& b : background) wheel.cancel(b);
}
BENCHMARK(BM_ScheduleCancel_Wheel)->Name("Timer/ScheduleCancel/Wheel");

void BM_ScheduleCancel_WheelSteady(benchmark::State& state) {
  NullScheduler sched;
  duet::TimerWheel wheel(duet::steady_clock_instance(), sched);
  std::vector<Entry> background(1000);
  for (std::size_t i = 0; i < background.size(); ++i) {
    wheel.schedule(background[i], 30min + std::chrono::milliseconds(i * 37));
  }
  Entry e;
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    wheel.schedule(e, 1h);  // later than every pending deadline: the timer thread stays asleep
    benchmark::DoNotOptimize(wheel.cancel(e));
  }
  report_allocs(state, scope);
  for (auto& b : background) wheel.cancel(b);
}
BENCHMARK(BM_ScheduleCancel_WheelSteady)->Name("Timer/ScheduleCancel/WheelSteady");

void BM_ScheduleCancel_Multimap(benchmark::State& state) {
  std::multimap<std::uint64_t, Entry*> queue;
  std::vector<Entry> background(1000);
  for (std::size_t i = 0; i < background.size(); ++i) queue.emplace(1 + i * 37, &background[i]);
  Entry e;
  std::uint64_t now = 0;
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    auto it = queue.emplace(now + 5000, &e);
    queue.erase(it);
    benchmark::DoNotOptimize(queue);
  }
  report_allocs(state, scope);
}
BENCHMARK(BM_ScheduleCancel_Multimap)->Name("Timer/ScheduleCancel/Multimap");

void BM_ClockRead(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) benchmark::DoNotOptimize(duet::steady_clock_instance().now());
  report_allocs(state, scope);
}
BENCHMARK(BM_ClockRead)->Name("Timer/ScheduleCancel/ClockRead");

// ---------------------------------------------------------------------------------------------
// Workload at N pending timers

constexpr int k_iters_per_ms = 64;

struct WheelWorkload {
  struct Timer : duet::TimerEntry {
    WheelWorkload* owner = nullptr;
  };
  // RearmScheduler — an expiry re-arms its timer at once (the wheel posts outside its lock).
  struct RearmScheduler final : duet::Scheduler {
    WheelWorkload* owner = nullptr;
    void post(duet::Continuation& c) noexcept override {
      auto& t = static_cast<Timer&>(static_cast<duet::TimerEntry&>(c));
      ++owner->fired;
      owner->wheel.schedule(t, owner->random_due());
    }
  };

  explicit WheelWorkload(std::size_t n)
      : timers(n), span_ms(2 * std::max<std::uint64_t>(1, n / k_iters_per_ms)) {
    sched.owner = this;
    for (auto& t : timers) {
      t.owner = this;
      wheel.schedule(t, random_due());
    }
  }
  ~WheelWorkload() {
    for (auto& t : timers) wheel.cancel(t);
  }
  std::chrono::milliseconds random_due() noexcept {
    return std::chrono::milliseconds(1 + rng() % span_ms);
  }
  void step(std::uint64_t i) {
    Timer& t = timers[rng() % timers.size()];
    wheel.reschedule(t, random_due());  // cancel + schedule under one lock acquisition
    if (i % k_iters_per_ms == 0) clock.advance(1ms);
  }

  duet::ManualClock clock;
  RearmScheduler sched;
  duet::TimerWheel wheel{clock, sched};
  std::vector<Timer> timers;
  XorShift rng;
  std::uint64_t span_ms;
  std::uint64_t fired = 0;
};

// SpinLock — the same test-and-test-and-set lock the wheel uses, for the thread-safe heap.
struct SpinLock {
  std::atomic<bool> locked{false};
  void lock() noexcept {
    while (locked.exchange(true, std::memory_order_acquire)) {
      while (locked.load(std::memory_order_relaxed)) {
      }
    }
  }
  void unlock() noexcept { locked.store(false, std::memory_order_release); }
};
struct NoLock {
  void lock() noexcept {}
  void unlock() noexcept {}
};

template <class Lock>
struct HeapWorkload {
  struct Item {
    std::uint64_t when;
    std::uint32_t index;
    std::uint32_t generation;
    bool operator>(const Item& o) const noexcept { return when > o.when; }
  };
  using Queue = std::priority_queue<Item, std::vector<Item>, std::greater<Item>>;

  explicit HeapWorkload(std::size_t n)
      : generation(n, 0), span_ms(2 * std::max<std::uint64_t>(1, n / k_iters_per_ms)) {
    std::vector<Item> storage;
    storage.reserve(4 * n + 1024);  // live items plus tombstones: no growth while measuring
    heap = Queue(std::greater<Item>(), std::move(storage));
    for (std::uint32_t i = 0; i < n; ++i) heap.push(Item{now + random_due(), i, 0});
  }
  std::uint64_t random_due() noexcept { return 1 + rng() % span_ms; }
  // A thread-safe queue locks per operation, as the wheel does (cancel, schedule, each expiry).
  void step(std::uint64_t i) {
    const auto j = static_cast<std::uint32_t>(rng() % generation.size());
    lock.lock();
    ++generation[j];  // cancel: the old heap item becomes a tombstone
    heap.push(Item{now + random_due(), j, generation[j]});
    lock.unlock();
    if (i % k_iters_per_ms == 0) {
      ++now;
      for (;;) {
        lock.lock();
        if (heap.empty() || heap.top().when > now) {
          lock.unlock();
          break;
        }
        const Item top = heap.top();
        heap.pop();
        const bool live = top.generation == generation[top.index];
        lock.unlock();
        if (!live) continue;  // canceled
        ++fired;
        lock.lock();
        heap.push(Item{now + random_due(), top.index, top.generation});
        lock.unlock();
      }
    }
  }

  Queue heap;
  std::vector<std::uint32_t> generation;
  XorShift rng;
  std::uint64_t now = 0;
  std::uint64_t span_ms;
  std::uint64_t fired = 0;
  Lock lock;
};

template <class Workload>
void BM_Workload(benchmark::State& state) {
  auto w = std::make_unique<Workload>(static_cast<std::size_t>(state.range(0)));
  std::uint64_t i = 0;
  duet::testing::AllocScope scope;
  for (auto _ : state) w->step(++i);
  report_allocs(state, scope);
  state.counters["fired/op"] =
      benchmark::Counter(static_cast<double>(w->fired), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_Workload<WheelWorkload>)
    ->Name("Timer/Workload/Wheel")
    ->ArgName("pending")
    ->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_Workload<HeapWorkload<NoLock>>)
    ->Name("Timer/Workload/Heap")
    ->ArgName("pending")
    ->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_Workload<HeapWorkload<SpinLock>>)
    ->Name("Timer/Workload/HeapLocked")
    ->ArgName("pending")
    ->Arg(1000)->Arg(100000)->Arg(1000000);

}  // namespace

BENCHMARK_MAIN();
