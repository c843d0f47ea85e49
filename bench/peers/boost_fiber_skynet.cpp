// boost_fiber_skynet.cpp — Boost.Fiber's own work-stealing skynet, the peer of
// bench_scheduler's Skynet rows (after libs/fiber/performance/fiber/skynet_stealing_async.cpp):
// every node is a fiber launched with launch::dispatch and a future, on a 16 KiB
// fixedsize_stack, and W threads share the fibers through algo::work_stealing.
//
// Usage: bench_peer_boost_fiber_skynet W
// Prints "<seconds of one skynet 1M run> <peak RSS in KiB> <sum>".
// A separate process because work_stealing fixes its thread count once per process.
#include <sys/resource.h>

#include <boost/fiber/all.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using allocator_type = boost::fibers::fixedsize_stack;

std::int64_t skynet(allocator_type& salloc, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) return num;
  size /= div;
  std::vector<boost::fibers::future<std::int64_t>> results;
  results.reserve(static_cast<std::size_t>(div));
  for (std::int64_t i = 0; i != div; ++i) {
    results.emplace_back(boost::fibers::async(boost::fibers::launch::dispatch, std::allocator_arg,
                                              salloc, skynet, std::ref(salloc), num + i * size,
                                              size, div));
  }
  std::int64_t sum = 0;
  for (auto& f : results) sum += f.get();
  return sum;
}

std::mutex g_mutex;
std::condition_variable g_cv;
bool g_done = false;

void helper_thread(std::uint32_t threads) {
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(threads);
  std::unique_lock<std::mutex> lk(g_mutex);
  g_cv.wait(lk, [] { return g_done; });
}

}  // namespace

int main(int argc, char** argv) {
  const auto threads = static_cast<std::uint32_t>(argc > 1 ? std::atoi(argv[1]) : 2);
  if (threads == 0) return 2;
  std::vector<std::thread> helpers;
  for (std::uint32_t i = 1; i < threads; ++i) helpers.emplace_back(helper_thread, threads);
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(threads);
  allocator_type salloc{16 * 1024};
  // No warm-up run: fixedsize_stack caches nothing, and one run of this peer takes seconds.
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t sum = skynet(salloc, 0, 1'000'000, 10);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  {
    std::lock_guard<std::mutex> lk(g_mutex);
    g_done = true;
  }
  g_cv.notify_all();
  for (auto& t : helpers) t.join();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%.9f %ld %lld\n", took.count(), ru.ru_maxrss, static_cast<long long>(sum));
  return 0;
}
