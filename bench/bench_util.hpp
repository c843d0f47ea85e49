// bench_util.hpp — helpers shared by every bench/bench_<name>.cpp.
//
// Conventions (bench/compare.py relies on them to build its comparison tables):
//  * Name benchmarks `Family/case` (->Name("AwaitCompleted/explicit_task_int")); a family is one
//    question ("what does awaiting a completed task cost?"), its cases the answers.
//  * Every family has its baseline in the same binary: a case whose name (after the family)
//    starts with `baseline` (`AwaitCompleted/baseline_noinline_call`). compare.py prints each
//    row's time as a ratio against every baseline of its family; quote figures that way.
//  * Every benchmark reports allocations per operation: construct an AllocScope right before the
//    timed loop and call report_allocs(state, scope) right after it. The counter counts every
//    operator new in the process during the loop (all threads: a pool worker's allocation caused
//    by the benchmark counts too).
//  * When one iteration of the loop stands for several operations (state.KeepRunningBatch(n)),
//    the figures are per operation automatically: Google Benchmark counts n iterations per batch.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

#include "alloc_counter.hpp"

namespace duet::bench {

using duet::testing::AllocScope;

// report_allocs(state, scope) — sets the `allocs/op` and `bytes/op` counters to the allocations
// counted by `scope` since its construction, divided by the iterations run. Call it once, after
// the timed loop, on the thread that ran it.
inline void report_allocs(benchmark::State& state, const AllocScope& scope) {
  // Read both before touching state.counters: inserting a counter allocates a map node.
  const auto allocations = static_cast<double>(scope.allocations());
  const auto bytes = static_cast<double>(scope.bytes());
  state.counters["allocs/op"] = benchmark::Counter(allocations, benchmark::Counter::kAvgIterations);
  state.counters["bytes/op"] = benchmark::Counter(bytes, benchmark::Counter::kAvgIterations);
}

// report_per_op(state, name, total) — sets counter `name` to `total` divided by the iterations
// run (for counts that are not allocations, or allocations accounted separately, e.g. the state
// machine boxes apart from the TaskCompletionSource that feeds them).
inline void report_per_op(benchmark::State& state, const char* name, double total) {
  state.counters[name] = benchmark::Counter(total, benchmark::Counter::kAvgIterations);
}

// allocations_now() — the process-wide allocation count, for accounting a part of an iteration
// separately (read it before and after that part; two relaxed loads).
inline std::uint64_t allocations_now() noexcept { return duet::testing::alloc_stats().allocations; }

}  // namespace duet::bench
