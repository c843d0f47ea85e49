// bench_coord.cpp — the coordination types (issue 13):
//  * SemaphoreUncontended: SemaphoreSlim::wait_async + release with a free count, against a
//    std::mutex lock/unlock pair (target <= 2x, 0 allocs/op);
//  * ChannelPingPong: two methods bounce an int over two channels, per style (inline
//    continuations: allow_synchronous_continuations, one thread), against Boost.Fiber's
//    buffered_channel ping-pong between two fibers on one thread (target <= 1x); one op = one
//    round trip;
//  * ChannelThroughput: an unbounded single-reader channel, one writer thread and one reader
//    thread, items per second, against the same channel without single_reader (the general
//    locked algorithm) and a std::mutex + std::deque + condition_variable queue;
//  * AsyncStream: a stream of 1M ints consumed with move_next_async / current, per style (the
//    explicit Roslyn-shaped iterator, the DSL iterator, the fiber generator), ns per item and
//    allocs per item (one allocation per enumeration), against a plain noinline call per item.
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <duet/duet.hpp>

// After duet: Boost.Fiber defines a function-like macro cpu_relax that would break
// duet/detail/cpu_relax.hpp.
#include <boost/fiber/all.hpp>

#include "bench_util.hpp"

namespace {

using duet::bench::AllocScope;
using duet::bench::report_allocs;

// ---- SemaphoreUncontended ------------------------------------------------------------------------

void BM_SemaphoreWaitRelease(benchmark::State& state) {
  duet::SemaphoreSlim sem(1);
  (void)sem.wait_async().result();
  sem.release();
  AllocScope scope;
  for (auto _ : state) {
    duet::Task<bool> t = sem.wait_async();
    benchmark::DoNotOptimize(t);
    sem.release();
  }
  report_allocs(state, scope);
}
BENCHMARK(BM_SemaphoreWaitRelease)->Name("SemaphoreUncontended/wait_async_release");

void BM_MutexLockUnlock(benchmark::State& state) {
  // The same process state as the semaphore row whatever the order the rows run in: the pool's
  // threads exist (a first, single-threaded run measured the mutex at 3.8 ns instead of 13.9 ns).
  (void)duet::default_scheduler();
  std::mutex m;
  AllocScope scope;
  for (auto _ : state) {
    m.lock();
    benchmark::ClobberMemory();
    m.unlock();
  }
  report_allocs(state, scope);
}
BENCHMARK(BM_MutexLockUnlock)->Name("SemaphoreUncontended/baseline_std_mutex");

// ---- ChannelPingPong -----------------------------------------------------------------------------

using IntChannel = duet::Channel<int>;

IntChannel inline_channel() {
  duet::ChannelOptions o;
  o.single_reader = true;
  o.single_writer = true;
  o.allow_synchronous_continuations = true;
  return IntChannel::create_unbounded(o);
}

// explicit: for (i < n) { var v = await ping.ReadAsync(); pong.TryWrite(v); }
struct PongerSm {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  std::optional<duet::ChannelReader<int>> in_;
  std::optional<duet::ChannelWriter<int>> out_;
  long n_ = 0, i_ = 0;
  duet::ValueTaskAwaiter<int> awaiter_;
  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
        goto resume0;
      }
      for (i_ = 0; i_ < n_; ++i_) {
        awaiter_ = in_->read_async().get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume0:
        out_->try_write(awaiter_.get_result());
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};
duet::Task<> explicit_pong(duet::ChannelReader<int> in, duet::ChannelWriter<int> out, long n) {
  PongerSm sm;
  sm.in_.emplace(std::move(in));
  sm.out_.emplace(std::move(out));
  sm.n_ = n;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

struct PongerDsl : duet::AsyncMethod<PongerDsl> {
  duet::ChannelReader<int> in_;
  duet::ChannelWriter<int> out_;
  long n_, i_ = 0;
  int v_ = 0;
  PongerDsl(duet::ChannelReader<int> in, duet::ChannelWriter<int> out, long n)
      : in_(std::move(in)), out_(std::move(out)), n_(n) {}
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < n_; ++i_) {
        DUET_AWAIT_INTO(v_, in_.read_async());
        out_.try_write(v_);
      }
    DUET_END
  }
};
duet::Task<> dsl_pong(duet::ChannelReader<int> in, duet::ChannelWriter<int> out, long n) {
  return duet::start<PongerDsl>(std::move(in), std::move(out), n);
}

duet::Task<> fiber_pong(duet::ChannelReader<int> in, duet::ChannelWriter<int> out, long n) {
  return duet::fiber::async([in, out, n]() mutable {
    for (long i = 0; i < n; ++i) out.try_write(duet::await(in.read_async()));
  });
}

// Style(in, out, n) starts a ponger echoing n items and a pinger sending n items; both are
// methods of that style, so the pinger's `await pong.ReadAsync()` is the style's own await.
template <duet::Task<> (*Pong)(duet::ChannelReader<int>, duet::ChannelWriter<int>, long)>
void BM_ChannelPingPong(benchmark::State& state) {
  auto warm = [](long n) {
    IntChannel ping = inline_channel(), pong = inline_channel();
    duet::Task<> ponger = Pong(ping.reader(), pong.writer(), n);
    duet::Task<> pinger = Pong(pong.reader(), ping.writer(), n - 1);  // echoes back: a pinger
    ping.writer().try_write(1);                                       // the first serve
    pinger.wait();
    ponger.wait();
  };
  warm(64);
  long n = static_cast<long>(state.max_iterations);
  AllocScope scope;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) warm(n);
  report_allocs(state, scope);
}
BENCHMARK(BM_ChannelPingPong<explicit_pong>)->Name("ChannelPingPong/explicit");
BENCHMARK(BM_ChannelPingPong<dsl_pong>)->Name("ChannelPingPong/dsl");
BENCHMARK(BM_ChannelPingPong<fiber_pong>)->Name("ChannelPingPong/fiber");

void BM_BoostFiberPingPong(benchmark::State& state) {
  using chan = boost::fibers::buffered_channel<int>;
  auto run = [](long n) {
    chan ping(2), pong(2);
    boost::fibers::fiber ponger([&] {
      for (long i = 0; i < n; ++i) {
        int v = 0;
        ping.pop(v);
        pong.push(v);
      }
    });
    for (long i = 0; i < n; ++i) {
      ping.push(static_cast<int>(i));
      int v = 0;
      pong.pop(v);
    }
    ponger.join();
  };
  run(64);
  long n = static_cast<long>(state.max_iterations);
  AllocScope scope;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) run(n);
  report_allocs(state, scope);
}
BENCHMARK(BM_BoostFiberPingPong)->Name("ChannelPingPong/baseline_boost_fiber_buffered_channel");

// ---- ChannelThroughput ---------------------------------------------------------------------------

template <bool kSingleReader>
void BM_ChannelThroughput(benchmark::State& state) {
  const long n = 1 << 20;
  AllocScope scope;
  for (auto _ : state) {
    duet::ChannelOptions o;
    o.single_reader = kSingleReader;
    auto ch = IntChannel::create_unbounded(o);
    std::thread writer([&] {
      for (long i = 0; i < n; ++i) ch.writer().try_write(static_cast<int>(i));
    });
    long sum = 0;
    for (long i = 0; i < n; ++i) sum += ch.reader().read_async().result();
    writer.join();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
  report_allocs(state, scope);
}
BENCHMARK(BM_ChannelThroughput<true>)
    ->Name("ChannelThroughput/unbounded_single_reader")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
// The same channel and workload without single_reader: the general locked algorithm, so the
// ratio of the two rows is what the single-reader algorithm saves.
BENCHMARK(BM_ChannelThroughput<false>)
    ->Name("ChannelThroughput/unbounded_general_algorithm")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_MutexQueueThroughput(benchmark::State& state) {
  const long n = 1 << 20;
  AllocScope scope;
  for (auto _ : state) {
    std::mutex m;
    std::condition_variable cv;
    std::deque<int> q;
    std::thread writer([&] {
      for (long i = 0; i < n; ++i) {
        {
          std::lock_guard<std::mutex> lk(m);
          q.push_back(static_cast<int>(i));
        }
        cv.notify_one();
      }
    });
    long sum = 0;
    for (long i = 0; i < n; ++i) {
      std::unique_lock<std::mutex> lk(m);
      cv.wait(lk, [&] { return !q.empty(); });
      sum += q.front();
      q.pop_front();
    }
    writer.join();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
  report_allocs(state, scope);
}
BENCHMARK(BM_MutexQueueThroughput)->Name("ChannelThroughput/baseline_mutex_deque_cv")->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- AsyncStream ---------------------------------------------------------------------------------

struct CountExplicit : duet::AsyncIterator<CountExplicit, int> {
  int n_, i_ = 0;
  explicit CountExplicit(int n) : n_(n) {}
  void move_next() {
    switch (state_) {
      case -1:
        break;
      case 0:
        state_ = -1;
        goto resume0;
      default:
        return;
    }
    for (i_ = 0; i_ < n_; ++i_) {
      state_ = 0;
      yield_return(i_);
      return;
    resume0:
      if (dispose_mode()) break;
    }
    state_ = -2;
    builder_.set_result();
  }
};

struct CountDsl : duet::AsyncIterator<CountDsl, int> {
  int n_, i_ = 0;
  explicit CountDsl(int n) : n_(n) {}
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < n_; ++i_) DUET_YIELD_RETURN(i_);
    DUET_END
  }
};

duet::AsyncStream<int> count_fiber(int n) {
  return duet::fiber::async_stream<int>([n](duet::fiber::StreamYield<int>& yield) {
    for (int i = 0; i < n; ++i) yield(i);
  });
}

template <int Style>
duet::AsyncStream<int> count_stream(int n) {
  if constexpr (Style == 0) return duet::make_async_stream<CountExplicit>(n);
  if constexpr (Style == 1) return duet::make_async_stream<CountDsl>(n);
  if constexpr (Style == 2) return count_fiber(n);
}

constexpr int k_stream_items = 1000000;

template <int Style>
void BM_AsyncStream(benchmark::State& state) {
  auto s = count_stream<Style>(k_stream_items);
  AllocScope scope;
  long items = 0;
  for (auto _ : state) {
    auto e = s.get_async_enumerator();
    long sum = 0;
    while (e.move_next_async().result()) sum += e.current();
    items += k_stream_items;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["ns/item"] = benchmark::Counter(static_cast<double>(items),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs/item"] =
      benchmark::Counter(static_cast<double>(scope.allocations()) / static_cast<double>(items));
}
BENCHMARK(BM_AsyncStream<0>)->Name("AsyncStream/explicit")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AsyncStream<1>)->Name("AsyncStream/dsl")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AsyncStream<2>)->Name("AsyncStream/fiber")->Unit(benchmark::kMillisecond);

[[gnu::noinline]] int next_value(int i) {
  asm volatile("");
  return i;
}
void BM_StreamBaseline(benchmark::State& state) {
  long items = 0;
  for (auto _ : state) {
    long sum = 0;
    for (int i = 0; i < k_stream_items; ++i) sum += next_value(i);
    items += k_stream_items;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["ns/item"] = benchmark::Counter(static_cast<double>(items),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_StreamBaseline)->Name("AsyncStream/baseline_noinline_call")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
