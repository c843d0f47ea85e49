// thread_pool.cpp — ThreadPool: one Boost.Lockfree MPMC queue, workers that spin then park.
//
// Parking protocol (no lost wake-ups). A worker about to sleep increments `sleepers` and then
// re-checks the queue, both under `mutex`; a poster pushes and then reads `sleepers`. Both sides
// put a seq_cst fence between their write and their read, so at least one of them sees the
// other: either the worker finds the item, or the poster sees a sleeper and notifies under the
// mutex (which it can only take once the worker is inside cv.wait or has not yet re-checked).
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/lockfree/queue.hpp>

#include "duet/detail/assert.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/scheduler.hpp"
#include "duet/sync_context.hpp"

namespace duet {

namespace {
// k_spin — polls of the queue before a worker parks.
constexpr int k_spin = 256;
// k_initial_nodes — queue nodes preallocated so steady-state posting never allocates.
constexpr std::size_t k_initial_nodes = 4096;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

[[gnu::noinline]] const void*& current_pool() noexcept {
  thread_local const void* pool = nullptr;
  return pool;
}
}  // namespace

struct ThreadPool::Impl {
  explicit Impl(unsigned n) : queue(k_initial_nodes) {
    workers.reserve(n);
    for (unsigned i = 0; i < n; ++i) workers.emplace_back([this] { run_worker(); });
  }

  void post(Continuation& c) noexcept {
    while (!queue.push(&c)) cpu_relax();  // push fails only when node allocation fails
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_relaxed) > 0) {
      std::lock_guard<std::mutex> lk(mutex);
      cv.notify_one();
    }
  }

  static void execute(Continuation* c) noexcept {
    run_continuation(c);
    // A pool thread is clean between work items.
    if (detail::ec_current()) detail::ec_set_current(nullptr);
    if (SynchronizationContext::current()) SynchronizationContext::set_current(nullptr);
  }

  void run_worker() {
    current_pool() = this;
    Continuation* c = nullptr;
    for (;;) {
      bool got = false;
      for (int i = 0; i < k_spin; ++i) {
        if (queue.pop(c)) {
          got = true;
          break;
        }
        cpu_relax();
      }
      if (!got) {
        std::unique_lock<std::mutex> lk(mutex);
        sleepers.fetch_add(1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        while (!queue.pop(c)) {
          if (stopping.load(std::memory_order_relaxed)) {
            sleepers.fetch_sub(1, std::memory_order_relaxed);
            return;
          }
          cv.wait(lk);
        }
        sleepers.fetch_sub(1, std::memory_order_relaxed);
      }
      execute(c);
    }
  }

  boost::lockfree::queue<Continuation*> queue;
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<int> sleepers{0};
  std::atomic<bool> stopping{false};
};

ThreadPool::ThreadPool(unsigned workers) {
  if (workers == 0) workers = std::max(2u, std::thread::hardware_concurrency());
  impl_ = std::make_unique<Impl>(workers);
}

ThreadPool::~ThreadPool() {
  if (is_worker_thread()) [[unlikely]] {  // misuse: a worker cannot join itself (see errors.cpp)
    detail::report_pool_destroyed_from_worker();
    (void)impl_.release();  // abandoned: the workers keep running, nothing is freed under them
    return;
  }
  {
    std::lock_guard<std::mutex> lk(impl_->mutex);
    impl_->stopping.store(true, std::memory_order_relaxed);
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
}

void ThreadPool::post(Continuation& c) noexcept { impl_->post(c); }

unsigned ThreadPool::worker_count() const noexcept {
  return static_cast<unsigned>(impl_->workers.size());
}

bool ThreadPool::is_worker_thread() const noexcept { return current_pool() == impl_.get(); }

ThreadPool& default_scheduler() {
  // Never destroyed: work may still be running when static destructors run at exit, and joining
  // a worker blocked on a task nobody will complete would hang the exit.
  static ThreadPool* const pool = new ThreadPool();
  return *pool;
}

bool is_thread_pool_thread() noexcept { return default_scheduler().is_worker_thread(); }

}  // namespace duet
