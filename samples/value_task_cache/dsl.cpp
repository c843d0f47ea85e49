// value_task_cache — DSL style. Seed 004, "ValueTask<T> vs Task<T>": a cache hit returns its
// value wrapped in a ValueTask with no allocation at all; a miss wraps a real asynchronous
// operation (a lookup on the thread pool). The same program as explicit.cpp; the async method is
// a duet::AsyncValueTaskMethod (AsyncMethod with AsyncValueTaskMethodBuilder<int>, the DSL's
// spelling of C#'s `async ValueTask<int>`) whose move_next() the DUET_* macros write.
//
// The async method, as C# would write it:
//   static async ValueTask<int> GetCachedValueAsync(int key) {
//     if (cache.TryGetValue(key, out int v)) return v;      // hit: completes synchronously
//     int loaded = await Task.Run(() => SlowLookup(key));   // miss: really asynchronous
//     cache[key] = loaded;
//     return loaded;
//   }
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "sample_alloc_counter.hpp"  // this program's own counting operator new

namespace {

std::uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }

// The cache: written by the continuation of a miss, read by later calls (which start after the
// miss completed, so no lock is needed in this sample).
std::optional<int> g_cache[100];

int slow_lookup(int key) { return key * 10; }

// GetCachedValueAsync — the method: its parameter and its one hoisted local are members.
struct GetCachedValueAsync : duet::AsyncValueTaskMethod<GetCachedValueAsync, int> {
  int key_;         // parameter `key`
  int loaded_ = 0;  // local `loaded`, lives across the await

  explicit GetCachedValueAsync(int key) : key_(key) {}

  void move_next() {
    DUET_BEGIN
      if (g_cache[key_]) {
        std::printf("  cache hit  -> the ValueTask wraps the value\n");
        DUET_RETURN(*g_cache[key_]);
      }
      std::printf("  cache miss -> the ValueTask wraps a real asynchronous operation\n");
      DUET_AWAIT_INTO(loaded_, duet::run([key = key_] { return slow_lookup(key); }));
      g_cache[key_] = loaded_;
      DUET_RETURN(loaded_);
    DUET_END
  }
};

void call_and_report(int key) {
  std::printf("get_cached_value_async(%d):\n", key);
  const std::uint64_t before = allocations();
  const int value = duet::start<GetCachedValueAsync>(key).result();
  const std::uint64_t n = allocations() - before;
  std::printf("  result %d, allocations: %s\n", value, n == 0 ? "0" : "1 or more");
}

}  // namespace

int main() {
  call_and_report(42);  // miss: a real asynchronous lookup
  call_and_report(42);  // hit: completes synchronously, nothing allocated
  call_and_report(42);

  std::printf("awaiting one ValueTask twice:\n");
  duet::ValueTask<int> vt = duet::start<GetCachedValueAsync>(42);
  auto first = vt.get_awaiter();
  std::printf("  first await: %d\n", first.get_result());
  try {
    auto second = vt.get_awaiter();
    std::printf("  second await: %d (not reached)\n", second.get_result());
  } catch (const duet::InvalidOperationError& e) {
    std::printf("  second await: InvalidOperationError: %s\n", e.what());
  }
  std::printf("  fix: call as_task() or preserve() to await a result more than once\n");
  duet::ValueTask<int> kept = duet::start<GetCachedValueAsync>(42).preserve();
  const int a = kept.get_awaiter().get_result();
  const int b = kept.get_awaiter().get_result();
  std::printf("  preserved: %d and %d\n", a, b);
  return 0;
}
