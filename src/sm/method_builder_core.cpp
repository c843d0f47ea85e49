// method_builder_core.cpp — the builders' per-thread step slot, and their cold paths: the messages
// of their misuse errors.
#include "duet/sm/method_builder_core.hpp"

#include "duet/sm/async_value_task_method_builder.hpp"

namespace duet::detail {

namespace {
thread_local const void* t_completed_in_step = nullptr;
}  // namespace

const void* exchange_completed_in_step(const void* state) noexcept {
  const void* const previous = t_completed_in_step;
  t_completed_in_step = state;
  return previous;
}

void throw_task_before_start() {
  throw InvalidOperationError(
      "AsyncTaskMethodBuilder::task() was called before start(): call builder.start(sm) first, "
      "then return builder.task()");
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

}  // namespace duet::detail
