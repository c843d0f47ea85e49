// bench_fiber.cpp — the three styles (explicit state machines, the DUET_* DSL, fibers) side by
// side, and raw Boost.Context.
//
// Each dsl row is the explicit row's method written as a person would with duet::AsyncMethod and
// the DUET_* macros (sm/dsl.hpp), doing the same work.
//
// Families (each has its baseline in this binary; quote figures as ratios against it):
//   AwaitCompleted/{explicit,dsl,fiber}    awaiting an already-completed Task<int> (fast path);
//                                          baseline: explicit.
//   SuspendResume/{boost_context_raw,explicit,dsl,fiber}
//                                          one suspension + resumption through a Continuation
//                                          (the awaiter parks it, the driver runs it);
//                                          baselines: explicit, and a raw Boost.Context resume
//                                          round trip.
//   CreateFinish/{boost_context_raw,explicit,dsl,fiber,fiber_unguarded}
//                                          start an async method that completes at once and drop
//                                          its task (fiber: guarded stack; fiber_unguarded: no
//                                          guard page; both from the pool's cache); baselines:
//                                          explicit, and a raw Boost.Context fiber on a pooled
//                                          stack.
//   PendingRss/{explicit,dsl,fiber,fiber_unguarded}/N
//                                          resident bytes per pending operation with N pending
//                                          (10k, 100k, 1M; RSS from /proc/self/statm), and the
//                                          time to create each (create_ns/op: fresh stacks, so
//                                          slab carving, guard installation and first-touch page
//                                          faults included); one iteration each. The fiber rows
//                                          are labelled with the guard mechanism.
// Every family reports allocs/op (counting operator new).
//
//   meson setup build-rel --buildtype=release && ninja -C build-rel bench/bench_fiber
//   build-rel/bench/bench_fiber --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>
#include <duet/sm/dsl.hpp>

#include "alloc_counter.hpp"

namespace {

namespace bctx = boost::context;

void report_allocs(benchmark::State& state, const duet::testing::AllocScope& scope) {
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
}

// ---- a parking awaiter: always suspends; the driver resumes it ------------------------------

duet::Continuation* g_parked = nullptr;

struct ParkAwaiter {
  bool is_completed() const noexcept { return false; }
  void on_completed(duet::Continuation& c) noexcept {
    duet::detail::capture_execution_context(c);
    unsafe_on_completed(c);
  }
  void unsafe_on_completed(duet::Continuation& c) noexcept {
    c.context = nullptr;
    g_parked = &c;
  }
  void get_result() const noexcept {}
};
struct Park {
  ParkAwaiter get_awaiter() const noexcept { return {}; }
};

void resume_parked() {
  duet::Continuation* c = std::exchange(g_parked, nullptr);
  duet::run_continuation(c);
}

// ---- AwaitCompleted ------------------------------------------------------------------------

// AwaitLoop — an explicit state machine whose move_next() awaits a completed task `n` times.
struct AwaitLoop {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<long> builder_;
  benchmark::State* bench_;
  duet::Task<int> done_;
  duet::TaskAwaiter<int> awaiter_;
  long sum_ = 0;

  void move_next() {
    for (auto _ : *bench_) {
      awaiter_ = done_.get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;  // never happens: the task is completed
      }
      sum_ += awaiter_.get_result();
    }
    state_ = -2;
    builder_.set_result(sum_);
  }
};

void AwaitCompleted_explicit(benchmark::State& state) {
  duet::testing::AllocScope scope;
  AwaitLoop sm;
  sm.bench_ = &state;
  sm.done_ = duet::from_result(1);
  sm.builder_.start(sm);
  benchmark::DoNotOptimize(sm.builder_.task().result());
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_explicit)->Name("AwaitCompleted/explicit");

// AwaitLoopDsl — AwaitLoop in the DSL. The range-for's iterators live across the await, so they
// are hoisted into members as Roslyn hoists a foreach's enumerator (State::StateIterator is not
// assignable, hence std::optional); the loop is then exactly what `for (auto _ : state)` runs.
struct AwaitLoopDsl : duet::AsyncMethod<AwaitLoopDsl, long> {
  benchmark::State* bench_;
  duet::Task<int> done_;
  std::optional<benchmark::State::StateIterator> it_, end_;
  int value_ = 0;
  long sum_ = 0;
  AwaitLoopDsl(benchmark::State& bench, duet::Task<int> done)
      : bench_(&bench), done_(std::move(done)) {}

  void move_next() {
    DUET_BEGIN
      it_.emplace(bench_->begin());
      end_.emplace(bench_->end());
      for (; *it_ != *end_; ++*it_) {
        DUET_AWAIT_INTO(value_, done_);
        sum_ += value_;
      }
      DUET_RETURN(sum_);
    DUET_END
  }
};

void AwaitCompleted_dsl(benchmark::State& state) {
  duet::Task<int> done = duet::from_result(1);
  duet::testing::AllocScope scope;
  duet::Task<long> t = duet::start<AwaitLoopDsl>(state, std::move(done));
  benchmark::DoNotOptimize(t.result());
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_dsl)->Name("AwaitCompleted/dsl");

void AwaitCompleted_fiber(benchmark::State& state) {
  const duet::Task<int> done = duet::from_result(1);
  duet::testing::AllocScope scope;
  long sum = duet::fiber::async([&] {
               long s = 0;
               for (auto _ : state) s += duet::await(done);
               return s;
             }).result();
  benchmark::DoNotOptimize(sum);
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_fiber)->Name("AwaitCompleted/fiber");

// ---- SuspendResume -------------------------------------------------------------------------

void SuspendResume_boost_context_raw(benchmark::State& state) {
  bool stop = false;
  bctx::fiber f{[&](bctx::fiber&& main) {
    while (!stop) main = std::move(main).resume();
    return std::move(main);
  }};
  f = std::move(f).resume();
  duet::testing::AllocScope scope;
  for (auto _ : state) f = std::move(f).resume();
  report_allocs(state, scope);
  stop = true;
  f = std::move(f).resume();
}
BENCHMARK(SuspendResume_boost_context_raw)->Name("SuspendResume/boost_context_raw");

// ParkLoop — an explicit state machine that awaits Park{} until told to stop.
struct ParkLoop {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  const bool* stop_;
  ParkAwaiter awaiter_;

  void move_next() {
    for (;;) {
      if (state_ == 0) {
        state_ = -1;
        awaiter_.get_result();
      }
      if (*stop_) break;
      awaiter_ = Park{}.get_awaiter();
      state_ = 0;
      builder_.await_unsafe_on_completed(awaiter_, *this);
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

void SuspendResume_explicit(benchmark::State& state) {
  bool stop = false;
  ParkLoop sm;
  sm.stop_ = &stop;
  sm.builder_.start(sm);
  duet::Task<> t = sm.builder_.task();
  duet::testing::AllocScope scope;
  for (auto _ : state) resume_parked();
  report_allocs(state, scope);
  stop = true;
  resume_parked();
  t.wait();
}
BENCHMARK(SuspendResume_explicit)->Name("SuspendResume/explicit");

// ParkLoopDsl — ParkLoop in the DSL: `while (!*stop) await Park{};`.
struct ParkLoopDsl : duet::AsyncMethod<ParkLoopDsl> {
  const bool* stop_;
  explicit ParkLoopDsl(const bool& stop) : stop_(&stop) {}
  void move_next() {
    DUET_BEGIN
      while (!*stop_) {
        DUET_AWAIT(Park{});
      }
    DUET_END
  }
};

void SuspendResume_dsl(benchmark::State& state) {
  bool stop = false;
  duet::Task<> t = duet::start<ParkLoopDsl>(stop);
  duet::testing::AllocScope scope;
  for (auto _ : state) resume_parked();
  report_allocs(state, scope);
  stop = true;
  resume_parked();
  t.wait();
}
BENCHMARK(SuspendResume_dsl)->Name("SuspendResume/dsl");

void SuspendResume_fiber(benchmark::State& state) {
  bool stop = false;
  duet::Task<> t = duet::fiber::async([&] {
    while (!stop) duet::await(Park{});
  });
  duet::testing::AllocScope scope;
  for (auto _ : state) resume_parked();
  report_allocs(state, scope);
  stop = true;
  resume_parked();
  t.wait();
}
BENCHMARK(SuspendResume_fiber)->Name("SuspendResume/fiber");

// ---- CreateFinish --------------------------------------------------------------------------

// ReturnOne — an explicit state machine for `async Task<int> f() { return 1; }`.
struct ReturnOne {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  void move_next() {
    state_ = -2;
    builder_.set_result(1);
  }
};
duet::Task<int> return_one() {
  ReturnOne sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

void CreateFinish_explicit(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    duet::Task<int> t = return_one();
    benchmark::DoNotOptimize(t);
  }
  report_allocs(state, scope);
}
BENCHMARK(CreateFinish_explicit)->Name("CreateFinish/explicit");

// ReturnOneDsl — ReturnOne in the DSL.
struct ReturnOneDsl : duet::AsyncMethod<ReturnOneDsl, int> {
  void move_next() {
    DUET_BEGIN
      DUET_RETURN(1);
    DUET_END
  }
};

void CreateFinish_dsl(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    duet::Task<int> t = duet::start<ReturnOneDsl>();
    benchmark::DoNotOptimize(t);
  }
  report_allocs(state, scope);
}
BENCHMARK(CreateFinish_dsl)->Name("CreateFinish/dsl");

void CreateFinish_boost_context_raw(benchmark::State& state) {
  bctx::pooled_fixedsize_stack salloc(duet::fiber::k_default_stack_size);
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    int r = 0;
    bctx::fiber f{std::allocator_arg, salloc, [&r](bctx::fiber&& main) {
                    r = 1;
                    return std::move(main);
                  }};
    f = std::move(f).resume();
    benchmark::DoNotOptimize(r);
  }
  report_allocs(state, scope);
}
BENCHMARK(CreateFinish_boost_context_raw)->Name("CreateFinish/boost_context_raw");

void CreateFinish_fiber(benchmark::State& state, bool guarded) {
  const duet::fiber::FiberOptions options = duet::fiber::FiberOptions{}.with_guard_page(guarded);
  duet::fiber::async([] { return 0; }, options).wait();  // warm the pool
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    duet::Task<int> t = duet::fiber::async([] { return 1; }, options);
    benchmark::DoNotOptimize(t);
  }
  report_allocs(state, scope);
}
BENCHMARK_CAPTURE(CreateFinish_fiber, guarded, true)->Name("CreateFinish/fiber");
BENCHMARK_CAPTURE(CreateFinish_fiber, unguarded, false)->Name("CreateFinish/fiber_unguarded");

// ---- PendingRss ----------------------------------------------------------------------------

std::size_t resident_bytes() {
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// WaitOn — an explicit state machine for `async Task f(Task t) { await t; }`.
struct WaitOn {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::Task<> in_;
  duet::TaskAwaiter<void> awaiter_;
  void move_next() {
    if (state_ == -1) {
      awaiter_ = in_.get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    }
    state_ = -2;
    awaiter_.get_result();
    builder_.set_result();
  }
};
duet::Task<> wait_on(const duet::Task<>& in) {
  WaitOn sm;
  sm.in_ = in;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// WaitOnDsl — WaitOn in the DSL.
struct WaitOnDsl : duet::AsyncMethod<WaitOnDsl> {
  duet::Task<> in_;
  explicit WaitOnDsl(duet::Task<> in) : in_(std::move(in)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(in_);
    DUET_END
  }
};

enum class Style { explicit_, dsl, fiber, fiber_unguarded };

void PendingRss(benchmark::State& state, Style style) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    // Fresh memory for every repetition: the pool's stacks and malloc's free pages go back to
    // the OS, so the growth measured below is this repetition's own.
    duet::fiber::trim_stack_pool();
    ::malloc_trim(0);
    std::vector<duet::Task<>> pending;
    pending.reserve(n);
    duet::TaskCompletionSource<> gate;
    const std::size_t before = resident_bytes();
    duet::testing::AllocScope scope;
    const auto options = duet::fiber::FiberOptions{}.with_guard_page(style == Style::fiber);
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    try {
      for (std::size_t i = 0; i < n; ++i) {
        if (style == Style::explicit_) {
          pending.push_back(wait_on(gate.task()));
        } else if (style == Style::dsl) {
          pending.push_back(duet::start<WaitOnDsl>(gate.task()));
        } else {
          pending.push_back(duet::fiber::async([&gate] { duet::await(gate.task()); }, options));
        }
      }
    } catch (const duet::fiber::FiberStackError& e) {
      error = e.what();
    }
    const auto created = std::chrono::steady_clock::now();
    const std::size_t after = resident_bytes();
    const double ops = static_cast<double>(pending.size());
    state.counters["create_ns/op"] =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(created - start).count()) / ops;
    state.counters["bytes/op"] = static_cast<double>(after - before) / ops;
    state.counters["allocs/op"] = static_cast<double>(scope.allocations()) / ops;
    state.counters["pending"] = ops;
    gate.set_result();
    for (auto& t : pending) t.wait();
    pending.clear();
    duet::fiber::trim_stack_pool();
    if (style == Style::fiber) state.SetLabel(std::string("guard: ") + duet::fiber::guard_page_mechanism());
    if (!error.empty()) {
      state.SkipWithError(("only " + std::to_string(static_cast<std::size_t>(ops)) +
                           " fibers fit: " + error).c_str());
      break;
    }
  }
}
BENCHMARK_CAPTURE(PendingRss, explicit, Style::explicit_)
    ->Name("PendingRss/explicit")->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(1);
BENCHMARK_CAPTURE(PendingRss, dsl, Style::dsl)
    ->Name("PendingRss/dsl")->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(1);
BENCHMARK_CAPTURE(PendingRss, fiber, Style::fiber)
    ->Name("PendingRss/fiber")->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(1);
BENCHMARK_CAPTURE(PendingRss, fiber_unguarded, Style::fiber_unguarded)
    ->Name("PendingRss/fiber_unguarded")->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
