// value_task_cache — seed 004, "ValueTask<T> vs Task<T>": a cache hit returns its value wrapped
// in a ValueTask with no allocation at all; a miss wraps a real asynchronous operation (a lookup
// on the thread pool). The program counts allocations with its own operator new and prints them,
// then shows the error of awaiting a ValueTask twice.
//
// The async method, as C# would write it:
//   static async ValueTask<int> GetCachedValueAsync(int key) {
//     if (cache.TryGetValue(key, out int v)) return v;      // hit: completes synchronously
//     int loaded = await Task.Run(() => SlowLookup(key));   // miss: really asynchronous
//     cache[key] = loaded;
//     return loaded;
//   }
//
// The driver, shared by the three styles: main(), the cache and the allocation counter.
// explicit.cpp, dsl.cpp and fiber.cpp define get_cached_value_async(), each in its own style.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>

#include <duet/duet.hpp>

#include "sample_alloc_counter.hpp"  // this program's own counting operator new

namespace {

std::uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }

// The cache: written by the continuation of a miss, read by later calls (which start after the
// miss completed, so no lock is needed in this sample).
std::optional<int> g_cache[100];

int slow_lookup(int key) { return key * 10; }

// get_cached_value_async(key) — GetCachedValueAsync; one per style.
duet::ValueTask<int> get_cached_value_async(int key);

void call_and_report(int key) {
  std::printf("get_cached_value_async(%d):\n", key);
  const std::uint64_t before = allocations();
  const int value = get_cached_value_async(key).result();
  const std::uint64_t n = allocations() - before;
  std::printf("  result %d, allocations: %s\n", value, n == 0 ? "0" : "1 or more");
}

}  // namespace

int main() {
  call_and_report(42);  // miss: a real asynchronous lookup
  call_and_report(42);  // hit: completes synchronously, nothing allocated
  call_and_report(42);

  std::printf("awaiting one ValueTask twice:\n");
  duet::ValueTask<int> vt = get_cached_value_async(42);
  auto first = vt.get_awaiter();
  std::printf("  first await: %d\n", first.get_result());
  try {
    auto second = vt.get_awaiter();
    std::printf("  second await: %d (not reached)\n", second.get_result());
  } catch (const duet::InvalidOperationError& e) {
    std::printf("  second await: InvalidOperationError: %s\n", e.what());
  }
  std::printf("  fix: call as_task() or preserve() to await a result more than once\n");
  duet::ValueTask<int> kept = get_cached_value_async(42).preserve();
  const int a = kept.get_awaiter().get_result();
  const int b = kept.get_awaiter().get_result();
  std::printf("  preserved: %d and %d\n", a, b);
  return 0;
}
