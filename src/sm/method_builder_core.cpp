// method_builder_core.cpp — the builders' per-thread step slot, and the cold paths of the builders
// and of the DSL: the messages of their misuse errors.
#include "duet/sm/method_builder_core.hpp"

#include <string>

#include "duet/sm/async_value_task_method_builder.hpp"
#include "duet/sm/dsl.hpp"

#include <string>

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

void throw_task_twice() {
  throw InvalidOperationError(
      "AsyncTaskMethodBuilder::task() was called twice after the method suspended: the builder "
      "hands its reference to the box to the first Task it returns and keeps none. Call task() "
      "once after start() and copy that Task");
}

void throw_builder_completed(const char* what) {
  throw_misuse("method builder ", what,
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

void dsl_bad_state(int state) {
  throw InvalidOperationError(
      "duet DSL: move_next() was called in state " + std::to_string(state) +
      ", which names no resume point of this method: it already completed (-2), or state_ was "
      "changed by hand. Call move_next() only through the builder (duet::start / the box).");
}

void dsl_left_block(const char* block) {
  throw_misuse("duet DSL: a break or continue left a ", block,
               " block: control must leave DUET_BEGIN/DUET_TRY/DUET_CATCH/DUET_FINALLY blocks through "
               "their end, DUET_RETURN or an exception (LIMITATIONS 3 in duet/sm/dsl.hpp). Set a member "
               "flag and break after DUET_END_TRY instead.");
}

}  // namespace duet::detail
