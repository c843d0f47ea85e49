// value_task_cache — explicit style: GetCachedValueAsync as the state machine Roslyn generates,
// on AsyncValueTaskMethodBuilder<int>. The program is driver.hpp.
#include "driver.hpp"

namespace {

// GetCachedValueMachine — GetCachedValueAsync as Roslyn would compile it.
struct GetCachedValueMachine {
  int state_ = -1;
  duet::AsyncValueTaskMethodBuilder<int> builder_;
  int key_ = 0;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    int result = 0;
    try {
      switch (state_) {
        case -1:
          if (g_cache[key_]) {
            std::printf("  cache hit  -> the ValueTask wraps the value\n");
            result = *g_cache[key_];
            break;
          }
          std::printf("  cache miss -> the ValueTask wraps a real asynchronous operation\n");
          awaiter_ = duet::run([key = key_] { return slow_lookup(key); }).get_awaiter();
          if (!awaiter_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter_, *this);
            return;
          }
          [[fallthrough]];
        case 0:
          state_ = -1;
          result = awaiter_.get_result();
          g_cache[key_] = result;
          break;
        default: return;
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

duet::ValueTask<int> get_cached_value_async(int key) {
  GetCachedValueMachine sm;
  sm.key_ = key;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
