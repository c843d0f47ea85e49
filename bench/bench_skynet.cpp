// bench_skynet.cpp — skynet: 1M async calls in a 10-ary tree (depth 6), each leaf returns its
// number, each inner node awaits and sums its ten children; the root's sum is 499999500000.
// (https://github.com/atemerev/skynet)
//
//   Skynet/explicit        hand-written state machines (the baseline)
//   Skynet/dsl             the same method with duet::AsyncMethod + the DUET_* macros
//   Skynet/fiber           duet::fiber::async + duet::await, default (guarded, pooled) stacks
//   Skynet/boost_fiber     Boost.Fiber's own skynet (libs/fiber/performance/fiber/skynet_*):
//                          launch::dispatch fibers, buffered channels, pooled 64 KiB stacks —
//                          the peer baseline for stackful fibers
//
// Every duet child completes synchronously (leaves never suspend), so each style runs the whole
// tree depth-first on the calling thread, as Boost.Fiber's dispatch launch does: the figures
// compare the cost of an async call in each style, not scheduling.
//
//   build-rel/bench/bench_skynet
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <utility>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>
#include <duet/sm/dsl.hpp>

#include "alloc_counter.hpp"

#if __has_include(<boost/fiber/all.hpp>)
#include <boost/fiber/all.hpp>
#define DUET_BENCH_HAVE_BOOST_FIBER 1
#endif

namespace {

constexpr long k_size = 1'000'000;
constexpr long k_div = 10;
constexpr long k_expected = 499'999'500'000;

void check(benchmark::State& state, long sum) {
  if (sum != k_expected) state.SkipWithError("skynet computed the wrong sum");
}

// ---- explicit ------------------------------------------------------------------------------

duet::Task<long> skynet_explicit(long num, long size);

// SkynetMachine — the state machine of
//   async Task<long> Skynet(long num, long size) {
//     if (size == 1) return num;
//     var children = new Task<long>[10];
//     for (int i = 0; i < 10; ++i) children[i] = Skynet(num + i * (size / 10), size / 10);
//     long sum = 0;
//     for (int i = 0; i < 10; ++i) sum += await children[i];
//     return sum;
//   }
struct SkynetMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<long> builder_;
  long num_ = 0;
  long size_ = 0;
  long sum_ = 0;
  int i_ = 0;
  duet::Task<long> children_[k_div];
  duet::TaskAwaiter<long> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) goto resume_0;
      if (size_ == 1) {
        state_ = -2;
        builder_.set_result(num_);
        return;
      }
      for (int i = 0; i < k_div; ++i) {
        children_[i] = skynet_explicit(num_ + i * (size_ / k_div), size_ / k_div);
      }
      for (i_ = 0; i_ < k_div; ++i_) {
        awaiter_ = children_[i_].get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume_0:
        state_ = -1;
        sum_ += awaiter_.get_result();
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(sum_);
  }
};

duet::Task<long> skynet_explicit(long num, long size) {
  SkynetMachine sm;
  sm.num_ = num;
  sm.size_ = size;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

void Skynet_explicit(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) check(state, skynet_explicit(0, k_size).result());
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
}
BENCHMARK(Skynet_explicit)->Name("Skynet/explicit")->Unit(benchmark::kMillisecond);

// ---- dsl -----------------------------------------------------------------------------------

duet::Task<long> skynet_dsl(long num, long size);

// SkynetDsl — the same C# method as SkynetMachine, in the DSL: the locals that live across the
// await (the children, the sum, the loop index, the awaited value) are members.
struct SkynetDsl : duet::AsyncMethod<SkynetDsl, long> {
  long num_;
  long size_;
  long sum_ = 0;
  long child_ = 0;
  int i_ = 0;
  duet::Task<long> children_[k_div];
  SkynetDsl(long num, long size) : num_(num), size_(size) {}

  void move_next() {
    DUET_BEGIN
      if (size_ == 1) {
        DUET_RETURN(num_);
      }
      for (int i = 0; i < k_div; ++i) {
        children_[i] = skynet_dsl(num_ + i * (size_ / k_div), size_ / k_div);
      }
      for (i_ = 0; i_ < k_div; ++i_) {
        DUET_AWAIT_INTO(child_, children_[i_]);
        sum_ += child_;
      }
      DUET_RETURN(sum_);
    DUET_END
  }
};

duet::Task<long> skynet_dsl(long num, long size) { return duet::start<SkynetDsl>(num, size); }

void Skynet_dsl(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) check(state, skynet_dsl(0, k_size).result());
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
}
BENCHMARK(Skynet_dsl)->Name("Skynet/dsl")->Unit(benchmark::kMillisecond);

// ---- fiber ---------------------------------------------------------------------------------

duet::Task<long> skynet_fiber(long num, long size) {
  return duet::fiber::async([num, size] {
    if (size == 1) return num;
    duet::Task<long> children[k_div];
    for (long i = 0; i < k_div; ++i) children[i] = skynet_fiber(num + i * (size / k_div), size / k_div);
    long sum = 0;
    for (auto& child : children) sum += duet::await(child);
    return sum;
  });
}

void Skynet_fiber(benchmark::State& state) {
  duet::testing::AllocScope scope;
  for (auto _ : state) check(state, skynet_fiber(0, k_size).result());
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
  state.counters["stacks_mapped"] = static_cast<double>(duet::fiber::stack_stats().mapped);
}
BENCHMARK(Skynet_fiber)->Name("Skynet/fiber")->Unit(benchmark::kMillisecond);

// ---- Boost.Fiber ---------------------------------------------------------------------------

#if defined(DUET_BENCH_HAVE_BOOST_FIBER)
using channel_type = boost::fibers::buffered_channel<long>;
using allocator_type = boost::fibers::pooled_fixedsize_stack;

void skynet_boost(allocator_type& salloc, channel_type& c, long num, long size) {
  if (size == 1) {
    c.push(num);
    return;
  }
  channel_type rc{16};
  for (long i = 0; i < k_div; ++i) {
    boost::fibers::fiber{boost::fibers::launch::dispatch, std::allocator_arg, salloc, skynet_boost,
                         std::ref(salloc), std::ref(rc), num + i * (size / k_div), size / k_div}
        .detach();
  }
  long sum = 0;
  for (long i = 0; i < k_div; ++i) sum += rc.value_pop();
  c.push(sum);
}

void Skynet_boost_fiber(benchmark::State& state) {
  allocator_type salloc{duet::fiber::k_default_stack_size};
  duet::testing::AllocScope scope;
  for (auto _ : state) {
    channel_type rc{2};
    skynet_boost(salloc, rc, 0, k_size);
    check(state, rc.value_pop());
  }
  state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(scope.allocations()),
                                                   benchmark::Counter::kAvgIterations);
}
BENCHMARK(Skynet_boost_fiber)->Name("Skynet/boost_fiber")->Unit(benchmark::kMillisecond);
#endif

}  // namespace

BENCHMARK_MAIN();
