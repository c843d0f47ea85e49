// method_builder_core.cpp — the cold paths of the builders: the messages of their misuse errors.
#include "duet/sm/method_builder_core.hpp"

#include "duet/sm/async_value_task_method_builder.hpp"

#include <string>

namespace duet::detail {

void throw_task_before_start() {
  throw InvalidOperationError(
      "AsyncTaskMethodBuilder::task() was called before start(): call builder.start(sm) first, "
      "then return builder.task()");
}

void throw_builder_completed(const char* what) {
  throw InvalidOperationError(
      std::string("method builder ") + what +
      ": the builder's task has already completed. A method completes exactly once: call "
      "set_result or set_exception once, as the method's last step");
}

void throw_builder_null_exception(const char* builder) {
  throw ArgumentError(std::string(builder) +
                      "::set_exception needs a non-null exception_ptr (pass "
                      "std::current_exception() from a catch block)");
}

void throw_builder_assigned_started(const char* builder) {
  throw InvalidOperationError(
      std::string(builder) +
      ": a builder may be assigned only while neither it nor the one assigned has started "
      "(`sm.builder_ = ...::create()` before start()); a started builder owns its method's task");
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
