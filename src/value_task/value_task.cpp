// value_task.cpp — the cold paths of the value_task/ headers: the messages of the await-once rule.
#include "duet/value_task/value_task.hpp"

#include <string>

#include "duet/value_task/value_task_source.hpp"

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

}  // namespace detail
}  // namespace duet
