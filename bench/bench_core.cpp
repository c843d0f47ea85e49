// bench_core.cpp — the costs the foundation promises, each next to its baseline (bench_util.hpp
// explains the naming and the allocs/op counter):
//
//   AwaitCompleted   awaiting an already completed Task<int> in explicit style, per await
//                    (promise: 0 allocations, a few ns) — vs a non-inlined plain call and a read of
//                    a completed std::shared_future, and the bare add_ref/release pair that an
//                    owning awaiter would cost (TaskAwaiter borrows an lvalue task on this path,
//                    so it pays none of it).
//   SyncCompletion   calling an async method that never suspends, per call: Task<> (shares the
//                    completed task: 0 allocations) vs Task<int> (its result needs a state: 1) —
//                    vs a plain call.
//   SuspendResume    a call that suspends once and is resumed (promise: exactly 1 allocation, the
//                    box, which is also the task's state; the TaskCompletionSource that feeds it
//                    is counted apart as tcs_allocs/op) — vs a std::function callback and a
//                    std::promise/std::future round trip. explicit_reusable_source: the same
//                    method awaiting a reusable, pre-created source (no TaskCompletionSource):
//                    the method's own suspend + resume, 1 allocation (the box).
//   Post             posting an existing Continuation to a ThreadPool and having it run
//                    (promise: 0 allocations) — vs Boost.Lockfree push+pop alone on one thread,
//                    and a std::mutex + std::deque queue drained by one thread.
//
// Reproduce: meson setup build-release --buildtype=release && ninja -C build-release bench/bench_core
//            && build-release/bench/bench_core   (or `ninja -C build-release compare` for ratios)
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/lockfree/queue.hpp>

#include "bench_util.hpp"
#include "suspend_once_machine.hpp"
#include "duet/duet.hpp"

namespace {

using duet::bench::AllocScope;
using duet::bench::allocations_now;
using duet::bench::report_allocs;
using duet::bench::report_per_op;

// k_batch — awaits per start() of the AwaitCompleted machine (one benchmark iteration each).
constexpr std::int64_t k_batch = 1000;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// plain_call(x) — the baseline "method": returns an int through a call the compiler cannot inline.
[[gnu::noinline]] int plain_call(int x) {
  benchmark::DoNotOptimize(x);
  return x + 1;
}

// ---------------------------------------------------------------------------------------------
// AwaitCompleted
// ---------------------------------------------------------------------------------------------

struct CopyingAwait {
  using awaiter_type = duet::TaskAwaiter<int>;
  static awaiter_type get(const duet::Task<int>& t) noexcept { return t.get_awaiter(); }
};

// AwaitCompletedMachine — `async Task SumAsync(Task<int> t, long n) { for (i = 0; i < n; ++i)
// sum += await t; }` as Roslyn would write it. The task is always completed, so every await takes
// the fast path (get_awaiter / is_completed / get_result) and the machine never boxes; the resume
// branch (state 0) is there because a correct machine needs it, not because it runs.
template <class Get>
struct AwaitCompletedMachine {
  using Awaiter = typename Get::awaiter_type;
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  const duet::Task<int>* task_ = nullptr;
  std::int64_t count_ = 0;
  std::int64_t i_ = 0;
  std::int64_t sum_ = 0;
  Awaiter awaiter_;

  void move_next() {
    try {
      if (state_ == 0) {
        Awaiter awaiter = std::move(awaiter_);
        awaiter_ = {};
        state_ = -1;
        sum_ += awaiter.get_result();
        ++i_;
      }
      for (; i_ < count_; ++i_) {
        Awaiter awaiter = Get::get(*task_);
        if (!awaiter.is_completed()) {
          state_ = 0;
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;
        }
        sum_ += awaiter.get_result();
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

template <class Get>
void await_completed(benchmark::State& state) {
  const duet::Task<int> task = duet::from_result(41);
  std::int64_t total = 0;
  AllocScope scope;
  while (state.KeepRunningBatch(k_batch)) {
    AwaitCompletedMachine<Get> sm{.state_ = -1,
                                  .builder_ = duet::AsyncTaskMethodBuilder<>::create(),
                                  .task_ = &task,
                                  .count_ = k_batch,
                                  .awaiter_ = {}};
    sm.builder_.start(sm);
    total += sm.sum_;
    benchmark::DoNotOptimize(total);
  }
  report_allocs(state, scope);
}

void AwaitCompleted_explicit_task_int(benchmark::State& state) { await_completed<CopyingAwait>(state); }
BENCHMARK(AwaitCompleted_explicit_task_int)->Name("AwaitCompleted/explicit_task_int");

// The awaiter protocol alone, without a state machine around it.
void AwaitCompleted_awaiter_only(benchmark::State& state) {
  const duet::Task<int> task = duet::from_result(41);
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::TaskAwaiter<int> awaiter = task.get_awaiter();
    if (!awaiter.is_completed()) state.SkipWithError("the task should be completed");
    sum += awaiter.get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_awaiter_only)->Name("AwaitCompleted/awaiter_only");

void AwaitCompleted_baseline_noinline_call(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    sum += plain_call(41);
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_baseline_noinline_call)->Name("AwaitCompleted/baseline_noinline_call");

void AwaitCompleted_baseline_shared_future_get(benchmark::State& state) {
  std::promise<int> promise;
  std::shared_future<int> future = promise.get_future().share();
  promise.set_value(41);
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    sum += future.get();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_baseline_shared_future_get)->Name("AwaitCompleted/baseline_shared_future_get");

// What copying a Task handle costs by itself: the add_ref + release pair (two atomic
// read-modify-writes on one cache line) that TaskAwaiter's copy of the task performs.
void AwaitCompleted_baseline_refcount_pair(benchmark::State& state) {
  std::atomic<std::uint32_t> refs{1};
  AllocScope scope;
  for (auto _ : state) {
    refs.fetch_add(1, std::memory_order_relaxed);
    benchmark::DoNotOptimize(refs.fetch_sub(1, std::memory_order_acq_rel));
  }
  report_allocs(state, scope);
}
BENCHMARK(AwaitCompleted_baseline_refcount_pair)->Name("AwaitCompleted/baseline_refcount_pair");

// ---------------------------------------------------------------------------------------------
// SyncCompletion
// ---------------------------------------------------------------------------------------------

// SyncMachine<T> — `async Task<T> F(int x) { return x + 1; }` (no await: completes in start()).
template <class T>
struct SyncMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<T> builder_;
  int x_ = 0;
  std::int64_t* out_ = nullptr;  // where the void variant leaves its "result"

  void move_next() {
    int result = 0;
    try {
      result = plain_call(x_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    if constexpr (std::is_void_v<T>) {
      *out_ += result;
      builder_.set_result();
    } else {
      builder_.set_result(result);
    }
  }
};

template <class T>
duet::Task<T> sync_async(int x, std::int64_t* out) {
  SyncMachine<T> sm{.state_ = -1,
                    .builder_ = duet::AsyncTaskMethodBuilder<T>::create(),
                    .x_ = x,
                    .out_ = out};
  sm.builder_.start(sm);
  return sm.builder_.task();
}

void SyncCompletion_explicit_task_void(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::Task<> t = sync_async<void>(41, &sum);
    t.get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(SyncCompletion_explicit_task_void)->Name("SyncCompletion/explicit_task_void");

void SyncCompletion_explicit_task_int(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::Task<int> t = sync_async<int>(41, nullptr);
    sum += std::move(t).get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(SyncCompletion_explicit_task_int)->Name("SyncCompletion/explicit_task_int");

void SyncCompletion_baseline_noinline_call(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    sum += plain_call(41);
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(SyncCompletion_baseline_noinline_call)->Name("SyncCompletion/baseline_noinline_call");

// ---------------------------------------------------------------------------------------------
// SuspendResume
// ---------------------------------------------------------------------------------------------

// SuspendOnceMachine (tests/support/suspend_once_machine.hpp) — `async Task<int> F(Task<int> t)
// { return await t + 1; }` awaited on an incomplete task: boxes at the await, resumes inline when
// the source completes.
using duet::testing::SuspendOnceMachine;

void SuspendResume_explicit_tcs(benchmark::State& state) {
  std::int64_t sum = 0;
  std::uint64_t tcs_allocs = 0;
  std::int64_t suspended = 0;
  AllocScope scope;
  for (auto _ : state) {
    const std::uint64_t before = allocations_now();
    duet::TaskCompletionSource<int> tcs;
    tcs_allocs += allocations_now() - before;
    duet::Task<int> task;
    {
      SuspendOnceMachine sm{.state_ = -1,
                            .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                            .source_ = tcs.task(),
                            .awaiter_ = {}};
      sm.builder_.start(sm);
      task = sm.builder_.task();
    }
    suspended += task.is_completed() ? 0 : 1;
    tcs.set_result(41);  // resumes the machine inline, on this thread
    sum += std::move(task).get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  const double total = static_cast<double>(scope.allocations());  // before report_allocs allocates
  report_allocs(state, scope);
  report_per_op(state, "tcs_allocs/op", static_cast<double>(tcs_allocs));
  report_per_op(state, "box_allocs/op", total - static_cast<double>(tcs_allocs));
  report_per_op(state, "suspended/op", static_cast<double>(suspended));
}
BENCHMARK(SuspendResume_explicit_tcs)->Name("SuspendResume/explicit_tcs");

// ReusableSource — an awaitable operation that is created once and completed many times, the
// shape of a socket's or a channel's reusable receive (.NET's IValueTaskSource objects): its
// awaiter parks the continuation in one slot, fire(v) hands over the value and dispatches it.
// No allocation and no reference count of its own, so the row below measures the method's side
// of one suspension: boxing, capture, dispatch, run-with-restore, resumption, completion and
// the box's release.
class ReusableSource {
 public:
  class Awaiter {
   public:
    explicit Awaiter(ReusableSource* s) noexcept : s_(s) {}
    bool is_completed() const noexcept { return false; }
    void on_completed(duet::Continuation& c) noexcept { park(c, true); }
    void unsafe_on_completed(duet::Continuation& c) noexcept { park(c, false); }
    int get_result() const noexcept { return s_->value_; }

   private:
    void park(duet::Continuation& c, bool flow) noexcept {
      duet::detail::capture(c, true, flow);
      s_->waiter_ = &c;
    }
    ReusableSource* s_;
  };
  Awaiter get_awaiter() noexcept { return Awaiter(this); }
  // fire(v) — completes the pending await with `v`: its continuation is dispatched (inline here).
  void fire(int v) noexcept {
    value_ = v;
    duet::detail::dispatch_continuation(*std::exchange(waiter_, nullptr), false);
  }

 private:
  duet::Continuation* waiter_ = nullptr;
  int value_ = 0;
};

// ReusableSourceMachine — SuspendOnceMachine's method, `async Task<int> F(src) { return await src
// + 1; }`, in the same Roslyn shape, awaiting a ReusableSource instead of a Task<int>.
struct ReusableSourceMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  ReusableSource* source_ = nullptr;
  ReusableSource::Awaiter awaiter_{nullptr};

  void move_next() {
    const int num = state_;
    int result = 0;
    try {
      ReusableSource::Awaiter awaiter{nullptr};
      if (num != 0) {
        awaiter = source_->get_awaiter();
        if (!awaiter.is_completed()) {
          state_ = 0;
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;
        }
      } else {
        awaiter = awaiter_;
        state_ = -1;
      }
      result = awaiter.get_result() + 1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

// SuspendResume/explicit_reusable_source — the method's own suspend + resume: one box
// allocation, no TaskCompletionSource (the awaited source exists before the loop).
void SuspendResume_explicit_reusable_source(benchmark::State& state) {
  ReusableSource source;
  std::int64_t sum = 0;
  std::int64_t suspended = 0;
  AllocScope scope;
  for (auto _ : state) {
    duet::Task<int> task;
    {
      ReusableSourceMachine sm{.state_ = -1,
                               .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                               .source_ = &source,
                               .awaiter_ = ReusableSource::Awaiter(nullptr)};
      sm.builder_.start(sm);
      task = sm.builder_.task();
    }
    suspended += task.is_completed() ? 0 : 1;
    source.fire(41);  // resumes the machine inline, on this thread
    sum += std::move(task).get_awaiter().get_result();
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
  report_per_op(state, "suspended/op", static_cast<double>(suspended));
}
BENCHMARK(SuspendResume_explicit_reusable_source)->Name("SuspendResume/explicit_reusable_source");

void SuspendResume_baseline_std_function(benchmark::State& state) {
  // A callback registered with a pending operation and invoked when it completes, capturing as
  // much as the machine carries (too much for std::function's small buffer: one allocation).
  std::int64_t sum = 0;
  std::int64_t a = 1, b = 2, c = 3;
  benchmark::DoNotOptimize(a);
  AllocScope scope;
  for (auto _ : state) {
    std::function<void(int)> on_done = [&sum, a, b, c](int v) { sum += v + a + b + c; };
    benchmark::DoNotOptimize(on_done);
    on_done(41);
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(SuspendResume_baseline_std_function)->Name("SuspendResume/baseline_std_function");

void SuspendResume_baseline_promise_future(benchmark::State& state) {
  std::int64_t sum = 0;
  AllocScope scope;
  for (auto _ : state) {
    std::promise<int> promise;
    std::future<int> future = promise.get_future();
    promise.set_value(41);
    sum += future.get() + 1;
    benchmark::DoNotOptimize(sum);
  }
  report_allocs(state, scope);
}
BENCHMARK(SuspendResume_baseline_promise_future)->Name("SuspendResume/baseline_promise_future");

// ---------------------------------------------------------------------------------------------
// Post
// ---------------------------------------------------------------------------------------------

// RingNode — a Continuation that marks itself idle when it runs, so the poster can reuse it.
struct RingNode : duet::Continuation {
  std::atomic<bool> busy{false};
  RingNode() {
    invoke = [](duet::Continuation* c) noexcept {
      static_cast<RingNode&>(*c).busy.store(false, std::memory_order_release);
    };
  }
};

// k_ring — nodes in flight at most; below the pool queue's preallocated node count.
constexpr std::size_t k_ring = 1024;

// post_ring(state, post) — posts the ring's nodes round-robin (waiting for a node to have run
// before posting it again), then waits for all of them. One iteration = one post + one run.
template <class Post>
void post_ring(benchmark::State& state, Post&& post) {
  std::vector<RingNode> ring(k_ring);
  std::size_t i = 0;
  AllocScope scope;
  for (auto _ : state) {
    RingNode& node = ring[i++ % k_ring];
    while (node.busy.load(std::memory_order_acquire)) cpu_relax();
    node.busy.store(true, std::memory_order_relaxed);
    post(node);
  }
  for (auto& node : ring) {
    while (node.busy.load(std::memory_order_acquire)) cpu_relax();
  }
  report_allocs(state, scope);
  state.SetItemsProcessed(state.iterations());
}

void Post_thread_pool_existing_continuation(benchmark::State& state) {
  static duet::ThreadPool pool(1);  // one worker, like the mutex baseline's one consumer
  post_ring(state, [](duet::Continuation& c) { pool.post(c); });
}
BENCHMARK(Post_thread_pool_existing_continuation)->Name("Post/thread_pool_existing_continuation")->UseRealTime();

// MutexQueue — the textbook pool queue: std::mutex + std::deque + condition variable, one
// consumer thread.
class MutexQueue {
 public:
  MutexQueue() : worker_([this] { drain(); }) {}
  MutexQueue(const MutexQueue&) = delete;
  MutexQueue& operator=(const MutexQueue&) = delete;
  ~MutexQueue() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stopping_ = true;
    }
    cv_.notify_one();
    worker_.join();
  }
  void post(duet::Continuation& c) {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      queue_.push_back(&c);
    }
    cv_.notify_one();
  }

 private:
  void drain() {
    std::unique_lock<std::mutex> lk(mutex_);
    for (;;) {
      cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      duet::Continuation* c = queue_.front();
      queue_.pop_front();
      lk.unlock();
      c->invoke(c);
      lk.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<duet::Continuation*> queue_;  // guarded by mutex_
  bool stopping_ = false;                  // guarded by mutex_
  std::thread worker_;
};

void Post_baseline_mutex_deque(benchmark::State& state) {
  static MutexQueue queue;
  post_ring(state, [](duet::Continuation& c) { queue.post(c); });
}
BENCHMARK(Post_baseline_mutex_deque)->Name("Post/baseline_mutex_deque")->UseRealTime();

void Post_baseline_lockfree_push_pop(benchmark::State& state) {
  // The pool's queue type alone: push then pop on one thread, no wake-up, no other thread.
  boost::lockfree::queue<duet::Continuation*> queue(k_ring);
  RingNode node;
  AllocScope scope;
  for (auto _ : state) {
    queue.push(&node);
    duet::Continuation* c = nullptr;
    queue.pop(c);
    benchmark::DoNotOptimize(c);
  }
  report_allocs(state, scope);
}
BENCHMARK(Post_baseline_lockfree_push_pop)->Name("Post/baseline_lockfree_push_pop");

}  // namespace

BENCHMARK_MAIN();
