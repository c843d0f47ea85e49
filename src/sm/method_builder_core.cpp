// method_builder_core.cpp — the cold paths of the builders: the messages of their misuse errors.
#include "duet/sm/method_builder_core.hpp"

#include "duet/sm/async_value_task_method_builder.hpp"

namespace duet::detail {

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
