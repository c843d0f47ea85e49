// duet/compose/continue_with.hpp — continue_with(task, fn, options): .NET's Task.ContinueWith with
// the TaskContinuationOptions that have a meaning here, and unwrap(task_of_task): .NET's Unwrap.
//
// continue_with(antecedent, fn, options) returns a Task<R> for R = fn(antecedent)'s result. When
// the antecedent completes:
//   * if its final status is excluded by the options (only_on_* / not_on_*), the continuation
//     task is canceled and fn never runs;
//   * else fn(antecedent) runs — on the default pool, or inline on the completing thread with
//     execute_synchronously — and its value completes the continuation task, its exception
//     (any type, an OperationCanceledError too: there is no token) faults it.
// The ExecutionContext current at continue_with flows into fn. A fn returning Task<U> gives a
// Task<Task<U>>; unwrap() it (or use run(), which unwraps by itself).
//
// These are free functions, not members of Task: Task lives in core/, below the pool and the
// combinators (docs/design.md, layering).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/task.hpp"

namespace duet {

// TaskContinuationOptions — .NET's flags, the subset with a meaning here. Combine with |.
enum class TaskContinuationOptions : unsigned {
  none = 0,
  // run_continuations_asynchronously — the continuation task's own continuations never run
  // inline inside its completion (TaskCreationOptions::run_continuations_asynchronously).
  run_continuations_asynchronously = 0x40,
  not_on_ran_to_completion = 0x10000,
  not_on_faulted = 0x20000,
  not_on_canceled = 0x40000,
  only_on_ran_to_completion = 0x20000 | 0x40000,
  only_on_faulted = 0x10000 | 0x40000,
  only_on_canceled = 0x10000 | 0x20000,
  // execute_synchronously — fn runs inline on the thread that completed the antecedent (or on
  // the calling thread when the antecedent already completed), not on the pool.
  execute_synchronously = 0x80000,
};

constexpr TaskContinuationOptions operator|(TaskContinuationOptions a, TaskContinuationOptions b) noexcept {
  return static_cast<TaskContinuationOptions>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_option(TaskContinuationOptions set, TaskContinuationOptions flag) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) == static_cast<unsigned>(flag);
}

namespace detail {

// validate_continuation_options(o) — ArgumentError for the combination .NET rejects: every
// status excluded (the continuation could never run).
inline void validate_continuation_options(TaskContinuationOptions o) {
  constexpr auto all = TaskContinuationOptions::not_on_ran_to_completion |
                       TaskContinuationOptions::not_on_faulted | TaskContinuationOptions::not_on_canceled;
  if (has_option(o, all)) {
    throw ArgumentError(
        "continue_with: the options exclude every final status (not_on_ran_to_completion, "
        "not_on_faulted and not_on_canceled together), so the continuation could never run");
  }
}

// excluded_by(o, s) — whether options `o` exclude a continuation after final status `s`.
constexpr bool excluded_by(TaskContinuationOptions o, TaskStatus s) noexcept {
  switch (s) {
    case TaskStatus::ran_to_completion: return has_option(o, TaskContinuationOptions::not_on_ran_to_completion);
    case TaskStatus::faulted: return has_option(o, TaskContinuationOptions::not_on_faulted);
    case TaskStatus::canceled: return has_option(o, TaskContinuationOptions::not_on_canceled);
    case TaskStatus::pending: break;
  }
  return false;
}

// ContinueWithState — the continuation task, the node registered on the antecedent, and fn.
// References: the returned handle, and the pending node (released after fn ran or was skipped).
template <class T, class Fn, class R>
class ContinueWithState final : public TaskState<R>, public Continuation {
 public:
  ContinueWithState(Task<T> antecedent, Fn fn, TaskContinuationOptions options)
      : TaskState<R>(2), antecedent_(std::move(antecedent)), fn_(std::move(fn)), options_(options) {
    this->invoke = &ContinueWithState::on_antecedent;
    this->owner = this;
    this->run_synchronously = true;  // deciding what to do is a completion action
    this->set_run_continuations_asynchronously(
        has_option(options, TaskContinuationOptions::run_continuations_asynchronously));
  }

  void start() noexcept { antecedent_.state()->add_continuation(*this); }

 private:
  static void on_antecedent(Continuation* c) noexcept {
    auto* const self = &static_cast<ContinueWithState&>(*c);
    if (excluded_by(self->options_, self->antecedent_.status())) {
      self->try_complete_canceled();
      self->finish();
      return;
    }
    if (has_option(self->options_, TaskContinuationOptions::execute_synchronously)) {
      run_fn(c);
      return;
    }
    self->invoke = &ContinueWithState::run_fn;
    self->context = nullptr;
    default_scheduler().post(*self);
  }

  static void run_fn(Continuation* c) noexcept {
    auto* const self = &static_cast<ContinueWithState&>(*c);
    try {
      if constexpr (std::is_void_v<R>) {
        self->fn_(self->antecedent_);
        self->try_complete_value();
      } else {
        self->try_complete_value(self->fn_(self->antecedent_));
      }
    } catch (...) {
      self->try_complete_fault(std::current_exception());
    }
    self->finish();
  }

  void finish() noexcept {
    antecedent_ = {};
    this->release();  // the pending reference
  }

  Task<T> antecedent_;
  Fn fn_;
  TaskContinuationOptions options_;
};

// UnwrapState<U> — unwrap(Task<Task<U>>): waits for the outer task, then for the inner one.
template <class U>
class UnwrapState final : public TaskState<U>, public Continuation {
 public:
  explicit UnwrapState(Task<Task<U>> outer) : TaskState<U>(2), outer_(std::move(outer)) {
    this->invoke = &UnwrapState::on_outer;
    this->owner = this;
    this->run_synchronously = true;
  }
  void start() noexcept { outer_.state()->add_continuation(*this); }

 private:
  static void on_outer(Continuation* c) noexcept {
    auto* const self = &static_cast<UnwrapState&>(*c);
    auto* outer = self->outer_.state();
    switch (outer->status()) {
      case TaskStatus::ran_to_completion:
        self->inner_ = outer->value();
        self->outer_ = {};
        if (!self->inner_.valid()) {  // .NET: an outer task whose result is null cancels
          self->try_complete_canceled();
          break;
        }
        self->invoke = &UnwrapState::on_inner;
        self->inner_.state()->add_continuation(*self);
        return;
      case TaskStatus::canceled:
        self->try_complete_canceled(outer->exception());
        break;
      case TaskStatus::faulted:
        if (self->try_begin_complete()) {
          if (outer->rethrows_first_inner()) self->set_rethrow_first_inner();
          self->complete_fault_claimed(outer->exception());
        }
        break;
      case TaskStatus::pending:
        break;
    }
    self->outer_ = {};
    self->release();
  }
  static void on_inner(Continuation* c) noexcept {
    auto* const self = &static_cast<UnwrapState&>(*c);
    complete_from<U>(*self, *self->inner_.state());
    self->inner_ = {};
    self->release();
  }

  Task<Task<U>> outer_;
  Task<U> inner_;
};

}  // namespace detail

// continue_with(antecedent, fn, options) — see the header. fn takes the antecedent (a const
// Task<T>&). Throws InvalidOperationError for an empty antecedent and ArgumentError for options
// that exclude every status. One allocation.
template <class T, class Fn>
  requires std::is_invocable_v<std::decay_t<Fn>&, const Task<T>&>
auto continue_with(const Task<T>& antecedent, Fn&& fn,
                   TaskContinuationOptions options = TaskContinuationOptions::none) {
  using R = std::invoke_result_t<std::decay_t<Fn>&, const Task<T>&>;
  if (!antecedent.valid()) detail::throw_invalid_task();
  detail::validate_continuation_options(options);
  auto* s = new detail::ContinueWithState<T, std::decay_t<Fn>, R>(antecedent, std::forward<Fn>(fn), options);
  detail::capture_execution_context(*s);
  Task<R> task = detail::adopt_task(static_cast<detail::TaskState<R>*>(s));
  s->start();
  return task;
}

// unwrap(outer) — a Task<U> that completes as the inner task of `outer` does; faulted or canceled
// as `outer` when it did not run to completion; canceled when its result is an empty handle
// (.NET's Unwrap). One allocation.
template <class U>
Task<U> unwrap(const Task<Task<U>>& outer) {
  if (!outer.valid()) detail::throw_invalid_task();
  auto* s = new detail::UnwrapState<U>(outer);
  Task<U> task = detail::adopt_task(static_cast<detail::TaskState<U>*>(s));
  s->start();
  return task;
}

}  // namespace duet
