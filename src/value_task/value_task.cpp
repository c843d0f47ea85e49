// value_task.cpp — the cold paths of value_task.hpp and value_task_builder.hpp: the messages of
// the await-once rule, and the per-core slot index of the pooled box caches.
#include "duet/value_task.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

#include "duet/sm/value_task_builder.hpp"

namespace duet {

const char* to_string(ValueTaskSourceStatus s) noexcept {
  switch (s) {
    case ValueTaskSourceStatus::pending: return "pending";
    case ValueTaskSourceStatus::succeeded: return "succeeded";
    case ValueTaskSourceStatus::faulted: return "faulted";
    case ValueTaskSourceStatus::canceled: return "canceled";
  }
  return "?";
}

namespace detail {

void throw_stale_token(short token, short version) {
  throw InvalidOperationError(
      "ValueTask awaited after its operation ended: the IValueTaskSource behind it has moved on "
      "(token " + std::to_string(token) + ", source version " + std::to_string(version) +
      "), because the ValueTask was already awaited once or the source was reset for another "
      "operation. A ValueTask may be awaited only once; call as_task() or preserve() before "
      "awaiting it more than once, and never keep a ValueTask across a reset of its source");
}

void throw_value_task_consumed() {
  throw InvalidOperationError(
      "ValueTask awaited twice: this ValueTask (or its awaiter) was already consumed by an "
      "await, get_result(), as_task(), preserve() or result(), or it was moved from. A ValueTask "
      "may be awaited only once; call as_task() or preserve() first to await its result more "
      "than once");
}

void throw_multiple_continuations() {
  throw InvalidOperationError(
      "ValueTask awaited concurrently: a second continuation was registered on the same "
      "IValueTaskSource operation while the first is still waiting. A ValueTask may be awaited "
      "only once and by one awaiter; call as_task() and await the Task from several places");
}

void throw_source_not_completed() {
  throw InvalidOperationError(
      "IValueTaskSource::get_result called before the operation completed: await the ValueTask "
      "(or check is_completed()) before reading its result");
}

void throw_source_already_completed() {
  throw InvalidOperationError(
      "ManualResetValueTaskSourceCore: set_result/set_exception called twice for one operation. "
      "An operation completes exactly once; call reset() to start the next one");
}

void throw_value_task_before_start() {
  throw InvalidOperationError(
      "ValueTask method builder: task() was called before start(): call builder.start(sm) "
      "first, then return builder.task()");
}

void throw_pooled_task_twice() {
  throw InvalidOperationError(
      "PoolingAsyncValueTaskMethodBuilder::task() called twice for a suspended call: its pooled "
      "box has exactly one consumer. Call task() once and return that ValueTask");
}

std::size_t pooling_cache_slots() noexcept {
  static const std::size_t n = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1,
                                                       k_max_pooling_cache_slots);
  return n;
}

namespace {
// thread_index() — a small per-thread number, for platforms without sched_getcpu. Not inlined
// (fibers migrate between threads).
[[gnu::noinline, maybe_unused]] std::size_t thread_index() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}
}  // namespace

std::size_t pooling_cache_slot(std::size_t n) noexcept {
#if defined(__linux__)
  const int cpu = sched_getcpu();
  if (cpu >= 0) return static_cast<std::size_t>(cpu) % n;
#endif
  return thread_index() % n;
}

}  // namespace detail
}  // namespace duet
