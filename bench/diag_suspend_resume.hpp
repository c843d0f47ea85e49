// diag_suspend_resume.hpp — the suspend+resume loop bench_diag times, included by two
// translation units: bench_diag.cpp (diagnostics hooks compiled in) and bench_diag_off.cpp
// (compiled with DUET_NO_DIAGNOSTICS: no hooks). Everything here has internal linkage, so each
// unit gets its own machine, box and builder instantiations and the two never merge.
//
// The machine is tests/support/suspend_once_machine.hpp's `async Task<int> F(Task<int> t)
// { return await t + 1; }`, instantiated with a tag local to each unit.
#pragma once

#include <benchmark/benchmark.h>

#include <duet/duet.hpp>

#include "bench_util.hpp"
#include "suspend_once_machine.hpp"

namespace {

using duet::bench::AllocScope;
using duet::bench::report_allocs;

struct LocalTag {};
using DiagBenchMachine = duet::testing::SuspendOnceMachineT<LocalTag>;

// suspend_resume_loop(state) — per iteration: a TCS, the method suspends on its task (one box),
// the TCS completes and resumes it inline.
[[maybe_unused]] void suspend_resume_loop(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::TaskCompletionSource<int> tcs;
    duet::Task<int> task;
    {
      DiagBenchMachine sm{.state_ = -1, .builder_ = {}, .source_ = tcs.task(), .awaiter_ = {}};
      sm.builder_.start(sm);
      task = sm.builder_.task();
    }
    tcs.set_result(41);
    sum += std::move(task).get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}

}  // namespace
