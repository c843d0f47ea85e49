// duet/context/async_void.hpp — the async-void policy, shared by the state-machine builder
// (sm/async_void_method_builder.hpp) and the fiber form (fiber/async_void.hpp).
//
// What .NET does for an `async void` method, and both styles reproduce through this file:
//  * the call captures SynchronizationContext::current() and calls its operation_started(); when
//    the method ends, operation_completed() — so a loop can wait for its handlers
//    (SingleThreadContext::run_until_operations_complete());
//  * there is no Task for a caller to observe, so an exception escaping the method is *thrown
//    asynchronously*: posted to the captured context, where it escapes from that loop's pump
//    (SingleThreadContext rethrows it from run_*), or — without a context — handed to the
//    process-wide unhandled-exception handler (duet::set_unhandled_exception_handler; the default
//    prints it and terminates, as an exception on a .NET pool thread crashes the process). An
//    OperationCanceledError is no exception to that rule.
// Each style runs the method as a task nobody else sees; async_void_end() reports its end, at
// once when the method ended inside the call, else through an AsyncVoidEnd node registered on
// that task (it runs on the thread that finished the method, before anything else can observe
// the task). Reporting observes the task's exception, so no unobserved-exception report follows.
#pragma once

#include <exception>

#include "duet/core/continuation.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"

namespace duet::detail {

// async_void_begin() — the call's start: the current SynchronizationContext (returned; may be
// null), told operation_started().
inline SynchronizationContext* async_void_begin() noexcept {
  SynchronizationContext* const context = SynchronizationContext::current();
  if (context) context->operation_started();
  return context;
}

// async_void_throw(context, e) — throws `e` asynchronously: posted to `context` (rethrown by its
// pump), else handed to the unhandled-exception handler.
void async_void_throw(SynchronizationContext* context, std::exception_ptr e) noexcept;

// async_void_end(context, task) — the method's end: its fault thrown asynchronously, then
// operation_completed(). Precondition: `task` completed.
void async_void_end(SynchronizationContext* context, TaskStateBase& task) noexcept;

// AsyncVoidEnd — the continuation that reports the end of a suspended async void method. Embedded
// in the state machine's builder, or allocated by the fiber form (then it deletes itself).
class AsyncVoidEnd final : public Continuation {
 public:
  AsyncVoidEnd() noexcept = default;
  AsyncVoidEnd(const AsyncVoidEnd&) = delete;
  AsyncVoidEnd& operator=(const AsyncVoidEnd&) = delete;

  // watch(context, task, owned_by_itself) — registers this node on `task` (holding a reference
  // until it fires); it runs at once when the task already completed.
  void watch(SynchronizationContext* context, TaskStateBase& task, bool owned_by_itself) noexcept {
    invoke = &AsyncVoidEnd::fire;
    sync_ = context;
    task_ = &task;
    heap_ = owned_by_itself;
    run_synchronously = true;  // reports the end on the finishing thread, before any await resumes
    task.add_ref();
    task.add_continuation(*this);
  }

 private:
  static void fire(Continuation* c) noexcept {
    auto* const self = static_cast<AsyncVoidEnd*>(c);
    TaskStateBase* const task = self->task_;
    async_void_end(self->sync_, *task);
    if (self->heap_) delete self;
    task->release();  // may free the box holding an embedded node
  }

  SynchronizationContext* sync_ = nullptr;
  TaskStateBase* task_ = nullptr;
  bool heap_ = false;
};

}  // namespace duet::detail
