// duet/compose/wait.hpp — the blocking waits a .NET engineer reaches for: wait(task, token)
// (Task.Wait(CancellationToken)), wait_all (Task.WaitAll) and wait_any (Task.WaitAny). The timed
// Task::wait(timeout) is a member (core/task.hpp).
//
// Blocking a thread on a task is the sync-over-async pattern: wait_all waits on each task in turn
// through Task::wait(), so it inherits wait()'s deadlock detection on a SingleThreadContext.
// wait_any (without a timeout) gets the same detection through blocking_wait_any: it throws
// DeadlockError once every one of its tasks needs an item of the blocked thread's queue to run
// first, so that none of them can ever complete. A bounded wait_any_for needs none: it ends.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "duet/compose/wait_async.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/time/cancellation.hpp"

namespace duet {

// wait(task, token) — blocks until `task` completed (then as task.wait(): rethrows a fault or a
// cancellation) or until `token` is canceled: throws OperationCanceledError carrying `token`.
template <class T>
void wait(const Task<T>& task, const CancellationToken& token) {
  wait_async(task, token).wait();
}

namespace detail {

// gather_failures(tasks) — every exception of the completed `tasks` that failed, in order
// (cancellations as their OperationCanceledError, as .NET's WaitAll collects them).
std::vector<std::exception_ptr> gather_failures(const std::vector<TaskStateBase*>& tasks);

// wait_all_states(tasks, timeout) — waits for each (negative timeout: no limit); false on timeout.
bool wait_all_states(const std::vector<TaskStateBase*>& tasks, std::chrono::nanoseconds timeout);

// wait_any_states(tasks, timeout) — the index of the first completed, or -1 on timeout.
int wait_any_states(const std::vector<TaskStateBase*>& tasks, std::chrono::nanoseconds timeout);

template <class... Ts>
std::vector<TaskStateBase*> states_of(const Task<Ts>&... tasks) {
  std::vector<TaskStateBase*> v;
  v.reserve(sizeof...(Ts));
  auto state_of = [](const auto& t) -> TaskStateBase* {
    if (!t.valid()) throw_invalid_task();
    return t.state();
  };
  (v.push_back(state_of(tasks)), ...);
  return v;
}

}  // namespace detail

// wait_all(tasks...) — blocks until every task completed; when any faulted or was canceled,
// throws an AggregateError of all their exceptions in argument order (.NET's WaitAll).
template <class... Ts>
void wait_all(const Task<Ts>&... tasks) {
  const auto states = detail::states_of(tasks...);
  detail::wait_all_states(states, std::chrono::nanoseconds(-1));
  auto failures = detail::gather_failures(states);
  if (!failures.empty()) throw AggregateError(std::move(failures));
}

// wait_all_for(timeout, tasks...) — wait_all bounded by `timeout`: false when it passed first
// (nothing thrown then). A negative timeout waits without a limit.
template <class Rep, class Period, class... Ts>
bool wait_all_for(std::chrono::duration<Rep, Period> timeout, const Task<Ts>&... tasks) {
  const auto states = detail::states_of(tasks...);
  if (!detail::wait_all_states(states, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout))) {
    return false;
  }
  auto failures = detail::gather_failures(states);
  if (!failures.empty()) throw AggregateError(std::move(failures));
  return true;
}

// wait_any(tasks...) — blocks until one task completed and returns its index (the lowest one
// when several already had). Throws nothing for a failed task (.NET's WaitAny); throws
// DeadlockError when none of the tasks can complete (see the header).
template <class... Ts>
int wait_any(const Task<Ts>&... tasks) {
  static_assert(sizeof...(Ts) > 0, "duet: wait_any needs at least one task");
  return detail::wait_any_states(detail::states_of(tasks...), std::chrono::nanoseconds(-1));
}

// wait_any_for(timeout, tasks...) — wait_any bounded by `timeout`: -1 when it passed first.
template <class Rep, class Period, class... Ts>
int wait_any_for(std::chrono::duration<Rep, Period> timeout, const Task<Ts>&... tasks) {
  static_assert(sizeof...(Ts) > 0, "duet: wait_any needs at least one task");
  return detail::wait_any_states(detail::states_of(tasks...),
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
}

}  // namespace duet
