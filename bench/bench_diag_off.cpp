// bench_diag_off.cpp — bench_diag's baseline: the same suspend+resume loop compiled without the
// diagnostics hooks (DUET_NO_DIAGNOSTICS, as meson -Ddiagnostics=false builds everything). See
// bench_diag.cpp.
#define DUET_NO_DIAGNOSTICS 1
#include "diag_suspend_resume.hpp"

namespace {

void SuspendResume_baseline_hooks_compiled_out(benchmark::State& state) { suspend_resume_loop(state); }
BENCHMARK(SuspendResume_baseline_hooks_compiled_out)->Name("DiagSuspendResume/baseline_hooks_compiled_out");

}  // namespace
