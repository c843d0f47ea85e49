// bench/bench_dsl.cpp — the DSL against the explicit style on the same method, in one binary.
//
// The method (C#):  async Task<int> Sum2(Task<int> a, Task<int> b) => await a + await b;
//
//   Sum2/explicit      a hand-written machine (the baseline): TaskAwaiter<int> field
//   Sum2/dsl           duet::AsyncMethod + DUET_* macros (typed awaiter storage, DSL state)
//   Sum2/dsl_fields    DUET_* macros over the explicit machine's own fields (typed awaiter_)
//   TryFinally/...     the same with `try { ... } finally { counter++; }` around the awaits
//   Sum2Pooled/...     Sum2 returning ValueTask<int> through PoolingAsyncValueTaskMethodBuilder:
//                      the explicit machine with that builder_ against duet::PoolingAsyncValueTask-
//                      Method (0 allocations per call in steady state besides the input's TCS)
//
// Two paths per method:
//   completed  both inputs already completed: no suspension (the fast path);
//   suspended  the first input is a fresh TaskCompletionSource set after the call: one box
//              allocation, one suspension and one inline resumption per call.
// Quote figures as ratios against the explicit row of the same path. allocs/op counts every
// operator new per call (the TCS's task is one of them on the suspended path).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "alloc_counter.hpp"

namespace {

using duet::Task;
using duet::TaskAwaiter;

// ---- the machines -----------------------------------------------------------------------------------

template <class Builder>
struct Sum2ExplicitFor {
  int state_ = -1;
  Builder builder_{};
  Task<int> a_{}, b_{};
  int x_ = 0, y_ = 0;
  TaskAwaiter<int> awaiter_{};
  void move_next() {
    try {
      switch (state_) {
        case -1:
          awaiter_ = a_.get_awaiter();
          if (!awaiter_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter_, *this);
            return;
          }
          [[fallthrough]];
        case 0:
          state_ = -1;
          x_ = awaiter_.get_result();
          awaiter_ = {};
          awaiter_ = b_.get_awaiter();
          if (!awaiter_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(awaiter_, *this);
            return;
          }
          [[fallthrough]];
        case 1:
          state_ = -1;
          y_ = awaiter_.get_result();
          awaiter_ = {};
          state_ = -2;
          builder_.set_result(x_ + y_);
          return;
        default:
          throw duet::InvalidOperationError("Sum2Explicit: bad state");
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};
using Sum2Explicit = Sum2ExplicitFor<duet::AsyncTaskMethodBuilder<int>>;
using Sum2PooledExplicit = Sum2ExplicitFor<duet::PoolingAsyncValueTaskMethodBuilder<int>>;

// Sum2PooledDsl — the DSL method returning ValueTask<int> through the pooling builder.
struct Sum2PooledDsl : duet::PoolingAsyncValueTaskMethod<Sum2PooledDsl, int> {
  Task<int> a_, b_;
  int x_ = 0, y_ = 0;
  Sum2PooledDsl(Task<int> a, Task<int> b) : a_(std::move(a)), b_(std::move(b)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_AWAIT_INTO(y_, b_);
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

struct Sum2Dsl : duet::AsyncMethod<Sum2Dsl, int> {
  Task<int> a_, b_;
  int x_ = 0, y_ = 0;
  Sum2Dsl(Task<int> a, Task<int> b) : a_(std::move(a)), b_(std::move(b)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_AWAIT_INTO(y_, b_);
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

struct Sum2DslFields {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_{};
  Task<int> a_{}, b_{};
  int x_ = 0, y_ = 0;
  TaskAwaiter<int> awaiter_{};
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_AWAIT_INTO(y_, b_);
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

int g_finally_runs = 0;

struct TryFinallyExplicit {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_{};
  Task<int> a_{}, b_{};
  int x_ = 0, y_ = 0;
  std::exception_ptr pending_{};
  TaskAwaiter<int> awaiter_{};
  void move_next() {
    try {
      try {
        if (state_ == 0) goto resume0;
        if (state_ == 1) goto resume1;
        awaiter_ = a_.get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume0:
        state_ = -1;
        x_ = awaiter_.get_result();
        awaiter_ = {};
        awaiter_ = b_.get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume1:
        state_ = -1;
        y_ = awaiter_.get_result();
        awaiter_ = {};
      } catch (...) {
        pending_ = std::current_exception();
      }
      ++g_finally_runs;
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      state_ = -2;
      builder_.set_result(x_ + y_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

struct TryFinallyDsl : duet::AsyncMethod<TryFinallyDsl, int> {
  Task<int> a_, b_;
  int x_ = 0, y_ = 0;
  TryFinallyDsl(Task<int> a, Task<int> b) : a_(std::move(a)), b_(std::move(b)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT_INTO(x_, a_);
        DUET_AWAIT_INTO(y_, b_);
      DUET_FINALLY
        ++g_finally_runs;
      DUET_END_TRY
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

template <class M>
auto start_explicit(Task<int> a, Task<int> b) {
  M m;
  m.a_ = std::move(a);
  m.b_ = std::move(b);
  m.builder_.start(m);
  return m.builder_.task();
}

template <class M>
auto start_dsl(Task<int> a, Task<int> b) {
  if constexpr (std::is_constructible_v<M, Task<int>, Task<int>>) {
    return duet::start<M>(std::move(a), std::move(b));
  } else {
    return start_explicit<M>(std::move(a), std::move(b));
  }
}

// ---- the paths -----------------------------------------------------------------------------------------

// value_of(t) — the completed call's result: Task<int> reads its state (no blocking machinery),
// ValueTask<int> is consumed (which returns a pooled box to its cache).
inline int value_of(const Task<int>& t) { return t.state()->value(); }
inline int value_of(duet::ValueTask<int>&& vt) { return vt.result(); }

template <auto Start>
void completed(benchmark::State& state) {
  Task<int> a = duet::from_result(1), b = duet::from_result(2);
  duet::testing::AllocScope allocs;
  std::int64_t sum = 0;
  for (auto _ : state) {
    sum += value_of(Start(a, b));
  }
  benchmark::DoNotOptimize(sum);
  state.counters["allocs/op"] =
      benchmark::Counter(static_cast<double>(allocs.allocations()), benchmark::Counter::kAvgIterations);
}

template <auto Start>
void suspended(benchmark::State& state) {
  Task<int> b = duet::from_result(2);
  duet::testing::AllocScope allocs;
  std::int64_t sum = 0;
  for (auto _ : state) {
    duet::TaskCompletionSource<int> tcs;
    auto t = Start(tcs.task(), b);
    tcs.set_result(1);  // resumes the machine inline, on this thread
    sum += value_of(std::move(t));
  }
  benchmark::DoNotOptimize(sum);
  state.counters["allocs/op"] =
      benchmark::Counter(static_cast<double>(allocs.allocations()), benchmark::Counter::kAvgIterations);
}

// Plain loops of the same paths, for counting instructions under valgrind (see main()).
template <auto Start>
std::int64_t loop_completed(int n) {
  Task<int> a = duet::from_result(1), b = duet::from_result(2);
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += value_of(Start(a, b));
  return sum;
}
template <auto Start>
std::int64_t loop_suspended(int n) {
  Task<int> b = duet::from_result(2);
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    duet::TaskCompletionSource<int> tcs;
    auto t = Start(tcs.task(), b);
    tcs.set_result(1);
    sum += value_of(std::move(t));
  }
  return sum;
}

struct Loop {
  const char* name;
  std::int64_t (*run)(int);
};
const Loop k_loops[] = {
    {"Sum2/completed/explicit", &loop_completed<start_explicit<Sum2Explicit>>},
    {"Sum2/completed/dsl", &loop_completed<start_dsl<Sum2Dsl>>},
    {"Sum2/completed/dsl_fields", &loop_completed<start_dsl<Sum2DslFields>>},
    {"Sum2/suspended/explicit", &loop_suspended<start_explicit<Sum2Explicit>>},
    {"Sum2/suspended/dsl", &loop_suspended<start_dsl<Sum2Dsl>>},
    {"Sum2/suspended/dsl_fields", &loop_suspended<start_dsl<Sum2DslFields>>},
    {"TryFinally/completed/explicit", &loop_completed<start_explicit<TryFinallyExplicit>>},
    {"TryFinally/completed/dsl", &loop_completed<start_dsl<TryFinallyDsl>>},
    {"TryFinally/suspended/explicit", &loop_suspended<start_explicit<TryFinallyExplicit>>},
    {"TryFinally/suspended/dsl", &loop_suspended<start_dsl<TryFinallyDsl>>},
    {"Sum2Pooled/completed/explicit", &loop_completed<start_explicit<Sum2PooledExplicit>>},
    {"Sum2Pooled/completed/dsl", &loop_completed<start_dsl<Sum2PooledDsl>>},
    {"Sum2Pooled/suspended/explicit", &loop_suspended<start_explicit<Sum2PooledExplicit>>},
    {"Sum2Pooled/suspended/dsl", &loop_suspended<start_dsl<Sum2PooledDsl>>},
};

// Interleaved registration (explicit, then its DSL rivals, per path) so drift in machine load
// affects neighbours alike.
BENCHMARK(completed<start_explicit<Sum2Explicit>>)->Name("Sum2/completed/explicit");
BENCHMARK(completed<start_dsl<Sum2Dsl>>)->Name("Sum2/completed/dsl");
BENCHMARK(completed<start_dsl<Sum2DslFields>>)->Name("Sum2/completed/dsl_fields");
BENCHMARK(suspended<start_explicit<Sum2Explicit>>)->Name("Sum2/suspended/explicit");
BENCHMARK(suspended<start_dsl<Sum2Dsl>>)->Name("Sum2/suspended/dsl");
BENCHMARK(suspended<start_dsl<Sum2DslFields>>)->Name("Sum2/suspended/dsl_fields");
BENCHMARK(completed<start_explicit<TryFinallyExplicit>>)->Name("TryFinally/completed/explicit");
BENCHMARK(completed<start_dsl<TryFinallyDsl>>)->Name("TryFinally/completed/dsl");
BENCHMARK(suspended<start_explicit<TryFinallyExplicit>>)->Name("TryFinally/suspended/explicit");
BENCHMARK(suspended<start_dsl<TryFinallyDsl>>)->Name("TryFinally/suspended/dsl");
BENCHMARK(completed<start_explicit<Sum2PooledExplicit>>)->Name("Sum2Pooled/completed/explicit");
BENCHMARK(completed<start_dsl<Sum2PooledDsl>>)->Name("Sum2Pooled/completed/dsl");
BENCHMARK(suspended<start_explicit<Sum2PooledExplicit>>)->Name("Sum2Pooled/suspended/explicit");
BENCHMARK(suspended<start_dsl<Sum2PooledDsl>>)->Name("Sum2Pooled/suspended/dsl");

}  // namespace

// main — Google Benchmark, or `bench_dsl --loop NAME N`: run one path N times and exit, with no
// timing. On a shared machine wall and CPU times are noisy; instruction counts are not:
//   valgrind --tool=callgrind bench_dsl --loop Sum2/suspended/dsl 1000   (and 11000)
// and (Ir(11000) - Ir(1000)) / 10000 is the instructions per call of that path.
int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--loop") {
    for (const Loop& l : k_loops) {
      if (l.name == std::string(argv[2])) {
        benchmark::DoNotOptimize(l.run(std::stoi(argv[3])));
        return 0;
      }
    }
    std::fprintf(stderr, "bench_dsl: no loop named %s\n", argv[2]);
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
