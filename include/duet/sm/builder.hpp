// duet/sm/builder.hpp — IAsyncStateMachine, AsyncTaskMethodBuilder<T> and the state-machine box:
// the runtime half of the explicit and dsl styles (the user writes move_next(); this file does
// what .NET's AsyncMethodBuilderCore / AsyncTaskMethodBuilder<T> / AsyncStateMachineBox<T> do).
//
// The shape a state machine takes (seed 002, tidied):
//
//   struct GetStatusMachine {
//     int state_ = -1;                           // -1 running/not started, 0..n suspended, -2 done
//     duet::AsyncTaskMethodBuilder<int> builder_; // the builder
//     HttpClient* http_;                         // parameters and hoisted locals
//     duet::TaskAwaiter<Response> awaiter_;      // one field per awaiter type
//     void move_next() { ... }                   // the method body, split at each await
//   };
//   duet::Task<int> get_status_async(HttpClient& http) {
//     GetStatusMachine sm{.http_ = &http};
//     sm.builder_.start(sm);                     // runs synchronously to the first suspension
//     return sm.builder_.task();
//   }
//
// The box. A call that never suspends runs entirely in the caller's stack frame and allocates no
// box. On the first suspension, await_[unsafe_]on_completed moves the whole state machine into an
// AsyncStateMachineBox<SM, T>, which *is* the task's shared state and embeds the Continuation
// that resumes it: one allocation for all three, as .NET's AsyncStateMachineBox<TStateMachine>.
//
// Mind the move. The awaiter handed to await_*_on_completed is often a field of the very struct
// being moved into the box. The builder therefore registers the continuation on the *boxed* copy
// of that field (same offset inside the boxed machine), never on the moved-from original.
//
// References. A new box starts with two references: one held by the builder left in the caller's
// (moved-from) state machine, released when that struct is destroyed — it is what task() hands
// out after start() returns — and one "running" reference released when the method completes.
// Each resumption holds a third for its duration, so completing the task inside move_next() can
// never free the machine that is still executing.
//
// Context flow. start() saves the caller's ExecutionContext and SynchronizationContext and
// restores both when move_next() returns, so nothing the method sets leaks to its caller. Each
// await captures the ExecutionContext into the box's continuation; resumption reinstalls it and
// restores the resuming thread's own afterwards (run_continuation).
//
// Thread-safety: a builder belongs to its state machine; one move_next() runs at a time.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "duet/awaiter.hpp"
#include "duet/detail/task_state.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"

namespace duet {

// IAsyncStateMachine — .NET's interface, implemented by every box. User state machines need not
// derive from it: the builders are templates and call move_next() directly (see
// AsyncStateMachine).
class IAsyncStateMachine {
 public:
  // move_next() — runs the method from its current state to the next suspension or the end.
  virtual void move_next() = 0;
  // set_state_machine(sm) — kept for parity with .NET; boxes ignore it.
  virtual void set_state_machine(IAsyncStateMachine& sm) = 0;

 protected:
  ~IAsyncStateMachine() = default;
};

// AsyncStateMachine — what a builder needs of a user's state machine.
template <class SM>
concept AsyncStateMachine = std::is_move_constructible_v<SM> && requires(SM& sm) { sm.move_next(); };

namespace detail {

// report_unhandled_in_box(e) — an exception escaped a completed state machine (nothing left to
// fault); forwarded to the unhandled-exception handler.
void report_unhandled_exception(std::exception_ptr e) noexcept;

// AsyncStateMachineBox<SM, T> — the heap home of a suspended state machine: task state,
// resumption node and the machine itself in one allocation.
template <class SM, class T>
class AsyncStateMachineBox final : public TaskState<T>, public Continuation, public IAsyncStateMachine {
 public:
  explicit AsyncStateMachineBox(SM&& sm) : TaskState<T>(2), machine_(std::move(sm)) {
    this->invoke = &AsyncStateMachineBox::resume;
    this->owner = this;
  }

  void move_next() override { step(); }
  void set_state_machine(IAsyncStateMachine&) override {}

  SM& machine() noexcept { return machine_; }

 private:
  // Cast through a reference: a pointer static_cast to a base at a non-zero offset carries a null
  // check that g++ 12 -O2 reports as -Wnull-dereference / -Wstringop-overflow in user code.
  static void resume(Continuation* c) noexcept { static_cast<AsyncStateMachineBox&>(*c).step(); }

  void step() noexcept {
    this->add_ref();  // keep the machine alive while it runs (see "References")
    try {
      machine_.move_next();
    } catch (...) {
      if (this->try_complete_exception(std::current_exception())) {
        this->release();  // the running reference
      } else {
        report_unhandled_exception(std::current_exception());
      }
    }
    this->release();
  }

  SM machine_;
};

// relocate(field, from, to) — the address in `to` of the member of `from` at `field`; `field`
// itself when it is not inside `from` (a local awaiter, as Roslyn passes).
template <class A, class SM>
A& relocate(A& field, SM& from, SM& to) noexcept {
  auto* f = reinterpret_cast<std::byte*>(std::addressof(field));
  auto* base = reinterpret_cast<std::byte*>(std::addressof(from));
  if (f >= base && f + sizeof(A) <= base + sizeof(SM)) {
    return *std::launder(reinterpret_cast<A*>(reinterpret_cast<std::byte*>(std::addressof(to)) + (f - base)));
  }
  return field;
}

[[noreturn]] void throw_task_before_start();

// OutOfMemoryState<T> — the immortal Task<T> state faulted with std::bad_alloc that a builder
// hands out when it cannot allocate its box or state: the method that could not go on faults
// instead of terminating the process. Not counted by live_task_states() (it is never freed, like
// the completed Task<>).
template <class T>
class OutOfMemoryState final : public TaskState<T> {
 public:
  OutOfMemoryState() noexcept : TaskState<T>(TaskStateBase::k_immortal) {
#ifndef NDEBUG
    count_task_state(-1);
#endif
    this->try_complete_exception(std::make_exception_ptr(std::bad_alloc()));
  }
  // out_of_memory() — the one state for T, built in static storage on first use.
  static TaskState<T>* get() noexcept {
    alignas(OutOfMemoryState) static unsigned char storage[sizeof(OutOfMemoryState)];
    static TaskState<T>* const s = ::new (static_cast<void*>(storage)) OutOfMemoryState();
    return s;
  }
};

}  // namespace detail

// AsyncTaskMethodBuilder<T> — builds the Task<T> of an explicit/dsl state machine.
template <class T = void>
class AsyncTaskMethodBuilder {
 public:
  AsyncTaskMethodBuilder() noexcept = default;
  // Moving a builder happens when its state machine is boxed: the copy in the box does not own
  // the starter's reference (see "References" above).
  AsyncTaskMethodBuilder(AsyncTaskMethodBuilder&& o) noexcept
      : state_(o.state_), owns_ref_(false), in_box_(o.state_ != nullptr) {}
  AsyncTaskMethodBuilder& operator=(AsyncTaskMethodBuilder&&) = delete;
  ~AsyncTaskMethodBuilder() {
    if (owns_ref_) state_->release();
  }

  // create() — a fresh builder (.NET's AsyncTaskMethodBuilder.Create()).
  static AsyncTaskMethodBuilder create() noexcept { return AsyncTaskMethodBuilder(); }

  // start(sm) — runs sm.move_next() synchronously on the calling thread until the first
  // suspension or the end, then restores the caller's ExecutionContext and
  // SynchronizationContext. An exception leaving move_next() faults the task.
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    detail::EcScope ec_restore;
    SyncContextScope sc_restore(SynchronizationContext::current());
    try {
      sm.move_next();
    } catch (...) {
      set_exception(std::current_exception());
    }
  }

  // await_on_completed(awaiter, sm) / await_unsafe_on_completed(awaiter, sm) — the suspension
  // step: boxes `sm` on its first suspension, captures the ExecutionContext into the box's
  // continuation and registers it with the awaiter (on the boxed copy when `awaiter` is a field
  // of `sm`). After this call the caller must return from move_next() without touching `sm`.
  template <class A, AsyncStateMachine SM>
  void await_on_completed(A& awaiter, SM& sm) noexcept {
    static_assert(Awaiter<A>, "duet: await_on_completed needs a duet::Awaiter");
    auto [box, target] = prepare(awaiter, sm);
    if (box) target.on_completed(*box);  // null: out of memory, the task faulted (prepare)
  }
  template <class A, AsyncStateMachine SM>
  void await_unsafe_on_completed(A& awaiter, SM& sm) noexcept {
    static_assert(Awaiter<A>, "duet: await_unsafe_on_completed needs a duet::Awaiter");
    auto [box, target] = prepare(awaiter, sm);
    if (box) target.unsafe_on_completed(*box);
  }

  // set_result(v) — completes the task (the last statement of move_next()).
  template <class... Args>
  void set_result(Args&&... args) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(Args) == 0, "duet: a Task<> method returns no value: call set_result()");
      if (!state_) {
        state_ = detail::TaskState<void>::completed();  // immortal; no reference to own
        return;
      }
      const bool done = state_->try_complete_value();
      DUET_ASSERT(done, "AsyncTaskMethodBuilder completed twice");
      (void)done;
    } else {
      static_assert(sizeof...(Args) == 1, "duet: a Task<T> method returns one value: set_result(v)");
      if (!state_) {
        state_ = new detail::TaskState<T>(1);
        owns_ref_ = true;
      }
      const bool done = state_->try_complete_value(std::forward<Args>(args)...);
      DUET_ASSERT(done, "AsyncTaskMethodBuilder completed twice");
      (void)done;
    }
    release_running();
  }

  // set_exception(e) — faults the task (cancels it for an OperationCanceledError).
  void set_exception(std::exception_ptr e) noexcept {
    if (!state_) {
      state_ = new (std::nothrow) detail::TaskState<T>(1);
      if (!state_) {  // out of memory: the task faults with std::bad_alloc instead
        state_ = detail::OutOfMemoryState<T>::get();
        return;
      }
      owns_ref_ = true;
    }
    if (state_->try_complete_exception(e)) {
      release_running();
    } else {
      detail::report_unhandled_exception(e);
    }
  }

  // set_state_machine — parity with .NET; unused.
  void set_state_machine(IAsyncStateMachine&) noexcept {}

  // task() — the method's task. Call it after start() (it throws InvalidOperationError before).
  Task<T> task() const {
    if (!state_) detail::throw_task_before_start();
    state_->add_ref();
    return detail::adopt_task(state_);
  }

 private:
  template <class A, class SM>
  struct Prepared {
    detail::AsyncStateMachineBox<SM, T>* box;
    A& target;
  };

  template <class A, class SM>
  Prepared<A, SM> prepare(A& awaiter, SM& sm) noexcept {
    using Box = detail::AsyncStateMachineBox<SM, T>;
    if (!state_) {
      // First suspension. Publish the box's address in our own state_ *before* moving the
      // machine (this builder is a field of `sm`), so the boxed builder inherits it and knows it
      // lives in the box.
      void* mem;
      if constexpr (alignof(Box) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
        mem = ::operator new(sizeof(Box), std::align_val_t(alignof(Box)), std::nothrow);
      } else {
        mem = ::operator new(sizeof(Box), std::nothrow);
      }
      if (!mem) [[unlikely]] {
        // Out of memory while suspending: the method cannot go on. Its task faults with
        // std::bad_alloc; nothing is registered with the awaiter, and the machine stays in the
        // caller's frame, destroyed with it.
        state_ = detail::OutOfMemoryState<T>::get();
        return {nullptr, awaiter};
      }
      Box* box = static_cast<Box*>(mem);
      state_ = box;
      owns_ref_ = true;
      ::new (mem) Box(std::move(sm));  // refs = 2: running + this (starter's) builder
      detail::capture_execution_context(*box);
      return {box, detail::relocate(awaiter, sm, box->machine())};
    }
    DUET_ASSERT(in_box_, "a state machine suspended after it completed");
    Box* box = static_cast<Box*>(state_);
    detail::capture_execution_context(*box);
    return {box, awaiter};
  }

  void release_running() noexcept {
    if (in_box_) state_->release();
  }

  detail::TaskState<T>* state_ = nullptr;
  bool owns_ref_ = false;
  bool in_box_ = false;
};

}  // namespace duet
