// duet/compose/continue_with.hpp — continue_with(task, fn, options): .NET's Task.ContinueWith with
// the TaskContinuationOptions that have a meaning here, and unwrap(task_of_task): .NET's Unwrap.
//
// continue_with(antecedent, fn, options) returns a Task<R> for R = fn(antecedent)'s result. When
// the antecedent completes:
//   * if its final status is excluded by the options (only_on_* / not_on_*), the continuation
//     task is canceled and fn never runs;
//   * else fn(antecedent) runs — on the default pool, or inline on the completing thread with
//     execute_synchronously — and its value completes the continuation task, its exception
//     (any type, an OperationCanceledError too) faults it;
//   * a token given to continue_with cancels the continuation task when canceled before fn
//     starts; a scheduler given to it runs fn instead of the default pool.
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
#include "duet/time/cancellation.hpp"
#include "duet/time/delay.hpp"

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
  // lazy_cancellation — the token is looked at only when the antecedent completes: a canceled
  // token then cancels the continuation task instead of running fn, and never earlier (so a
  // chain stays in order).
  lazy_cancellation = 0x200,
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
  ContinueWithState(Task<T> antecedent, Fn fn, TaskContinuationOptions options, Scheduler& scheduler)
      : TaskState<R>(2),
        antecedent_(std::move(antecedent)),
        fn_(std::move(fn)),
        options_(options),
        scheduler_(scheduler) {
    this->invoke = &ContinueWithState::on_antecedent;
    this->owner = this;
    this->run_synchronously = true;  // deciding what to do is a completion action
    this->set_run_continuations_asynchronously(
        has_option(options, TaskContinuationOptions::run_continuations_asynchronously));
  }

  // start(token) — waits for the antecedent; canceling `token` first cancels this task at once
  // (fn will not run), as .NET's ContinueWith(fn, token).
  void start(const CancellationToken& token) {
    if (has_option(options_, TaskContinuationOptions::lazy_cancellation)) {
      lazy_token_ = token;
    } else if (token.can_be_canceled()) {
      reg_ = token.register_callback([this, token] { this->try_complete_canceled(canceled_error(token)); });
    }
    antecedent_.state()->add_continuation(*this);
  }

 private:
  static void on_antecedent(Continuation* c) noexcept {
    auto* const self = &static_cast<ContinueWithState&>(*c);
    self->reg_.dispose();  // waits for a running cancellation callback: none can race fn now
    if (self->lazy_token_.is_cancellation_requested()) {
      self->try_complete_canceled(canceled_error(self->lazy_token_));
    }
    if (self->is_completed()) {  // canceled through the token
      self->finish();
      return;
    }
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
    self->scheduler_.post(*self);
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
  Scheduler& scheduler_;
  CancellationRegistration reg_;
  CancellationToken lazy_token_;  // lazy_cancellation's token
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

// continue_with(antecedent, fn, token, options, scheduler) — see the header. fn takes the
// antecedent (a const Task<T>&) and runs on `scheduler` (inline with execute_synchronously).
// Canceling `token` before fn starts cancels the continuation task at once, without waiting for
// the antecedent, and fn never runs (.NET's ContinueWith(fn, token, options, scheduler); an
// already-canceled token gives a canceled task); with lazy_cancellation, only once the
// antecedent has completed. Throws InvalidOperationError for an empty
// antecedent and ArgumentError for options that exclude every status. One allocation, two with
// a cancelable token (its registration).
template <class T, class Fn>
  requires std::is_invocable_v<std::decay_t<Fn>&, const Task<T>&>
auto continue_with(const Task<T>& antecedent, Fn&& fn, const CancellationToken& token,
                   TaskContinuationOptions options, Scheduler& scheduler) {
  using R = std::invoke_result_t<std::decay_t<Fn>&, const Task<T>&>;
  if (!antecedent.valid()) detail::throw_invalid_task();
  detail::validate_continuation_options(options);
  if (token.is_cancellation_requested() && !has_option(options, TaskContinuationOptions::lazy_cancellation)) {
    return detail::canceled_task<R>(token);
  }
  auto* s = new detail::ContinueWithState<T, std::decay_t<Fn>, R>(antecedent, std::forward<Fn>(fn), options,
                                                                  scheduler);
  detail::capture_execution_context(*s);
  Task<R> task = detail::adopt_task(static_cast<detail::TaskState<R>*>(s));
  s->start(token);
  return task;
}

// continue_with(antecedent, fn, options) — with no token, fn on the default pool.
template <class T, class Fn>
  requires std::is_invocable_v<std::decay_t<Fn>&, const Task<T>&>
auto continue_with(const Task<T>& antecedent, Fn&& fn,
                   TaskContinuationOptions options = TaskContinuationOptions::none) {
  return continue_with(antecedent, std::forward<Fn>(fn), CancellationToken(), options, default_scheduler());
}

// continue_with(antecedent, fn, token, options) — .NET's ContinueWith(fn, token[, options]).
template <class T, class Fn>
  requires std::is_invocable_v<std::decay_t<Fn>&, const Task<T>&>
auto continue_with(const Task<T>& antecedent, Fn&& fn, const CancellationToken& token,
                   TaskContinuationOptions options = TaskContinuationOptions::none) {
  return continue_with(antecedent, std::forward<Fn>(fn), token, options, default_scheduler());
}

// continue_with(antecedent, fn, scheduler) — .NET's ContinueWith(fn, scheduler).
template <class T, class Fn>
  requires std::is_invocable_v<std::decay_t<Fn>&, const Task<T>&>
auto continue_with(const Task<T>& antecedent, Fn&& fn, Scheduler& scheduler) {
  return continue_with(antecedent, std::forward<Fn>(fn), CancellationToken(), TaskContinuationOptions::none,
                       scheduler);
}

template <class U>
Task<U> unwrap(const Task<Task<U>>& outer) {
  if (!outer.valid()) detail::throw_invalid_task();
  auto* s = new detail::UnwrapState<U>(outer);
  Task<U> task = detail::adopt_task(static_cast<detail::TaskState<U>*>(s));
  s->start();
  return task;
}

}  // namespace duet
