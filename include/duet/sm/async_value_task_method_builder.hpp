// duet/sm/async_value_task_method_builder.hpp — AsyncValueTaskMethodBuilder<T> and
// PoolingAsyncValueTaskMethodBuilder<T>: the builders of explicit/dsl state machines that return
// ValueTask<T>. A state machine picks one by the type of its `builder_` field; the protocol
// (create, start, await_[unsafe_]on_completed, set_result, set_exception, task) is the one of
// AsyncTaskMethodBuilder in sm/method_builder_core.hpp, so a machine switches builders by changing one type.
//
// AsyncValueTaskMethodBuilder<T> (.NET's AsyncValueTaskMethodBuilder<TResult>). A call that
// completes synchronously keeps its result in the builder and task() returns a value-backed
// ValueTask: no allocation at all. A call that suspends is delegated, unchanged, to an embedded
// AsyncTaskMethodBuilder<T> — the same AsyncStateMachineBox, the same one allocation — and task()
// wraps that Task. The builder only has to remember *whether* it suspended, and must record it
// before the delegated call moves the machine (and this builder with it) into the box.
//
// PoolingAsyncValueTaskMethodBuilder<T> (.NET 6+'s PoolingAsyncValueTaskMethodBuilder<TResult>). Synchronous completion is
// the same as above. On the first suspension the machine moves into a PoolingStateMachineBox
// rented from its BoxPool (detail/box_pool.hpp, shared with duet::fiber::async_value); the box is itself the IValueTaskSource<T> (a ManualResetValueTaskSourceCore
// plus a version), so task() returns ValueTask(box, version) and a suspending call allocates
// nothing in steady state.
//
// The pooled box's life (read before changing anything here)
// ---------------------------------------------------------
// References. `refs_` counts
//   * the consumer — one, owned first by the starter's builder (the moved-from one in the
//     caller's frame), handed to the ValueTask by task(), and released by the ValueTask's single
//     get_result() (or by on_abandoned() when the ValueTask dies unconsumed, or by the starter's
//     builder when task() is never called);
//   * the running method — one, released by set_result/set_exception (as AsyncStateMachineBox);
//   * each resumption — one for the duration of step(), so the machine is never recycled under
//     its own move_next().
// The release that drops refs_ to zero recycles the box: destroy the machine, reset the core
// (bumping the version), and give the box back to its BoxPool.
// Version. The consumer's get_result() resets the core right after it moved the result out, so a
// second get_result/get_status/on_completed with the old token throws at once — even while the
// method's last step is still unwinding and the box is not yet back in the cache.
// Mind the move (sm/method_builder_core.hpp): the box address is published in this builder
// *before* the machine is moved into it, and the continuation is registered on the boxed copy of
// the awaiter (MethodBuilderCore::suspend).
//
// Thread-safety: a builder belongs to its state machine; one move_next() runs at a time. The pool
// is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/detail/assert.hpp"
#include "duet/detail/box_pool.hpp"
#include "duet/detail/ref_count.hpp"
#include "duet/detail/result_slot.hpp"
#include "duet/sm/method_builder_core.hpp"
#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet {

namespace detail {

[[noreturn]] void throw_value_task_before_start();
[[noreturn]] void throw_pooled_task_twice();

// PoolingBoxBase<T> — the SM-independent half of a pooled box: the IValueTaskSource<T> face, the
// core, the reference count. The box is also the Continuation that resumes the machine.
template <class T>
class PoolingBoxBase : public PooledValueTaskSource<T, PoolingBoxBase<T>>,
                       public Continuation,
                       public Pooled {
 public:
  // add_ref / release — see "References"; the last release recycles the box.
  void add_ref() noexcept { refs_.add_ref(); }
  void release() noexcept {
    if (refs_.drop()) recycle();
  }

  void on_abandoned(short token) noexcept override {
    if (token == this->core_.version()) release();  // a stale token owns nothing
  }
  // consumed() — PooledValueTaskSource's hook after the consumer's get_result: the token goes
  // stale, the consumer's reference goes.
  void consumed() noexcept {
    this->core_.reset();
    release();
  }

  // complete_value(v...) — the running method's result. Precondition: called once, by the method
  // running in this box; the caller then releases the running reference.
  template <class... Args>
  void complete_value(Args&&... args) {
    this->core_.set_result(std::forward<Args>(args)...);
  }
  // fault(e) — completes the operation with `e`; false (nothing done) when it already completed.
  bool fault(std::exception_ptr e) noexcept {
    if (this->core_.is_completed()) return false;
    try {
      this->core_.set_exception(std::move(e));
    } catch (...) {
      return false;
    }
    return true;
  }

 protected:
  PoolingBoxBase() noexcept = default;
  ~PoolingBoxBase() = default;
  // recycle() — refs_ reached zero: destroy the machine and return the box to its pool.
  virtual void recycle() noexcept = 0;

  RefCount refs_{0};
};

// PoolingStateMachineBox<SM, T> — a pooled box for state machines of type SM (.NET's
// PoolingAsyncValueTaskMethodBuilder<T>.StateMachineBox<TStateMachine>).
template <class SM, class T>
class PoolingStateMachineBox final : public PoolingBoxBase<T>, public IAsyncStateMachine {
 public:
  PoolingStateMachineBox() noexcept { this->invoke = &PoolingStateMachineBox::resume; }
  ~PoolingStateMachineBox() {
    DUET_ASSERT(!has_machine_, "a pooled box destroyed while it still holds a state machine");
  }

  // rent() — a box from the pool; null when out of memory (the builder then faults the call
  // with std::bad_alloc, as MethodBuilderCore::suspend describes).
  static PoolingStateMachineBox* rent() noexcept {
    try {
      return BoxPool<PoolingStateMachineBox>::rent();
    } catch (...) {
      return nullptr;
    }
  }

  // create(ref, sm) — a box from the pool holding `sm` (moved), adopted into `ref` before the
  // move; the references armed (consumer + running).
  template <class Ref>
  static PoolingStateMachineBox* create(Ref& ref, SM& sm) noexcept {
    PoolingStateMachineBox* const box = rent();
    if (!box) [[unlikely]] return nullptr;  // out of memory: `ref` and `sm` untouched
    ref.adopt(box);
    // A pooled box is not allocated here, so the relocation check of box_allocate is made inline:
    // I/O operations watching the machine's bytes pause until start() rebases them into the box
    // (detail/relocation.hpp).
    if (relocation_any_watched()) [[unlikely]] relocation_moving(std::addressof(sm), &box->machine_);
    ::new (static_cast<void*>(&box->machine_)) SM(std::move(sm));
    box->has_machine_ = true;
    box->refs_.reset(2);
    DUET_TRACE(record('i', "task created", box));
    return box;
  }

  SM& machine() noexcept { return machine_; }
  // diag_self_key() — what a ValueTask awaiter of this box names as its source (diagnostics).
  const void* diag_self_key() const noexcept { return static_cast<const IValueTaskSource<T>*>(this); }

  void move_next() override { MethodBuilderCore::step(*this); }
  void set_state_machine(IAsyncStateMachine&) override {}

 private:
  static void resume(Continuation* c) noexcept {
    MethodBuilderCore::step(static_cast<PoolingStateMachineBox&>(*c));
  }

  void recycle() noexcept override {
    machine_.~SM();
    has_machine_ = false;
    this->core_.reset();
    ec_release(std::exchange(this->execution_context, nullptr));
    this->flow_execution_context = false;
    this->context = nullptr;
    this->next = nullptr;
    BoxPool<PoolingStateMachineBox>::give_back(this);
  }

  union {
    SM machine_;
  };
  bool has_machine_ = false;
};

// PoolingFaultBox<T> — the pooled source of a call that faulted before its first suspension
// (.NET's weakly typed box, which its pooling builder hands out for such a call): no machine,
// one reference (the consumer's), pooled per T, so a synchronous fault allocates nothing in
// steady state and its ValueTask is source-backed, as a suspended call's is.
template <class T>
class PoolingFaultBox final : public PoolingBoxBase<T> {
 public:
  // rent(e) — a box faulted with `e`, its one reference owned by the caller; null when out of
  // memory.
  static PoolingFaultBox* rent(std::exception_ptr e) noexcept {
    PoolingFaultBox* box;
    try {
      box = BoxPool<PoolingFaultBox>::rent();
    } catch (...) {
      return nullptr;
    }
    box->fault(std::move(e));
    box->refs_.reset(1);
    return box;
  }

 private:
  void recycle() noexcept override {
    this->core_.reset();
    BoxPool<PoolingFaultBox>::give_back(this);
  }
};

}  // namespace detail

// AsyncValueTaskMethodBuilder<T> — builds the ValueTask<T> of an explicit/dsl state machine; a
// synchronous completion allocates nothing (see the header comment).
template <class T = void>
class AsyncValueTaskMethodBuilder {
 public:
  AsyncValueTaskMethodBuilder() noexcept = default;
  // Moving happens only when the machine is boxed (see sm/method_builder_core.hpp).
  AsyncValueTaskMethodBuilder(AsyncValueTaskMethodBuilder&& o) noexcept
      : inner_(std::move(o.inner_)), suspended_(o.suspended_) {}
  AsyncValueTaskMethodBuilder& operator=(AsyncValueTaskMethodBuilder&&) = delete;

  // create() — a fresh builder.
  static AsyncValueTaskMethodBuilder create() noexcept { return AsyncValueTaskMethodBuilder(); }

  // start(sm) — as AsyncTaskMethodBuilder::start.
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    started_ = true;
    inner_.start(sm);
  }

  // await_on_completed / await_unsafe_on_completed — as AsyncTaskMethodBuilder's; the first one
  // boxes the machine (one allocation).
  template <class A, AsyncStateMachine SM>
  void await_on_completed(A& awaiter, SM& sm) noexcept {
    suspended_ = true;  // before the move: the boxed copy must know it suspended
    inner_.await_on_completed(awaiter, sm);
  }
  template <class A, AsyncStateMachine SM>
  void await_unsafe_on_completed(A& awaiter, SM& sm) noexcept {
    suspended_ = true;
    inner_.await_unsafe_on_completed(awaiter, sm);
  }

  // set_result(v) — completes the call: kept in the builder when it never suspended.
  template <class... Args>
  void set_result(Args&&... args) {
    if (!suspended_) {
      if (result_.has_value()) detail::throw_builder_completed("set_result");
      result_.emplace(std::forward<Args>(args)...);
      return;
    }
    inner_.set_result(std::forward<Args>(args)...);
  }

  // set_exception(e) — faults (or cancels) the call's ValueTask. Misuse (a null `e`, a second
  // completion) throws as AsyncTaskMethodBuilder's.
  void set_exception(std::exception_ptr e) {
    if (result_.has_value()) detail::throw_builder_completed("set_exception");
    inner_.set_exception(std::move(e));
  }

  void set_state_machine(IAsyncStateMachine&) noexcept {}

  // task() — the call's ValueTask. Call once, after start() (before: InvalidOperationError).
  ValueTask<T> task() {
    if (!started_) detail::throw_value_task_before_start();
    if (result_.has_value()) return detail::sync_value_task(result_);
    return ValueTask<T>(inner_.task());
  }

 private:
  AsyncTaskMethodBuilder<T> inner_;
  detail::ResultSlot<T> result_;
  bool suspended_ = false;
  bool started_ = false;
};

// PoolingAsyncValueTaskMethodBuilder<T> — as AsyncValueTaskMethodBuilder<T>, but a suspending
// call runs in a pooled box that is reused after its ValueTask is consumed: 0 allocations in
// steady state (see the header comment).
template <class T = void>
class PoolingAsyncValueTaskMethodBuilder
    : public detail::MethodBuilderBase<PoolingAsyncValueTaskMethodBuilder<T>> {
  using Base = detail::MethodBuilderBase<PoolingAsyncValueTaskMethodBuilder>;
  friend Base;

 public:
  PoolingAsyncValueTaskMethodBuilder() noexcept = default;
  // Moving happens only when the machine is boxed: the boxed copy owns no consumer reference.
  PoolingAsyncValueTaskMethodBuilder(PoolingAsyncValueTaskMethodBuilder&&) noexcept = default;
  PoolingAsyncValueTaskMethodBuilder& operator=(PoolingAsyncValueTaskMethodBuilder&&) = delete;

  static PoolingAsyncValueTaskMethodBuilder create() noexcept {
    return PoolingAsyncValueTaskMethodBuilder();
  }

  // start(sm) — MethodBuilderCore::start; an escaping exception faults the call.
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    started_ = true;
    Base::start(sm);
  }

  // set_result(v) — completes the call.
  template <class... Args>
  void set_result(Args&&... args) {
    if (!box_.get()) {
      result_.emplace(std::forward<Args>(args)...);
      return;
    }
    DUET_ASSERT(box_.in_box(), "set_result on a builder that does not run in its box");
    box_.get()->complete_value(std::forward<Args>(args)...);
    box_.get()->release();  // the running reference
  }

  // set_exception(e) — faults (or cancels) the call. Before the first suspension the fault goes
  // into a PoolingFaultBox, so task() hands out a source-backed ValueTask either way.
  void set_exception(std::exception_ptr e) noexcept {
    if (box_.in_box()) {
      detail::MethodBuilderCore::fault_running(*box_.get(), std::move(e));
      return;
    }
    if (box_.get() || result_.has_value() || out_of_memory_) {
      detail::report_unhandled_exception(std::move(e));  // the call already completed
      return;
    }
    if (auto* const box = detail::PoolingFaultBox<T>::rent(std::move(e))) {
      box_.adopt(box);
    } else {
      out_of_memory_ = true;
    }
  }

  // task() — the call's ValueTask. Call once, after start(): InvalidOperationError before start()
  // or on a second call for a suspended call (its box has one consumer).
  ValueTask<T> task() {
    if (!started_) detail::throw_value_task_before_start();
    if (detail::PoolingBoxBase<T>* const box = box_.get()) {
      if (!box_.owns()) detail::throw_pooled_task_twice();
      box_.disown();  // handed to the ValueTask
      return ValueTask<T>(*box, box->version());
    }
    if (out_of_memory_) [[unlikely]] return ValueTask<T>(detail::OutOfMemoryState<T>::task());
    return detail::sync_value_task(result_);
  }

 private:
  // The hooks of MethodBuilderBase's suspension step.
  template <class SM>
  using Box = detail::PoolingStateMachineBox<SM, T>;
  detail::BoxRef<detail::PoolingBoxBase<T>>& box_ref() noexcept { return box_; }
  void fault_out_of_memory() noexcept { out_of_memory_ = true; }

  detail::BoxRef<detail::PoolingBoxBase<T>> box_;
  detail::ResultSlot<T> result_;
  bool out_of_memory_ = false;  // the call faulted with std::bad_alloc (OutOfMemoryState)
  bool started_ = false;
};

}  // namespace duet
