// duet/fiber/async_void.hpp — the `async void` fiber form: duet::fiber::async_void(fn).
//
//   void on_button_click() {
//     duet::fiber::async_void([] {
//       label.set("Uploading...");
//       duet::await(duet::run(process_file));   // resumes on the UI context
//       label.set("Done");
//     });
//   }
//
// async_void(fn) is the fiber style's AsyncVoidMethodBuilder (sm/async_void_builder.hpp), with
// the same rules, so an event handler written on a fiber behaves as the state-machine one:
//  * the call captures SynchronizationContext::current() and calls its operation_started(); when
//    fn ends, operation_completed() — so a loop can wait for its handlers
//    (SingleThreadContext::run_until_operations_complete());
//  * there is no Task for a caller to observe, so an exception escaping fn is *thrown
//    asynchronously*: posted to the captured context, where it escapes from that loop's pump, or
//    — without a context — handed to the process-wide unhandled-exception handler. An
//    OperationCanceledError is no exception to that rule.
//
// Mechanism. fn runs through duet::fiber::async(fn, options); the fiber's Task stays internal. When
// it has already ended inside the call, the end is reported at once; otherwise an AsyncVoidEnd
// node (one allocation, freed when it fires) is registered on the task and reports the end on the
// thread that finished the fiber — before any other continuation can observe anything, since
// nobody else holds the task. Reporting observes the task's exception, so no unobserved-exception
// report follows.
//
// Thread-safety: async_void() may be called from any thread.
#pragma once

#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/continuation.hpp"
#include "duet/detail/task_state.hpp"
#include "duet/execution_context.hpp"
#include "duet/fiber/fiber.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"

namespace duet::fiber {

namespace detail {

// async_void_throw(context, e) — throws `e` asynchronously: posted to `context` (rethrown by its
// pump), else handed to the unhandled-exception handler.
inline void async_void_throw(SynchronizationContext* context, std::exception_ptr e) noexcept {
  if (context) {
    try {
      context->post([e] { std::rethrow_exception(e); });
      return;
    } catch (...) {  // could not even queue it: nothing else can report it
    }
  }
  duet::detail::report_unhandled_exception(std::move(e));
}

// async_void_end(context, task) — reports the end of an async void fiber (see the header).
inline void async_void_end(SynchronizationContext* context,
                           duet::detail::TaskStateBase& task) noexcept {
  if (task.status() != TaskStatus::ran_to_completion) async_void_throw(context, task.exception());
  if (context) context->operation_completed();
}

// AsyncVoidEnd — the continuation that reports the end of a suspended async void fiber. Owns one
// reference to the task; deletes itself when it fires.
class AsyncVoidEnd final : public Continuation {
 public:
  AsyncVoidEnd(SynchronizationContext* context, duet::detail::TaskStateBase* task) noexcept
      : context_(context), task_(task) {
    this->invoke = &AsyncVoidEnd::fire;
    task_->add_ref();
  }
  AsyncVoidEnd(const AsyncVoidEnd&) = delete;
  AsyncVoidEnd& operator=(const AsyncVoidEnd&) = delete;

 private:
  ~AsyncVoidEnd() = default;
  static void fire(Continuation* c) noexcept {
    auto* self = static_cast<AsyncVoidEnd*>(c);
    async_void_end(self->context_, *self->task_);
    self->task_->release();
    delete self;
  }

  SynchronizationContext* context_;
  duet::detail::TaskStateBase* task_;
};

}  // namespace detail

// async_void(fn, options) — runs fn() (which returns void) on a fiber as an `async void` method:
// see the header comment for the context bookkeeping and where an escaping exception goes.
// Runs synchronously until fn's first incomplete await. Throws FiberStackError / ArgumentError
// (from async(), before anything ran, after calling operation_completed()); never rethrows fn's
// exceptions to the caller.
template <class Fn>
void async_void(Fn&& fn, FiberOptions options = {}) {
  using F = std::decay_t<Fn>;
  static_assert(std::is_invocable_v<F&>,
                "duet::fiber::async_void(fn): fn must be callable with no arguments");
  static_assert(std::is_void_v<std::invoke_result_t<F&>>,
                "duet::fiber::async_void(fn): an async void method returns nothing; use "
                "duet::fiber::async(fn) to return a Task of a value");
  SynchronizationContext* const context = SynchronizationContext::current();
  if (context) context->operation_started();
  Task<> task;
  try {
    task = async(std::forward<Fn>(fn), options);
  } catch (...) {
    if (context) context->operation_completed();
    throw;  // nothing ran: a resource error of the call itself
  }
  duet::detail::TaskStateBase* const state = task.state();
  if (state->is_completed()) {
    detail::async_void_end(context, *state);
    return;
  }
  // Out of memory here terminates, as when a state machine cannot be boxed (sm/builder.hpp): the
  // fiber already runs, and without the node its end could never be reported.
  auto* end = new (std::nothrow) detail::AsyncVoidEnd(context, state);
  if (end == nullptr) std::terminate();
  state->add_continuation(*end);  // runs it at once if the fiber finished meanwhile
}

}  // namespace duet::fiber
