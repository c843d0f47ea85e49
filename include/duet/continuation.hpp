// duet/continuation.hpp — the intrusive work item every queue in duet carries.
//
// A Continuation is "the code to run when something finishes". It is embedded in the object that
// owns it (the state-machine box, the fiber control block, a Task.Run work item), so registering
// it on a task, posting it to the thread pool, to a SynchronizationContext or to the timer wheel
// allocates nothing.
//
// Ground rules:
//  * A node is in at most one list at a time (a task's continuation stack, a pool queue, a context
//    queue). Whoever takes it out of a list owns it until it calls `invoke` or hands it on.
//  * `invoke` runs exactly once per registration and must not throw.
//  * The fields after `next` are filled in by the awaiter that registers the node (the capture
//    step of "one await, end to end") and read by whoever runs it: `context` says where to run,
//    `flow_execution_context`/`execution_context` say with which ExecutionContext.
//  * Run a dequeued node through `duet::run_continuation(c)`, never `c->invoke(c)` directly: it
//    installs the flowed ExecutionContext and restores the thread's own afterwards.
#pragma once

#include <cstdint>

namespace duet {

class SynchronizationContext;

namespace detail {
class TaskStateBase;
struct ExecutionContextNode;
}  // namespace detail

// Continuation — an intrusive, allocation-free callback node. Not thread-safe by itself: the
// ownership rules above decide which thread may touch it.
struct Continuation {
  // invoke — the function that resumes the owner. Never null once registered.
  void (*invoke)(Continuation*) noexcept = nullptr;
  // next — link used by whichever list holds the node. Owned by that list.
  Continuation* next = nullptr;
  // context — the SynchronizationContext captured at await time; the continuation is posted there
  // (null: run on the thread pool, or inline where that is allowed — see task.hpp).
  SynchronizationContext* context = nullptr;
  // execution_context — the ExecutionContext captured at await time (null is the default, empty
  // context). Meaningful only when flow_execution_context is true; one reference is owned.
  detail::ExecutionContextNode* execution_context = nullptr;
  // flow_execution_context — true: run with `execution_context` installed; false: run in whatever
  // context the running thread has (UnsafeOnCompleted, or flow suppressed).
  bool flow_execution_context = false;
  // owner — the task this continuation works towards completing, or null when unknown. Contract:
  // that task cannot complete until this continuation has run (a box: itself; when_any-like
  // owners that may complete otherwise must leave it null). Read only by deadlock detection
  // (single_thread_context.hpp), which follows owner → continuations → owner ... .
  detail::TaskStateBase* owner = nullptr;
};

// run_continuation(c) — runs `c` with its captured ExecutionContext installed (when it flows one)
// and restores the calling thread's ExecutionContext afterwards. Thread-safe; call it once per
// registration of `c`.
void run_continuation(Continuation* c) noexcept;

}  // namespace duet
