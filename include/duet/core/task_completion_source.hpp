// duet/core/task_completion_source.hpp — TaskCompletionSource<T>: the producer side of a Task<T>
// completed by hand, and its TaskCreationOptions.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"

namespace duet {

// TaskCreationOptions — options for TaskCompletionSource (subset of .NET's enum).
enum class TaskCreationOptions : unsigned {
  none = 0,
  // run_continuations_asynchronously — continuations never run inline inside set_*; they are
  // posted to their captured context or the thread pool (.NET's RunContinuationsAsynchronously).
  run_continuations_asynchronously = 1,
};

namespace detail {
// throw_tcs_already_completed(what) — the InvalidOperationError of a second set_* call.
[[noreturn]] void throw_tcs_already_completed(const char* what);
}  // namespace detail

// TaskCompletionSource<T> — the producer side of a Task<T> completed by hand.
// Thread-safety: every member may be called from any thread; exactly one set_*/try_set_* wins.
// Copies share the same task.
template <class T = void>
class TaskCompletionSource {
 public:
  explicit TaskCompletionSource(TaskCreationOptions options = TaskCreationOptions::none)
      : task_(detail::adopt_task(new detail::TaskState<T>())) {
    task_.state()->set_run_continuations_asynchronously(
        options == TaskCreationOptions::run_continuations_asynchronously);
  }

  // task() — the task this source completes.
  const Task<T>& task() const noexcept { return task_; }

  // try_set_result(v...) — completes with a value; false when already completed.
  template <class... Args>
  bool try_set_result(Args&&... args) {
    return task_.state()->try_complete_value(std::forward<Args>(args)...);
  }
  // try_set_exception(e) — completes faulted (canceled for an OperationCanceledError).
  bool try_set_exception(std::exception_ptr e) {
    if (!e) throw ArgumentError("TaskCompletionSource::set_exception needs a non-null exception_ptr");
    return task_.state()->try_complete_exception(std::move(e));
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  bool try_set_exception(E&& e) {
    return try_set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }
  // try_set_canceled() — completes canceled.
  bool try_set_canceled() { return task_.state()->try_complete_canceled(); }

  // set_result / set_exception / set_canceled — as the try_ forms, but a second completion throws
  // InvalidOperationError.
  template <class... Args>
  void set_result(Args&&... args) {
    if (!try_set_result(std::forward<Args>(args)...)) detail::throw_tcs_already_completed("set_result");
  }
  template <class E>
  void set_exception(E&& e) {
    if (!try_set_exception(std::forward<E>(e))) detail::throw_tcs_already_completed("set_exception");
  }
  void set_canceled() {
    if (!try_set_canceled()) detail::throw_tcs_already_completed("set_canceled");
  }

 private:
  Task<T> task_;
};

}  // namespace duet
