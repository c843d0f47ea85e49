// bench_diag.cpp — what duet::diagnostics (diag/diagnostics.hpp) costs a suspension.
//
//   DiagSuspendResume/baseline_hooks_compiled_out  the suspend+resume loop built without the hooks
//                                                  (bench_diag_off.cpp, DUET_NO_DIAGNOSTICS)
//   DiagSuspendResume/hooks_disabled                the same loop with the hooks compiled in and
//                                                  the registry off (the default): target <= 1.03x
//   DiagSuspendResume/hooks_enabled                 the registry on: each suspension records its
//                                                  frame, each resumption removes it
//   DiagFiberSuspendResume/baseline_disabled        a fiber that awaits a TCS once, registry off
//   DiagFiberSuspendResume/enabled                  the same with the registry on (includes the
//                                                  backtrace(3) of the fiber's stack per suspension)
//
// Quote as ratios against the baseline of the family, median of repetitions, interleaved:
//   bench_diag --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true
//              --benchmark_report_aggregates_only=true
#include "diag_suspend_resume.hpp"

namespace {

// Enabled — turns the registry on for one benchmark.
struct Enabled {
  Enabled() { duet::diagnostics::enable(); }
  ~Enabled() { duet::diagnostics::disable(); }
};

void SuspendResume_hooks_disabled(benchmark::State& state) { suspend_resume_loop(state); }
BENCHMARK(SuspendResume_hooks_disabled)->Name("DiagSuspendResume/hooks_disabled");

void SuspendResume_hooks_enabled(benchmark::State& state) {
  Enabled on;
  suspend_resume_loop(state);
}
BENCHMARK(SuspendResume_hooks_enabled)->Name("DiagSuspendResume/hooks_enabled");

void fiber_loop(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::TaskCompletionSource<int> tcs;
    duet::Task<int> task = duet::fiber::async([t = tcs.task()] { return duet::await(t) + 1; });
    tcs.set_result(41);
    sum += std::move(task).get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}

void FiberSuspendResume_baseline_disabled(benchmark::State& state) { fiber_loop(state); }
BENCHMARK(FiberSuspendResume_baseline_disabled)->Name("DiagFiberSuspendResume/baseline_disabled");

void FiberSuspendResume_enabled(benchmark::State& state) {
  Enabled on;
  fiber_loop(state);
}
BENCHMARK(FiberSuspendResume_enabled)->Name("DiagFiberSuspendResume/enabled");

}  // namespace

BENCHMARK_MAIN();
