// bench_timer.cpp — the timer wheel against its baselines, in one binary so figures are ratios.
//
//  Timer/ScheduleCancel/*        arm one timer and cancel it, with 1000 others pending:
//    Wheel         TimerWheel on a ManualClock (the data structure + its lock; no clock read)
//    WheelSteady/pending:{1000,1000000}   TimerWheel on the SteadyClock with that many other
//                  timers pending. schedule() reads no clock: while schedules arrive, the timer
//                  thread ticks and publishes its reading (timer_wheel.hpp, "The cached now"), so
//                  the pair is two lock acquisitions and O(1) pointer work. A timer armed and
//                  canceled within one tick is never moved into a slot; the thread moves those
//                  that survive a tick (not measured here: it is the thread's cost).
//                  (Before the cached now: one steady_clock::now() per schedule, ClockRead.)
//    Multimap      std::multimap<deadline, entry*> insert + erase(iterator): an ordered,
//                  cancellable timer queue built from the standard library
//    ClockRead     one steady_clock::now(), to subtract from WheelSteady
//
//  Timer/Workload/{Wheel,Heap}/pending:N — the same workload on both queues, N timers always
//  pending. One iteration (= one op) is:
//    1. cancel a timer picked uniformly at random among the N (the work it guarded finished) and
//       schedule a new one in its place (same user object), due in D ms;
//    2. move simulated time by 4096 ms / N; when the 1 ms tick changes, every timer that is due
//       expires, and its callback schedules a successor (same object) due in D ms.
//  So each op is "schedule one timer + cancel one" plus, on average, fired/op "expire one +
//  schedule one"; the pending count stays exactly N. D is log-uniform over 1 ms .. 32.8 s (an
//  octave [2^k, 2^(k+1)) ms with k uniform in 0..14, uniform inside it): equal shares of retry
//  timers (ms), request timeouts (s) and idle timeouts (tens of s). With the cancel rate above a
//  timer lives ~4.1 s unless it expires first, so short timers mostly fire (and their owners
//  re-arm them many times) and long ones are mostly canceled: fired/op is about 2.9 for every N.
//  Both queues reach this steady state before measuring (8N warm-up ops = 32.8 s simulated); the
//  warmed workload is reused across the repetitions. Both draw picks and dues from identical
//  generators, so the work is statistically identical (fired/op agrees); the expiry order, and so
//  the exact sequence, may differ.
//  The timer objects are the same for both: 128-byte, 128-aligned user objects in one vector.
//    Wheel  TimerWheel on a self-driving clock the bench sets: cancel() + schedule() (one lock
//           each), expiry via poll() (one lock per tick, as the timer thread calls it) posting to
//           a scheduler whose post() is the callback.
//    Heap   std::priority_queue<(deadline, Timer*, generation)> with lazy cancellation, as a user
//           writes it: cancel bumps the object's generation, a stale item is a tombstone dropped
//           when it surfaces (checking it reads the object); the callback is a function pointer in
//           the object. Single-threaded, so it takes no lock at all (the wheel is thread-safe and
//           pays for its lock in these figures). Its vector is reserved for 4N items.
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
  const auto pending = static_cast<std::size_t>(state.range(0));
  std::vector<Entry> background(pending);
  for (std::size_t i = 0; i < background.size(); ++i) {
    // 30 min .. 30 min + 37 s (1000) or 10.3 h (1M): spread over level-2 and level-3 slots.
    wheel.schedule(background[i], 30min + std::chrono::microseconds(i * 37'000));
  }
  Entry e;
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    wheel.schedule(e, 1h);  // later than most pending deadlines: no expiry is involved
    benchmark::DoNotOptimize(wheel.cancel(e));
  }
  report_allocs(state, scope);
  state.counters["pending"] = static_cast<double>(wheel.pending());
  for (auto& b : background) wheel.cancel(b);
}
BENCHMARK(BM_ScheduleCancel_WheelSteady)
    ->Name("Timer/ScheduleCancel/WheelSteady")
    ->ArgName("pending")
    ->Arg(1000)->Arg(1000000);

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
// Workload at N pending timers (the header comment describes it)

constexpr unsigned k_due_octaves = 15;                // dues 1 ms .. 32.767 s
constexpr std::uint64_t k_mean_cancel_ns = 4096'000'000;  // each timer is canceled after ~4.1 s
constexpr std::uint64_t k_ns_per_ms = 1'000'000;

// random_due_ms — log-uniform: an octave [2^k, 2^(k+1)) ms with k uniform in [0, 15), then a
// uniform value inside it. Equal shares of retries (ms), request timeouts (s), idle timeouts (10s).
std::uint64_t random_due_ms(XorShift& rng) noexcept {
  const std::uint64_t r = rng();
  const unsigned k = static_cast<unsigned>(r % k_due_octaves);
  return (std::uint64_t{1} << k) + ((r >> 8) & ((std::uint64_t{1} << k) - 1));
}

// SimTime — simulated time: every op moves it by k_mean_cancel_ns / N, so with N pending timers
// and one random cancel per op each timer lives ~4.1 s unless it expires first. step() returns
// true when the millisecond tick changed (only then is there anything to expire).
struct SimTime {
  explicit SimTime(std::size_t n) : step_ns(std::max<std::uint64_t>(1, k_mean_cancel_ns / n)) {}
  bool step() noexcept {
    ns += step_ns;
    const std::uint64_t t = ns / k_ns_per_ms;
    if (t == tick) return false;
    tick = t;
    return true;
  }
  std::uint64_t step_ns;
  std::uint64_t ns = 0;
  std::uint64_t tick = 0;
};

// The user objects that own the timers: the same size and alignment for both queues (two cache
// lines, like a small delay state), so neither side gets a denser layout.
constexpr std::size_t k_user_object = 128;

// StepClock — a self-driving Clock (no timer thread) that the workload sets and then polls the
// wheel itself, as the timer thread does. (ManualClock::advance would add its own mutex and
// bookkeeping: a cost of the test clock, not of the wheel.)
struct StepClock final : duet::Clock {
  std::atomic<std::int64_t> ns{0};
  duration now() const noexcept override { return duration(ns.load(std::memory_order_relaxed)); }
  std::chrono::steady_clock::time_point to_steady(duration) const noexcept override {
    return std::chrono::steady_clock::time_point::max();  // never asked: attach() returns true
  }
  bool attach(duet::TimerWheel&) override { return true; }
};

struct WheelWorkload {
  struct alignas(k_user_object) Timer : duet::TimerEntry {
    WheelWorkload* owner = nullptr;
  };
  // RearmScheduler — an expired timer's callback: count it and schedule its successor at once
  // (the wheel posts outside its lock).
  struct RearmScheduler final : duet::Scheduler {
    WheelWorkload* owner = nullptr;
    void post(duet::Continuation& c) noexcept override {
      auto& t = static_cast<Timer&>(static_cast<duet::TimerEntry&>(c));
      ++owner->fired;
      owner->wheel.schedule(t, std::chrono::milliseconds(random_due_ms(owner->due_rng)));
    }
  };

  explicit WheelWorkload(std::size_t n) : timers(n), time(n) {
    sched.owner = this;
    for (auto& t : timers) {
      t.owner = this;
      wheel.schedule(t, std::chrono::milliseconds(random_due_ms(due_rng)));
    }
  }
  ~WheelWorkload() {
    for (auto& t : timers) wheel.cancel(t);
  }
  void op() {
    Timer& t = timers[pick_rng() % timers.size()];
    wheel.cancel(t);  // the work it guarded finished: its timeout is canceled...
    wheel.schedule(t, std::chrono::milliseconds(random_due_ms(due_rng)));  // ...a new one starts
    if (time.step()) {  // expiries
      clock.ns.store(static_cast<std::int64_t>(time.tick * k_ns_per_ms), std::memory_order_relaxed);
      wheel.poll();
    }
  }

  StepClock clock;
  RearmScheduler sched;
  duet::TimerWheel wheel{clock, sched};
  std::vector<Timer> timers;
  SimTime time;
  XorShift pick_rng;
  XorShift due_rng{0x2545F4914F6CDD1Dull};
  std::uint64_t fired = 0;
};

// HeapWorkload — the baseline: std::priority_queue of (deadline, timer*, generation) with lazy
// cancellation, as one writes it by hand. Cancel bumps the timer's generation; an item whose
// generation is stale is a tombstone, dropped when it surfaces. Single-threaded: no lock.
struct HeapWorkload {
  struct alignas(k_user_object) Timer {
    void (*on_expired)(Timer&) noexcept = nullptr;  // the callback, like Continuation::invoke
    HeapWorkload* owner = nullptr;
    std::uint64_t generation = 0;
  };
  struct Item {
    std::uint64_t when;
    Timer* timer;
    std::uint64_t generation;
    bool operator>(const Item& o) const noexcept { return when > o.when; }
  };
  using Queue = std::priority_queue<Item, std::vector<Item>, std::greater<Item>>;

  explicit HeapWorkload(std::size_t n) : timers(n), time(n) {
    std::vector<Item> storage;
    storage.reserve(4 * n + 1024);  // live items plus tombstones; grows during warm-up if needed
    heap = Queue(std::greater<Item>(), std::move(storage));
    for (auto& t : timers) {
      t.owner = this;
      t.on_expired = [](Timer& timer) noexcept {
        ++timer.owner->fired;
        timer.owner->schedule(timer);
      };
      schedule(t);
    }
  }
  void schedule(Timer& t) { heap.push(Item{time.tick + random_due_ms(due_rng), &t, t.generation}); }
  void op() {
    Timer& t = timers[pick_rng() % timers.size()];
    ++t.generation;  // cancel: its queued item becomes a tombstone
    schedule(t);
    if (time.step()) {
      while (!heap.empty() && heap.top().when <= time.tick) {
        const Item top = heap.top();
        heap.pop();
        if (top.generation == top.timer->generation) top.timer->on_expired(*top.timer);
      }
    }
  }

  Queue heap;
  std::vector<Timer> timers;
  SimTime time;
  XorShift pick_rng;
  XorShift due_rng{0x2545F4914F6CDD1Dull};
  std::uint64_t fired = 0;
};

static_assert(sizeof(WheelWorkload::Timer) == k_user_object);
static_assert(sizeof(HeapWorkload::Timer) == k_user_object);

// cached_workload<W>(n) — one warmed-up workload, kept across the repetitions and iteration-count
// probes of its benchmark (warming 1M timers takes seconds) and destroyed when another (type, N)
// is needed, so only one is alive at a time.
struct CachedBase {
  virtual ~CachedBase() = default;
};
template <class Workload>
struct Cached final : CachedBase {
  explicit Cached(std::size_t n) : workload(n), size(n) {}
  Workload workload;
  std::size_t size;
};
std::unique_ptr<CachedBase> g_cached;

template <class Workload>
Workload& cached_workload(std::size_t n) {
  auto* c = dynamic_cast<Cached<Workload>*>(g_cached.get());
  if (!c || c->size != n) {
    g_cached.reset();
    auto fresh = std::make_unique<Cached<Workload>>(n);
    // Warm up to the steady state: 8N ops simulate 32.8 s, the longest due.
    for (std::size_t i = 0; i < 8 * n; ++i) fresh->workload.op();
    c = fresh.get();
    g_cached = std::move(fresh);
  }
  return c->workload;
}

template <class Workload>
void BM_Workload(benchmark::State& state) {
  Workload& w = cached_workload<Workload>(static_cast<std::size_t>(state.range(0)));
  const std::uint64_t fired_before = w.fired;
  duet::testing::AllocScope scope;
  for (auto _ : state) w.op();
  report_allocs(state, scope);
  state.counters["fired/op"] = benchmark::Counter(static_cast<double>(w.fired - fired_before),
                                                  benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_Workload<WheelWorkload>)
    ->Name("Timer/Workload/Wheel")
    ->ArgName("pending")
    ->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_Workload<HeapWorkload>)
    ->Name("Timer/Workload/Heap")
    ->ArgName("pending")
    ->Arg(1000)->Arg(100000)->Arg(1000000);

}  // namespace

BENCHMARK_MAIN();
