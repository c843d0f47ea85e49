// value_task_cache — fiber style: the C# body on a fiber, started with duet::fiber::async_value:
// the fiber's pooled control block is itself the IValueTaskSource behind a suspended call's
// ValueTask, and it is reused once that ValueTask has been consumed. A hit completes inside the
// call: the ValueTask holds the value, and the fiber object and its stack go straight back to
// their pools — so once the miss has warmed them, a hit allocates nothing, as with the explicit
// style's AsyncValueTaskMethodBuilder. The program is driver.hpp.
#include "driver.hpp"

namespace {

// get_cached_value_async(key) — GetCachedValueAsync, on a fiber.
duet::ValueTask<int> get_cached_value_async(int key) {
  return duet::fiber::async_value([key] {
    if (g_cache[key]) {
      std::printf("  cache hit  -> the ValueTask wraps the value\n");
      return *g_cache[key];
    }
    std::printf("  cache miss -> the ValueTask wraps a real asynchronous operation\n");
    const int loaded = duet::await(duet::run([key] { return slow_lookup(key); }));
    g_cache[key] = loaded;
    return loaded;
  });
}

}  // namespace
