// bench_context.cpp — what context flow costs, each family next to its baseline:
//
//   AwaitFlow       one suspension + resumption of a long-lived explicit state machine (boxed
//                   once, before timing), per await. `default_context` flows the empty context,
//                   `async_local` flows a context holding one AsyncLocal value, and the baseline
//                   `suppressed` flows nothing (ExecutionContext::suppress_flow). Promise: 0
//                   allocations per await in every case; flowing costs a reference count at most.
//   AsyncLocalSet   AsyncLocal<T>::set_value with a changing value. `int_inline` (promise: 1
//                   allocation, the new map) and `string_boxed` (2: the box and the map) vs the
//                   baseline `thread_local_int`, a plain thread_local store.
//   PostAwait       an async method awaits a pending TaskCompletionSource while a
//                   SingleThreadContext is current; the TCS is completed from outside the context
//                   and the loop is pumped. `captured_context` posts the continuation to the loop
//                   and runs it from the pump; the baseline `configure_await_false` runs it inline
//                   on the completing call. Both allocate the TCS state and the box (2/op).
//
// allocs/op counts every operator new in the process during the timed loop, divided by the
// iterations. Reproduce (release build):
//   meson setup build-rel --buildtype=release && ninja -C build-rel bench/bench_context
//   build-rel/bench/bench_context
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <string>

#include "alloc_counter.hpp"
#include "duet/duet.hpp"

namespace {

void report_allocs(benchmark::State& state, const duet::testing::AllocScope& scope) {
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
}

// ---------------------------------------------------------------------------------------------
// AwaitFlow
// ---------------------------------------------------------------------------------------------

// ManualSlot — where ManualAwaiter parks the continuation; the benchmark loop resumes it.
struct ManualSlot {
  duet::Continuation* parked = nullptr;
  bool stop = false;
};

// ManualAwaiter — never completed; on_completed captures the ExecutionContext (as TaskAwaiter
// does) and parks the continuation.
struct ManualAwaiter {
  ManualSlot* slot = nullptr;
  bool is_completed() const noexcept { return false; }
  void on_completed(duet::Continuation& c) noexcept {
    duet::detail::capture_execution_context(c);
    unsafe_on_completed(c);
  }
  void unsafe_on_completed(duet::Continuation& c) noexcept { slot->parked = &c; }
  void get_result() const noexcept {}
};

// LoopMachine — `async Task LoopAsync() { while (!stop) await manual; }`.
struct LoopMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  ManualSlot* slot_ = nullptr;
  ManualAwaiter awaiter_;

  void move_next() {
    if (state_ == 0) {
      state_ = -1;
      awaiter_.get_result();
      if (slot_->stop) {
        state_ = -2;
        builder_.set_result();
        return;
      }
    }
    awaiter_ = ManualAwaiter{slot_};
    state_ = 0;
    builder_.await_on_completed(awaiter_, *this);
  }
};

enum class Flow { default_context, async_local, suppressed };

duet::AsyncLocal<int> g_bench_local;

void run_await_flow(benchmark::State& state, Flow flow) {
  duet::detail::ec_set_current(nullptr);
  if (flow == Flow::async_local) g_bench_local.set_value(1);
  ManualSlot slot;
  duet::Task<> task;
  {
    std::optional<duet::ExecutionContext::AsyncFlowControl> guard;
    if (flow == Flow::suppressed) guard.emplace(duet::ExecutionContext::suppress_flow());
    LoopMachine sm;
    sm.slot_ = &slot;
    sm.builder_.start(sm);  // boxes the machine (the only allocation), parks at the first await
    task = sm.builder_.task();
    duet::testing::AllocScope scope;
    for (auto _ : state) {
      duet::Continuation* c = slot.parked;
      duet::run_continuation(c);  // resumes: installs the flowed context, runs, restores
    }
    report_allocs(state, scope);
    slot.stop = true;
    duet::run_continuation(slot.parked);
  }
  if (!task.is_completed()) state.SkipWithError("the loop machine did not finish");
  duet::detail::ec_set_current(nullptr);
}

void AwaitFlow_default_context(benchmark::State& state) {
  run_await_flow(state, Flow::default_context);
}
void AwaitFlow_async_local(benchmark::State& state) { run_await_flow(state, Flow::async_local); }
void AwaitFlow_suppressed(benchmark::State& state) { run_await_flow(state, Flow::suppressed); }

BENCHMARK(AwaitFlow_suppressed)->Name("AwaitFlow/suppressed_baseline");
BENCHMARK(AwaitFlow_default_context)->Name("AwaitFlow/default_context");
BENCHMARK(AwaitFlow_async_local)->Name("AwaitFlow/async_local");

// ---------------------------------------------------------------------------------------------
// AsyncLocalSet
// ---------------------------------------------------------------------------------------------

thread_local int t_plain = 0;

void AsyncLocalSet_thread_local_int(benchmark::State& state) {
  duet::testing::AllocScope scope;
  int i = 0;
  for (auto _ : state) {
    t_plain = ++i;
    benchmark::DoNotOptimize(&t_plain);
    benchmark::ClobberMemory();
  }
  report_allocs(state, scope);
}

void AsyncLocalSet_int_inline(benchmark::State& state) {
  duet::detail::ec_set_current(nullptr);
  duet::AsyncLocal<int> local;
  duet::testing::AllocScope scope;
  int i = 0;
  for (auto _ : state) local.set_value(++i);
  report_allocs(state, scope);
  duet::detail::ec_set_current(nullptr);
}

void AsyncLocalSet_string_boxed(benchmark::State& state) {
  duet::detail::ec_set_current(nullptr);
  duet::AsyncLocal<std::string> local;
  const std::string values[2] = {"req-41", "req-42"};  // short: std::string does not allocate
  duet::testing::AllocScope scope;
  int i = 0;
  for (auto _ : state) local.set_value(values[++i & 1]);
  report_allocs(state, scope);
  duet::detail::ec_set_current(nullptr);
}

BENCHMARK(AsyncLocalSet_thread_local_int)->Name("AsyncLocalSet/thread_local_int_baseline");
BENCHMARK(AsyncLocalSet_int_inline)->Name("AsyncLocalSet/int_inline");
BENCHMARK(AsyncLocalSet_string_boxed)->Name("AsyncLocalSet/string_boxed");

// ---------------------------------------------------------------------------------------------
// PostAwait
// ---------------------------------------------------------------------------------------------

// AwaitTcsMachine — `async Task AwaitAsync(Task t, bool capture) { await t.ConfigureAwait(capture); }`
struct AwaitTcsMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::Task<> task_;
  bool capture_ = true;
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    if (state_ != 0) {
      awaiter_ = task_.configure_await(capture_).get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_on_completed(awaiter_, *this);
        return;
      }
    }
    state_ = -1;
    awaiter_.get_result();
    awaiter_ = {};
    state_ = -2;
    builder_.set_result();
  }
};

void run_post_await(benchmark::State& state, bool capture) {
  duet::SingleThreadContext ui;
  duet::testing::AllocScope scope;
  std::int64_t unfinished = 0;
  for (auto _ : state) {
    duet::TaskCompletionSource<> tcs;
    duet::Task<> t;
    {
      duet::SyncContextScope on_ui(&ui);
      AwaitTcsMachine sm;
      sm.task_ = tcs.task();
      sm.capture_ = capture;
      sm.builder_.start(sm);
      t = sm.builder_.task();
    }
    tcs.set_result();       // no context current here: captured -> posted; else inline
    ui.run_until_empty();   // captured: runs the continuation; else finds nothing
    unfinished += !t.is_completed();
  }
  report_allocs(state, scope);
  if (unfinished) state.SkipWithError("an await did not complete");
}

void PostAwait_captured_context(benchmark::State& state) { run_post_await(state, true); }
void PostAwait_configure_await_false(benchmark::State& state) { run_post_await(state, false); }

BENCHMARK(PostAwait_configure_await_false)->Name("PostAwait/configure_await_false_baseline");
BENCHMARK(PostAwait_captured_context)->Name("PostAwait/captured_context");

}  // namespace

BENCHMARK_MAIN();
