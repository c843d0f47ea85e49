// bench_scheduler.cpp — the thread pool against its peers, in one run (issue 15).
//
// Rows are named Family/implementation/workers so a runner can group them:
//   ChainedPost/{duet,asio}/W    max(2, W) chains of work items, each item posting the next (the
//                                message-passing pattern); items per second.
//   ExternalPost/{duet,asio}/W   one producer thread (the benchmark thread) posts items that do
//                                nothing but count; from the first post to the last item run.
//   YieldPingPong/{explicit,dsl}/default
//                                two methods on the default pool, each awaiting yield() in a
//                                loop, so every resumption is a pool post; time per yield.
//   Skynet/{explicit,dsl,fiber}/W
//                                skynet 1M where EVERY node first hops onto a W-worker pool
//                                (an awaitable that posts the continuation), so all 1,111,111
//                                nodes are scheduled; peak RSS of the row in `peak_rss_MiB`.
//   Skynet/boost_fiber/W         Boost.Fiber's own work_stealing skynet (launch::dispatch,
//                                futures, 16 KiB fixedsize_stack, W threads), run in a child
//                                process (bench_peer_boost_fiber_skynet: its work_stealing
//                                algorithm fixes the thread count once per process); manual
//                                time is the child's own measurement, peak RSS the child's.
//   SkynetDepthFirst/{explicit,dsl,fiber}
//                                the same methods without the hop: the leaves complete
//                                synchronously, so the tree runs depth-first on the calling
//                                thread (what bench_skynet measures). Not a scheduling figure.
//
// W is 1, 2 and each count up to hardware_concurrency() (the scaling table). Run with
//   build-release/bench/bench_scheduler --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true      (one command line)
// and quote medians as ratios between rows of one run (bench/compare.py).
#include <benchmark/benchmark.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>
#include <duet/sm/dsl.hpp>

#include "bench_util.hpp"

namespace {

using duet::Continuation;
using duet::ThreadPool;

unsigned max_workers() { return std::max(2u, std::thread::hardware_concurrency()); }

// ---- peak RSS ---------------------------------------------------------------------------------

// reset_peak_rss() — resets the process's VmHWM (Linux: "5" into /proc/self/clear_refs), so
// peak_rss_mib() afterwards is the peak of what ran in between (plus what was resident before).
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// ---- ChainedPost --------------------------------------------------------------------------------

constexpr long k_chain_items = 200'000;  // per chain, per iteration

// ChainItem — a work item that posts itself again until its budget is spent. Aligned so two
// chains never share a cache line (Asio's handlers live in per-thread recycled memory).
struct alignas(128) ChainItem : Continuation {
  ThreadPool* pool = nullptr;
  long left = 0;
  std::atomic<int>* done = nullptr;
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<ChainItem*>(c);
    if (--self->left > 0) {
      self->pool->post(*self);
      return;
    }
    std::atomic<int>* done = self->done;
    done->fetch_add(1, std::memory_order_release);
    done->notify_all();
  }
};

void wait_until(std::atomic<int>& counter, int value) {
  for (int seen = counter.load(std::memory_order_acquire); seen < value;
       seen = counter.load(std::memory_order_acquire)) {
    counter.wait(seen);
  }
}

void ChainedPost_duet(benchmark::State& state) {
  const auto workers = static_cast<unsigned>(state.range(0));
  const int chains = static_cast<int>(std::max(2u, workers));
  ThreadPool pool(workers);
  std::vector<ChainItem> items(static_cast<std::size_t>(chains));
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    std::atomic<int> done{0};
    for (auto& it : items) {
      it.invoke = &ChainItem::run;
      it.pool = &pool;
      it.left = k_chain_items;
      it.done = &done;
    }
    for (auto& it : items) pool.post(it);
    wait_until(done, chains);
  }
  duet::bench::report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations() * chains * k_chain_items);
}

// AsioChain — the same chain on boost::asio::thread_pool (a handler that posts a copy of itself).
struct AsioChain {
  boost::asio::thread_pool* pool;
  long left;
  std::atomic<int>* done;
  void operator()() const {
    if (left > 1) {
      boost::asio::post(*pool, AsioChain{pool, left - 1, done});
      return;
    }
    done->fetch_add(1, std::memory_order_release);
    done->notify_all();
  }
};

void ChainedPost_asio(benchmark::State& state) {
  const auto workers = static_cast<unsigned>(state.range(0));
  const int chains = static_cast<int>(std::max(2u, workers));
  boost::asio::thread_pool pool(workers);
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    std::atomic<int> done{0};
    for (int i = 0; i < chains; ++i) boost::asio::post(pool, AsioChain{&pool, k_chain_items, &done});
    wait_until(done, chains);
  }
  duet::bench::report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations() * chains * k_chain_items);
  pool.join();
}

// ---- ExternalPost -------------------------------------------------------------------------------

constexpr int k_external_items = 200'000;  // per iteration

struct CountItem : Continuation {
  std::atomic<int>* done = nullptr;
  static void run(Continuation* c) noexcept {
    std::atomic<int>* done = static_cast<CountItem*>(c)->done;
    if (done->fetch_add(1, std::memory_order_acq_rel) + 1 == k_external_items) done->notify_all();
  }
};

void ExternalPost_duet(benchmark::State& state) {
  ThreadPool pool(static_cast<unsigned>(state.range(0)));
  std::vector<CountItem> items(k_external_items);
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    std::atomic<int> done{0};
    for (auto& it : items) {
      it.invoke = &CountItem::run;
      it.done = &done;
      pool.post(it);
    }
    wait_until(done, k_external_items);
  }
  duet::bench::report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations() * k_external_items);
}

void ExternalPost_asio(benchmark::State& state) {
  boost::asio::thread_pool pool(static_cast<unsigned>(state.range(0)));
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    std::atomic<int> done{0};
    for (int i = 0; i < k_external_items; ++i) {
      boost::asio::post(pool, [&done] {
        if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == k_external_items) done.notify_all();
      });
    }
    wait_until(done, k_external_items);
  }
  duet::bench::report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations() * k_external_items);
  pool.join();
}

// ---- the hop: an awaitable that resumes its awaiter on a given pool ----------------------------

// Hop — `await Hop{pool}` posts the continuation to `pool` (null: completes at once, no hop).
struct Hop {
  ThreadPool* pool;
  struct Awaiter {
    ThreadPool* pool = nullptr;
    bool is_completed() const noexcept { return pool == nullptr; }
    void on_completed(Continuation& c) noexcept {
      duet::detail::capture_execution_context(c);
      unsafe_on_completed(c);
    }
    void unsafe_on_completed(Continuation& c) noexcept {
      c.context = nullptr;
      pool->post(c);
    }
    void get_result() const noexcept {}
  };
  Awaiter get_awaiter() const noexcept { return {pool}; }
};

// ---- YieldPingPong ------------------------------------------------------------------------------

constexpr int k_yields = 100'000;  // per method, per iteration

// YieldLoopMachine — `async Task Loop(int n) { for (i = 0; i < n; ++i) await Task.Yield(); }`.
struct YieldLoopMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  int n_ = 0;
  int i_ = 0;
  duet::YieldAwaitable::YieldAwaiter awaiter_{};
  void move_next() {
    if (state_ == 0) goto resume_0;
    for (i_ = 0; i_ < n_; ++i_) {
      awaiter_ = duet::get_awaiter(duet::yield());
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume_0:
      state_ = -1;
      awaiter_.get_result();
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> yield_loop_explicit(int n) {
  YieldLoopMachine sm;
  sm.n_ = n;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

struct YieldLoopDsl : duet::AsyncMethod<YieldLoopDsl, void> {
  int n_;
  int i_ = 0;
  explicit YieldLoopDsl(int n) : n_(n) {}
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < n_; ++i_) {
        DUET_AWAIT(duet::yield());
      }
    DUET_END
  }
};

duet::Task<> yield_loop_dsl(int n) { return duet::start<YieldLoopDsl>(n); }

template <duet::Task<> (*Loop)(int)>
void YieldPingPong(benchmark::State& state) {
  (void)duet::default_scheduler();
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    duet::Task<> a = Loop(k_yields);
    duet::Task<> b = Loop(k_yields);
    a.wait();
    b.wait();
  }
  duet::bench::report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations() * 2 * k_yields);
}

// ---- Skynet -------------------------------------------------------------------------------------

constexpr long k_size = 1'000'000;
constexpr long k_div = 10;
constexpr long k_expected = 499'999'500'000;

duet::Task<long> skynet_explicit(ThreadPool* pool, long num, long size);

// SkynetMachine — the state machine of
//   async Task<long> Skynet(pool, long num, long size) {
//     await Hop(pool);                       // every node is scheduled on the pool
//     if (size == 1) return num;
//     var children = new Task<long>[10];
//     for (int i = 0; i < 10; ++i) children[i] = Skynet(pool, num + i * (size / 10), size / 10);
//     long sum = 0;
//     for (int i = 0; i < 10; ++i) sum += await children[i];   // (see "Memory" below)
//     return sum;
//   }
// Memory. Each node awaits its children by moving the task into the awaiter, so a child's box
// is freed once its value has been read. Keeping every handle until the node returns (the C#
// hoisted array, which keeps the tree reachable for .NET's GC too) retains all 1,111,111 boxes
// until the root finishes: ~310 MiB explicit, ~515 MiB dsl, whatever the scheduler's order.
struct SkynetMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<long> builder_;
  ThreadPool* pool_ = nullptr;
  long num_ = 0;
  long size_ = 0;
  long sum_ = 0;
  int i_ = 0;
  duet::Task<long> children_[k_div];
  Hop::Awaiter hop_;
  duet::TaskAwaiter<long> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) goto resume_hop;
      if (state_ == 1) goto resume_child;
      hop_ = Hop{pool_}.get_awaiter();
      if (!hop_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(hop_, *this);
        return;
      }
    resume_hop:
      state_ = -1;
      hop_.get_result();
      if (size_ == 1) {
        state_ = -2;
        builder_.set_result(num_);
        return;
      }
      for (int i = 0; i < k_div; ++i) {
        children_[i] = skynet_explicit(pool_, num_ + i * (size_ / k_div), size_ / k_div);
      }
      for (i_ = 0; i_ < k_div; ++i_) {
        awaiter_ = std::move(children_[i_]).get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume_child:
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

duet::Task<long> skynet_explicit(ThreadPool* pool, long num, long size) {
  SkynetMachine sm;
  sm.pool_ = pool;
  sm.num_ = num;
  sm.size_ = size;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

duet::Task<long> skynet_dsl(ThreadPool* pool, long num, long size);

struct SkynetDsl : duet::AsyncMethod<SkynetDsl, long> {
  ThreadPool* pool_;
  long num_;
  long size_;
  long sum_ = 0;
  long child_ = 0;
  int i_ = 0;
  duet::Task<long> children_[k_div];
  SkynetDsl(ThreadPool* pool, long num, long size) : pool_(pool), num_(num), size_(size) {}

  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(Hop{pool_});
      if (size_ == 1) {
        DUET_RETURN(num_);
      }
      for (int i = 0; i < k_div; ++i) {
        children_[i] = skynet_dsl(pool_, num_ + i * (size_ / k_div), size_ / k_div);
      }
      for (i_ = 0; i_ < k_div; ++i_) {
        DUET_AWAIT_INTO(child_, std::move(children_[i_]));
        sum_ += child_;
      }
      DUET_RETURN(sum_);
    DUET_END
  }
};

duet::Task<long> skynet_dsl(ThreadPool* pool, long num, long size) {
  return duet::start<SkynetDsl>(pool, num, size);
}

duet::Task<long> skynet_fiber(ThreadPool* pool, long num, long size) {
  return duet::fiber::async([pool, num, size] {
    duet::await(Hop{pool});
    if (size == 1) return num;
    duet::Task<long> children[k_div];
    for (long i = 0; i < k_div; ++i) {
      children[i] = skynet_fiber(pool, num + i * (size / k_div), size / k_div);
    }
    long sum = 0;
    for (auto& child : children) sum += duet::await(std::move(child));
    return sum;
  });
}

template <duet::Task<long> (*Skynet)(ThreadPool*, long, long)>
void SkynetScheduled(benchmark::State& state) {
  ThreadPool pool(static_cast<unsigned>(state.range(0)));
  reset_peak_rss();
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    if (Skynet(&pool, 0, k_size).result() != k_expected) state.SkipWithError("wrong sum");
  }
  duet::bench::report_allocs(state, scope);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

template <duet::Task<long> (*Skynet)(ThreadPool*, long, long)>
void SkynetDepthFirst(benchmark::State& state) {
  reset_peak_rss();
  duet::bench::AllocScope scope;
  for (auto _ : state) {
    if (Skynet(nullptr, 0, k_size).result() != k_expected) state.SkipWithError("wrong sum");
  }
  duet::bench::report_allocs(state, scope);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// ---- Boost.Fiber, in a child process --------------------------------------------------------------

std::string peer_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string self(buf, static_cast<std::size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "bench_peer_boost_fiber_skynet";
}

void Skynet_boost_fiber(benchmark::State& state) {
  const std::string peer = peer_path();
  if (access(peer.c_str(), X_OK) != 0) {
    state.SkipWithError("bench_peer_boost_fiber_skynet was not built (needs libboost-fiber-dev)");
    return;
  }
  double rss = 0;
  for (auto _ : state) {
    const std::string cmd = peer + " " + std::to_string(state.range(0));
    FILE* p = popen(cmd.c_str(), "r");
    double seconds = 0;
    double rss_kib = 0;
    long sum = 0;
    const int got = p ? std::fscanf(p, "%lf %lf %ld", &seconds, &rss_kib, &sum) : 0;
    if (p) pclose(p);
    if (got != 3 || sum != k_expected) {
      state.SkipWithError("the Boost.Fiber peer failed");
      return;
    }
    state.SetIterationTime(seconds);
    rss = std::max(rss, rss_kib / 1024.0);
  }
  state.counters["peak_rss_MiB"] = rss;
}

void worker_counts(benchmark::internal::Benchmark* b) {
  for (unsigned w = 1; w <= max_workers(); ++w) b->Arg(w);
}

}  // namespace

BENCHMARK(ChainedPost_duet)->Name("ChainedPost/duet")->Apply(worker_counts)->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(ChainedPost_asio)->Name("ChainedPost/asio")->Apply(worker_counts)->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(ExternalPost_duet)->Name("ExternalPost/duet")->Apply(worker_counts)->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(ExternalPost_asio)->Name("ExternalPost/asio")->Apply(worker_counts)->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(YieldPingPong, yield_loop_explicit)->Name("YieldPingPong/explicit/default")
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(YieldPingPong, yield_loop_dsl)->Name("YieldPingPong/dsl/default")
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetScheduled, skynet_explicit)->Name("Skynet/explicit")
    ->Apply(worker_counts)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetScheduled, skynet_dsl)->Name("Skynet/dsl")->Apply(worker_counts)
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetScheduled, skynet_fiber)->Name("Skynet/fiber")->Apply(worker_counts)
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(Skynet_boost_fiber)->Name("Skynet/boost_fiber")->Apply(worker_counts)->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetDepthFirst, skynet_explicit)->Name("SkynetDepthFirst/explicit")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetDepthFirst, skynet_dsl)->Name("SkynetDepthFirst/dsl")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(SkynetDepthFirst, skynet_fiber)->Name("SkynetDepthFirst/fiber")
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
