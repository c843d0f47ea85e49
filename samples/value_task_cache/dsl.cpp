// value_task_cache — DSL style: the async method is a duet::AsyncValueTaskMethod (AsyncMethod with
// AsyncValueTaskMethodBuilder<int>, the DSL's spelling of C#'s `async ValueTask<int>`) whose
// move_next() the DUET_* macros write. The program is driver.hpp.
#include "driver.hpp"

namespace {

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

duet::ValueTask<int> get_cached_value_async(int key) {
  return duet::start<GetCachedValueAsync>(key);
}

}  // namespace
