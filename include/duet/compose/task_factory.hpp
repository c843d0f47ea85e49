// duet/compose/task_factory.hpp — ready-made tasks: from_result, from_exception, from_canceled,
// and run (Task.Run). completed_task() is Task's own (core/task.hpp).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/task.hpp"

namespace duet {

// from_result(v) — a Task<T> completed with `v` (one allocation).
template <class T>
Task<std::decay_t<T>> from_result(T&& v) {
  auto* s = new detail::TaskState<std::decay_t<T>>();
  s->try_complete_value(std::forward<T>(v));
  return detail::adopt_task(s);
}

// from_exception<T>(e) — a faulted Task<T>, whatever the exception's type (an
// OperationCanceledError too, as .NET's Task.FromException; from_canceled cancels).
template <class T = void>
Task<T> from_exception(std::exception_ptr e) {
  if (!e) throw ArgumentError("from_exception needs a non-null exception_ptr");
  auto* s = new detail::TaskState<T>();
  s->try_complete_fault(std::move(e));
  return detail::adopt_task(s);
}

// from_canceled<T>() — a canceled Task<T>.
template <class T = void>
Task<T> from_canceled() {
  auto* s = new detail::TaskState<T>();
  s->try_complete_canceled();
  return detail::adopt_task(s);
}

namespace detail {

template <class R>
struct unwrap_task {
  using type = R;
  static constexpr bool is_task = false;
};
template <class U>
struct unwrap_task<Task<U>> {
  using type = U;
  static constexpr bool is_task = true;
};

// RunState — Task.Run's work item: the task state, the queued node, and the function. When fn
// returns a Task<U>, the node is reused to wait for it (Task.Run's unwrapping).
template <class Fn>
class RunState final : public TaskState<typename unwrap_task<std::invoke_result_t<Fn&>>::type>,
                       public Continuation {
  using R = std::invoke_result_t<Fn&>;
  using T = typename unwrap_task<R>::type;

 public:
  explicit RunState(Fn fn) : TaskState<T>(2), fn_(std::move(fn)) {
    this->invoke = &RunState::run;
    this->owner = this;
  }

 private:
  // The casts below go through a reference: a pointer static_cast to a base at a non-zero offset
  // carries a null check, which g++ 12 -O2 turns into -Wnull-dereference errors in user code.
  static void run(Continuation* c) noexcept {
    RunState* const self = &static_cast<RunState&>(*c);
    try {
      if constexpr (unwrap_task<R>::is_task) {
        self->inner_ = self->fn_();
        if (!self->inner_.valid()) throw InvalidOperationError("run(fn): fn returned an empty Task");
        self->invoke = &RunState::inner_done;
        self->context = nullptr;
        self->flow_execution_context = false;
        self->run_synchronously = true;  // unwrapping: a completion action, not an await
        self->inner_.state()->add_continuation(*self);
        return;  // inner_done releases the running reference
      } else if constexpr (std::is_void_v<T>) {
        self->fn_();
        self->try_complete_value();
      } else {
        self->try_complete_value(self->fn_());
      }
    } catch (...) {
      // run() has no token of its own, so no exception of fn's is a cancellation of run's:
      // an OperationCanceledError faults the task too (.NET's Task.Run(fn) without a token).
      self->try_complete_fault(std::current_exception());
    }
    self->release();
  }

  static void inner_done(Continuation* c) noexcept {
    RunState* const self = &static_cast<RunState&>(*c);
    detail::complete_from<T>(*self, *self->inner_.state());
    self->inner_ = {};
    self->release();
  }

  Fn fn_;
  [[no_unique_address]] std::conditional_t<unwrap_task<R>::is_task, R, char> inner_{};
};

}  // namespace detail

// run(fn) — Task.Run: queue fn to the thread pool, flowing the caller's ExecutionContext.
// Returns Task<R> (R = fn's result; a fn returning Task<U> is unwrapped to Task<U>). An exception
// from fn faults the task, an OperationCanceledError too (run has no token it could be for).
// One allocation.
template <class Fn>
auto run(Fn&& fn) {
  using State = detail::RunState<std::decay_t<Fn>>;
  auto* s = new State(std::forward<Fn>(fn));
  detail::capture_execution_context(*s);
  auto task = detail::adopt_task(
      static_cast<detail::TaskState<typename detail::unwrap_task<
          std::invoke_result_t<std::decay_t<Fn>&>>::type>*>(s));
  default_scheduler().post(*s);
  return task;
}

}  // namespace duet
