// duet/compose/start_new.hpp — start_new(scheduler, fn): .NET's Task.Factory.StartNew(fn,
// CancellationToken.None, TaskCreationOptions.None, scheduler): run fn as a work item of a given
// Scheduler (a ManualScheduler, a SynchronizationContext's via
// TaskScheduler::from_current_synchronization_context(), a ThreadPool of your own).
#pragma once

#include <type_traits>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/core/scheduler.hpp"

namespace duet {

// start_new(scheduler, fn) — queues fn to `scheduler`, flowing the caller's ExecutionContext;
// while fn runs, TaskScheduler::current() is `scheduler`. Returns Task<R> as run(fn) does (a fn
// returning Task<U> is unwrapped to Task<U>; .NET's StartNew would return Task<Task<U>>). An
// exception from fn ends the task as run(fn)'s does. `scheduler` must outlive the work item.
// Awaits inside fn resume as any await does (captured context or pool), not on `scheduler`.
template <class Fn>
auto start_new(Scheduler& scheduler, Fn&& fn) {
  auto body = [f = std::forward<Fn>(fn), &scheduler]() mutable -> decltype(auto) {
    detail::CurrentSchedulerScope scope(&scheduler);
    return f();
  };
  using State = detail::RunState<decltype(body)>;
  auto* s = new State(std::move(body));
  detail::capture_execution_context(*s);
  auto task = detail::adopt_task(
      static_cast<detail::TaskState<typename detail::unwrap_task<
          std::invoke_result_t<decltype(body)&>>::type>*>(s));
  scheduler.post(*s);
  return task;
}

}  // namespace duet
