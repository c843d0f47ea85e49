// duet/sm/async_void_method_builder.hpp — AsyncVoidMethodBuilder: the builder of an `async void` method
// (fire and forget; in .NET, event handlers).
//
// The rules (context capture, operation_started/completed, an escaping exception thrown
// asynchronously) are the async-void policy of context/async_void.hpp, which the fiber form
// shares.
//
// Mechanism. The builder wraps an AsyncTaskMethodBuilder<void> and so shares its box: on the
// first suspension the machine moves into an AsyncStateMachineBox whose task nobody else sees.
// An exception that escapes move_next() faults that task (as for any explicit/dsl method); an
// exception passed to set_exception() is thrown asynchronously at once and the task completes
// normally (.NET's SetException then SetResult). The builder learns of the end either in start()
// (the method never suspended) or through `done_`, the policy's AsyncVoidEnd node embedded in the
// *boxed* copy of this builder and registered on the box's task.
//
// Thread-safety: as AsyncTaskMethodBuilder — a builder belongs to its state machine.
#pragma once

#include <exception>
#include <utility>

#include "duet/context/async_void.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"
#include "duet/detail/assert.hpp"
#include "duet/sm/method_builder_core.hpp"

namespace duet {

// AsyncVoidMethodBuilder — the builder of an explicit/dsl state machine with no task.
class AsyncVoidMethodBuilder {
 public:
  AsyncVoidMethodBuilder() noexcept = default;
  // Moving happens when the machine is boxed (and in create()); the captured context moves along.
  AsyncVoidMethodBuilder(AsyncVoidMethodBuilder&& o) noexcept
      : builder_(std::move(o.builder_)), context_(o.context_), captured_(o.captured_),
        started_(o.started_) {}
  // operator=(fresh) — `sm.builder_ = AsyncVoidMethodBuilder::create();`: allowed while this
  // builder has not started; it takes over the fresh one's captured context (and its
  // operation_started). Assigning over a started builder throws InvalidOperationError.
  AsyncVoidMethodBuilder& operator=(AsyncVoidMethodBuilder&& o) {
    if (started_ || o.started_) detail::throw_builder_assigned_started("AsyncVoidMethodBuilder");
    if (captured_ && context_) context_->operation_completed();  // the replaced builder's call ends
    builder_ = std::move(o.builder_);
    context_ = std::exchange(o.context_, nullptr);
    captured_ = std::exchange(o.captured_, false);
    return *this;
  }
  ~AsyncVoidMethodBuilder() = default;

  // create() — a builder that has captured the current SynchronizationContext and called its
  // operation_started() (.NET's AsyncVoidMethodBuilder.Create()).
  static AsyncVoidMethodBuilder create() noexcept {
    AsyncVoidMethodBuilder b;
    b.capture();
    return b;
  }

  // start(sm) — captures the context (when create() did not), runs sm.move_next() to its first
  // suspension or its end, restores the caller's contexts, and arranges for the end of the method
  // to be reported as described in the header. Never throws to the caller.
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    capture();
    started_ = true;  // before the move into a box: the boxed copy reports through done_
    builder_.start(sm);
    detail::TaskStateBase* const s = builder_.state();  // borrowed: the builder keeps its reference
    if (!s) {
      // move_next() returned without completing or suspending: a broken state machine.
      try {
        detail::throw_task_before_start();
      } catch (...) {
        detail::report_unhandled_exception(std::current_exception());
      }
      if (context_) context_->operation_completed();
      return;
    }
    if (s->is_completed()) {
      detail::async_void_end(context_, *s);
      return;
    }
    // Suspended: the machine (and a copy of this builder) now lives in the box.
    auto* box = static_cast<detail::AsyncStateMachineBox<SM, void>*>(
        static_cast<detail::TaskState<void>*>(s));
    AsyncVoidMethodBuilder& boxed = detail::relocate(*this, sm, box->machine());
    DUET_ASSERT(&boxed != this, "AsyncVoidMethodBuilder must be a field of its state machine");
    boxed.done_.watch(context_, *s, false);
  }

  // await_on_completed / await_unsafe_on_completed — as AsyncTaskMethodBuilder's.
  template <class A, AsyncStateMachine SM>
  void await_on_completed(A& awaiter, SM& sm) noexcept {
    builder_.await_on_completed(awaiter, sm);
  }
  template <class A, AsyncStateMachine SM>
  void await_unsafe_on_completed(A& awaiter, SM& sm) noexcept {
    builder_.await_unsafe_on_completed(awaiter, sm);
  }

  // set_result() — the method ended normally. The captured context hears operation_completed():
  // through start()'s bookkeeping when start() ran, else at once (.NET calls it from SetResult
  // whether or not Start ran). A second completion throws InvalidOperationError.
  void set_result() {
    builder_.set_result();
    if (!started_ && context_) context_->operation_completed();
  }

  // set_exception(e) — the method ended with `e`: throws it asynchronously (see the header), then
  // operation_completed() as set_result. Throws ArgumentError for a null `e`, and
  // InvalidOperationError after a completion.
  void set_exception(std::exception_ptr e) {
    if (!e) detail::throw_builder_null_exception("AsyncVoidMethodBuilder");
    if (builder_.is_completed()) detail::throw_builder_completed("set_exception");
    detail::async_void_throw(context_, std::move(e));
    set_result();
  }

  // set_state_machine — parity with .NET; unused.
  void set_state_machine(IAsyncStateMachine&) noexcept {}

 private:
  void capture() noexcept {
    if (captured_) return;
    captured_ = true;
    context_ = detail::async_void_begin();
  }

  AsyncTaskMethodBuilder<void> builder_;
  SynchronizationContext* context_ = nullptr;
  bool captured_ = false;
  bool started_ = false;  // start() ran: its AsyncVoidEnd / async_void_end reports the end
  detail::AsyncVoidEnd done_;
};

}  // namespace duet
