// duet/core/task_completion_source.hpp — TaskCompletionSource<T>: the producer side of a Task<T>
// completed by hand, and its TaskCreationOptions.
#pragma once

#include <exception>
#include <string>
#include <typeinfo>
#include <type_traits>
#include <utility>
#include <vector>

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
template <class T>
class TaskCompletionSource;

namespace detail {
// TcsState<T> — a TaskCompletionSource's task state: a TaskState<T> that tells diagnostics it is
// one (an await on it is described as "TaskCompletionSource<T>", diag/diagnostics.hpp).
template <class T>
class TcsState final : public TaskState<T> {
 public:
  TcsState() noexcept = default;
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    static const char* const type = diagnostics::detail::demangle(typeid(TaskCompletionSource<T>).name());
    out.set(diagnostics::AwaitKind::tcs, this, type);
  }
};
}  // namespace detail

template <class T = void>
class TaskCompletionSource {
 public:
  explicit TaskCompletionSource(TaskCreationOptions options = TaskCreationOptions::none)
      : task_(detail::adopt_task(new detail::TcsState<T>())) {
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
  // try_set_exception(e) — completes faulted, whatever the exception's type (an
  // OperationCanceledError too, as .NET's TrySetException); use try_set_canceled to cancel.
  bool try_set_exception(std::exception_ptr e) {
    if (!e) throw ArgumentError("TaskCompletionSource::set_exception needs a non-null exception_ptr");
    return task_.state()->try_complete_fault(std::move(e));
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr> &&
             !std::is_same_v<std::decay_t<E>, std::vector<std::exception_ptr>>)
  bool try_set_exception(E&& e) {
    return try_set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }
  // try_set_exception(list) — completes faulted with every exception of `list` (.NET's
  // TrySetException(IEnumerable)): exception() is an AggregateError holding them in order, while
  // await / wait() / result() rethrow the first. Throws ArgumentError for an empty list or a null
  // element.
  bool try_set_exception(std::vector<std::exception_ptr> list) {
    if (list.empty()) {
      throw ArgumentError("TaskCompletionSource::set_exception(list) needs at least one exception");
    }
    for (const auto& e : list) {
      if (!e) throw ArgumentError("TaskCompletionSource::set_exception(list): an element is a null exception_ptr");
    }
    std::exception_ptr all = std::make_exception_ptr(AggregateError(std::move(list)));
    auto* s = task_.state();
    if (!s->try_begin_complete()) return false;
    s->set_rethrow_first_inner();
    s->complete_fault_claimed(std::move(all));
    return true;
  }
  // try_set_canceled() — completes canceled.
  bool try_set_canceled() { return task_.state()->try_complete_canceled(); }
  // try_set_canceled(token) — completes canceled; awaiting the task throws a TaskCanceledError
  // whose token() is `token` (.NET's TrySetCanceled(CancellationToken)).
  template <class Token>
    requires std::same_as<Token, CancellationToken>
  bool try_set_canceled(const Token& token) {
    return task_.state()->try_complete_canceled(detail::canceled_error(token));
  }
  // try_set_from_task(completed) — completes this task as `completed` completed: its value (copied;
  // moved out once for a move-only T), its fault (all of its exceptions) or its cancellation (.NET
  // 9's TrySetFromTask). Throws ArgumentError when `completed` has not completed.
  bool try_set_from_task(const Task<T>& completed) {
    if (!completed.is_completed()) {
      throw ArgumentError(
          "TaskCompletionSource::set_from_task needs a completed task: await or wait for it first");
    }
    return detail::complete_from<T>(*task_.state(), *completed.state());
  }

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
  void set_exception(std::vector<std::exception_ptr> list) {
    if (!try_set_exception(std::move(list))) detail::throw_tcs_already_completed("set_exception");
  }
  void set_canceled() {
    if (!try_set_canceled()) detail::throw_tcs_already_completed("set_canceled");
  }
  template <class Token>
    requires std::same_as<Token, CancellationToken>
  void set_canceled(const Token& token) {
    if (!try_set_canceled(token)) detail::throw_tcs_already_completed("set_canceled");
  }
  void set_from_task(const Task<T>& completed) {
    if (!try_set_from_task(completed)) detail::throw_tcs_already_completed("set_from_task");
  }

 private:
  Task<T> task_;
};

}  // namespace duet
