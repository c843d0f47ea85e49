// bench_value_task.cpp — what ValueTask buys, with each baseline in this binary.
//
//   SyncCompletion/{Task,ValueTask,PoolingValueTask}
//       an async method that completes synchronously, awaited (get_awaiter + get_result).
//       Baseline: Task (.NET: 72 B/op for Task<int>, 0 B for ValueTask<int>).
//   Suspending/{Task,ValueTask,PoolingValueTask}
//       an async method that suspends once on a hand-opened gate, is resumed inline, completes,
//       and is consumed. Baseline: Task (one box per call); the pooling builder reuses its box.
//   VersionCheck/{Core,ValueTask}/{checked,unchecked}
//       the await-once token compare: ManualResetValueTaskSourceCore with and without it,
//       directly and through ValueTask + IValueTaskSource (reset, set_result, await, read).
// Every benchmark reports allocs/op and bytes/op (counting operator new, alloc_counter.hpp).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <utility>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"

namespace {

// AllocCounters — allocs/op and bytes/op over a benchmark's timed loop.
class AllocCounters {
 public:
  void report(benchmark::State& state) const {
    state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope_.allocations()),
                                                     benchmark::Counter::kAvgIterations);
    state.counters["bytes/op"] = benchmark::Counter(static_cast<double>(scope_.bytes()),
                                                    benchmark::Counter::kAvgIterations);
  }

 private:
  duet::testing::AllocScope scope_;
};

// Gate — suspends its one waiter until open(v) resumes it inline. Allocates nothing.
class Gate {
 public:
  struct Awaiter {
    Gate* g = nullptr;
    bool is_completed() const noexcept { return false; }
    void on_completed(duet::Continuation& c) noexcept {
      duet::detail::capture_execution_context(c);
      unsafe_on_completed(c);
    }
    void unsafe_on_completed(duet::Continuation& c) noexcept { g->waiting_ = &c; }
    int get_result() const noexcept { return g->value_; }
  };
  Awaiter get_awaiter() noexcept { return Awaiter{this}; }
  void open(int v) noexcept {
    value_ = v;
    duet::run_continuation(std::exchange(waiting_, nullptr));
  }

 private:
  duet::Continuation* waiting_ = nullptr;
  int value_ = 0;
};

// AddMachine<Builder> — `x` (synchronous) or `x + await gate` (suspending), as Roslyn writes it.
template <class Builder>
struct AddMachine {
  int state_ = -1;
  Builder builder_;
  int x_ = 0;
  Gate* gate_ = nullptr;
  Gate::Awaiter awaiter_;
  void move_next() {
    int r = 0;
    try {
      switch (state_) {
        case -1:
          if (!gate_) {
            r = x_;
            break;
          }
          awaiter_ = gate_->get_awaiter();
          if (!awaiter_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter_, *this);
            return;
          }
          [[fallthrough]];
        case 0:
          state_ = -1;
          r = x_ + awaiter_.get_result();
          break;
        default: return;
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(r);
  }
};

template <class Builder>
auto add_async(int x, Gate* gate) {
  AddMachine<Builder> sm;
  sm.x_ = x;
  sm.gate_ = gate;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

using TaskB = duet::AsyncTaskMethodBuilder<int>;
using ValueB = duet::AsyncValueTaskMethodBuilder<int>;
using PoolB = duet::PoolingAsyncValueTaskMethodBuilder<int>;

template <class Builder>
void BM_SyncCompletion(benchmark::State& state) {
  int x = 0;
  AllocCounters counters;
  for (auto _ : state) {
    auto t = add_async<Builder>(++x, nullptr);
    auto a = t.get_awaiter();
    benchmark::DoNotOptimize(a.is_completed());
    benchmark::DoNotOptimize(a.get_result());
  }
  counters.report(state);
}
BENCHMARK(BM_SyncCompletion<TaskB>)->Name("SyncCompletion/Task");
BENCHMARK(BM_SyncCompletion<ValueB>)->Name("SyncCompletion/ValueTask");
BENCHMARK(BM_SyncCompletion<PoolB>)->Name("SyncCompletion/PoolingValueTask");

template <class Builder>
void BM_Suspending(benchmark::State& state) {
  Gate gate;
  int x = 0;
  {  // warm-up: the pooled box for this machine type is allocated once per thread
    auto t = add_async<Builder>(0, &gate);
    gate.open(1);
    (void)t.result();
  }
  AllocCounters counters;
  for (auto _ : state) {
    auto t = add_async<Builder>(++x, &gate);
    auto a = t.get_awaiter();
    gate.open(1);
    benchmark::DoNotOptimize(a.is_completed());
    benchmark::DoNotOptimize(a.get_result());
  }
  counters.report(state);
}
BENCHMARK(BM_Suspending<TaskB>)->Name("Suspending/Task");
BENCHMARK(BM_Suspending<ValueB>)->Name("Suspending/ValueTask");
BENCHMARK(BM_Suspending<PoolB>)->Name("Suspending/PoolingValueTask");

// Source<Validate> — the smallest IValueTaskSource<int> over the core, with or without the check.
template <bool Validate>
class Source final : public duet::IValueTaskSource<int> {
 public:
  duet::ValueTaskSourceStatus get_status(short token) override { return core.get_status(token); }
  void on_completed(duet::Continuation& c, short token,
                    duet::ValueTaskSourceOnCompletedFlags flags) override {
    core.on_completed(c, token, flags);
  }
  int get_result(short token) override { return core.get_result(token); }
  duet::detail::ManualResetValueTaskSourceCoreImpl<int, Validate> core;
};

template <bool Validate>
void BM_VersionCheckCore(benchmark::State& state) {
  duet::detail::ManualResetValueTaskSourceCoreImpl<int, Validate> core;
  int x = 0;
  AllocCounters counters;
  for (auto _ : state) {
    core.reset();
    core.set_result(++x);
    short token = core.version();
    benchmark::DoNotOptimize(token);  // the compiler must not know token == version
    benchmark::DoNotOptimize(core.get_status(token));
    benchmark::DoNotOptimize(core.get_result(token));
  }
  counters.report(state);
}
BENCHMARK(BM_VersionCheckCore<false>)->Name("VersionCheck/Core/unchecked");
BENCHMARK(BM_VersionCheckCore<true>)->Name("VersionCheck/Core/checked");

template <bool Validate>
void BM_VersionCheckValueTask(benchmark::State& state) {
  Source<Validate> src;
  duet::IValueTaskSource<int>* iface = &src;
  benchmark::DoNotOptimize(iface);  // keep the calls virtual, as through a real pooled source
  int x = 0;
  AllocCounters counters;
  for (auto _ : state) {
    src.core.reset();
    src.core.set_result(++x);
    duet::ValueTask<int> vt(*iface, src.core.version());
    auto a = vt.get_awaiter();
    benchmark::DoNotOptimize(a.is_completed());
    benchmark::DoNotOptimize(a.get_result());
  }
  counters.report(state);
}
BENCHMARK(BM_VersionCheckValueTask<false>)->Name("VersionCheck/ValueTask/unchecked");
BENCHMARK(BM_VersionCheckValueTask<true>)->Name("VersionCheck/ValueTask/checked");

}  // namespace

BENCHMARK_MAIN();
