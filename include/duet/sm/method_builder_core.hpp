// duet/sm/method_builder_core.hpp — the runtime half of the explicit and dsl styles, written once:
// MethodBuilderCore (start, the first-suspension prepare, the box step), the reference rules of a
// builder's box (BoxRef), IAsyncStateMachine, and AsyncTaskMethodBuilder<T> with its box — the
// core's Task-returning face (.NET's AsyncMethodBuilderCore, AsyncTaskMethodBuilder<T> and
// AsyncStateMachineBox<T>). The other builders are thin adapters on the same core:
// sm/async_void_method_builder.hpp, sm/async_value_task_method_builder.hpp.
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
// (moved-from) state machine — task() hands it over to the Task it returns (a second task() from
// that builder then throws), else it is released when that struct is destroyed — and one
// "running" reference released when the method completes.
// The running reference is released by the resumption (MethodBuilderCore::step_task_box) in
// which the method completes, after move_next() returned, so completing the task inside
// move_next() can never free the machine that is still executing, and a resumption takes no
// reference of its own (two atomic operations fewer per resumption). The builder tells the step
// that the method completed through a per-thread slot (completed_in_step), saved and restored by
// every step, so inline continuations that run nested steps do not disturb it.
//
// Context flow. start() saves the caller's ExecutionContext and SynchronizationContext and
// restores both when move_next() returns, so nothing the method sets leaks to its caller. Each
// await captures the ExecutionContext into the box's continuation; resumption reinstalls it and
// restores the resuming thread's own afterwards (run_continuation, core/continuation.hpp).
//
// Thread-safety: a builder belongs to its state machine; one move_next() runs at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/detail/assert.hpp"
#include "duet/detail/relocation.hpp"
#include "duet/diag/diagnostics.hpp"
#include "duet/diag/trace.hpp"

namespace duet {

// IAsyncStateMachine — .NET's interface. A user's state machine may implement it; none needs to:
// the builders are templates and call move_next() directly (see AsyncStateMachine). The Task box
// (AsyncStateMachineBox) does not implement it, to save a vtable pointer per box.
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

[[noreturn]] void throw_task_before_start();
// throw_task_twice() — InvalidOperationError for a second AsyncTaskMethodBuilder::task().
[[noreturn]] void throw_task_twice();
// throw_builder_completed(what) — InvalidOperationError for a builder completed a second time.
[[noreturn]] void throw_builder_completed(const char* what);
// throw_builder_null_exception(builder) — ArgumentError for set_exception(nullptr).
[[noreturn]] void throw_builder_null_exception(const char* builder);
// throw_builder_assigned_started(builder) — InvalidOperationError for a builder assigned over,
// or from, one that already started.
[[noreturn]] void throw_builder_assigned_started(const char* builder);

// exchange_completed_in_step(state) — the calling thread's "a method completed in the running
// step" slot (src/sm/method_builder_core.cpp): stores `state`, returns the previous value. Set by
// AsyncTaskMethodBuilder when the boxed method completes; read by step_task_box. Non-inlined:
// the thread-local's address is never kept.
const void* exchange_completed_in_step(const void* state) noexcept;

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

// BoxRef<State> — a builder's pointer to its box (or its completed task state), with the
// reference rules of "References" above. The builder in the caller's frame owns one reference;
// the copy moved into the box owns none and knows it runs in the box.
template <class State>
class BoxRef {
 public:
  BoxRef() noexcept = default;
  BoxRef(BoxRef&& o) noexcept : bits_((o.bits_ & ~k_flags) | (o.get() ? k_in_box : 0)) {}
  BoxRef& operator=(BoxRef&&) = delete;
  ~BoxRef() {
    if (owns()) get()->release();
  }

  State* get() const noexcept { return reinterpret_cast<State*>(bits_ & ~k_flags); }
  // in_box() — this builder is the copy inside the box (the method is running there).
  bool in_box() const noexcept { return (bits_ & k_in_box) != 0; }
  // owns() — this builder holds the starter's reference.
  bool owns() const noexcept { return (bits_ & k_owns) != 0; }
  // adopt(s) — points at `s` and owns one of its references. A box is adopted *before* the
  // machine is moved into it, so the boxed copy of the builder inherits the address.
  void adopt(State* s) noexcept { bits_ = reinterpret_cast<std::uintptr_t>(s) | (bits_ & k_in_box) | k_owns; }
  // borrow(s) — points at `s` without a reference (the immortal completed Task<>).
  void borrow(State* s) noexcept { bits_ = reinterpret_cast<std::uintptr_t>(s) | (bits_ & k_flags); }
  // disown() — the reference was handed on (to the ValueTask task() returned).
  void disown() noexcept { bits_ &= ~k_owns; }
  // adopt_box(b) — adopt(b) for a box (the method suspended): its reference is the one task()
  // hands over (boxed_owned()).
  void adopt_box(State* b) noexcept { adopt(b); bits_ |= k_handoff; }
  // boxed_owned() — owns the starter's reference to a box: task() may hand it over.
  bool boxed_owned() const noexcept { return (bits_ & (k_owns | k_handoff)) == (k_owns | k_handoff); }
  // hand_over() — the box's reference went to the Task that task() returned: disowned, and
  // remembered (handed()), so a second task() can tell a box it no longer keeps alive from a
  // borrowed immortal state.
  void hand_over() noexcept { bits_ &= ~k_owns; }
  bool handed() const noexcept { return (bits_ & (k_owns | k_handoff)) == k_handoff; }

 private:
  // One word: the state pointer with the three flags in its low bits (a task state is at least
  // 8-aligned), so a builder field costs a state machine — and its box — 8 bytes, not 16.
  // k_handoff: with k_owns, the owned state is a box whose reference task() hands over; without
  // it, task() has handed it over.
  static constexpr std::uintptr_t k_owns = 1;
  static constexpr std::uintptr_t k_in_box = 2;
  static constexpr std::uintptr_t k_handoff = 4;
  static constexpr std::uintptr_t k_flags = k_owns | k_in_box | k_handoff;
  static_assert(alignof(State) > k_flags, "BoxRef packs three flags into the pointer");

  std::uintptr_t bits_ = 0;
};

// DslAwait — the tag dsl_suspend passes to a builder that takes one (AsyncIteratorBuilder), so
// diagnostics can tell a dsl iterator from an explicit one: both derive from AsyncIterator.
struct DslAwait {};

// diag_note_suspended(box, awaiter) — the registry record of a box suspending on `awaiter`
// (diag/diagnostics.hpp). Out of line and cold: only the flag test sits on the suspension path.
template <class Box, class A>
[[gnu::cold, gnu::noinline]] void diag_note_suspended(Box& box, const A& awaiter) noexcept {
  using SM = std::remove_reference_t<decltype(box.machine())>;
  namespace dg = diagnostics;
  dg::FrameRecord rec;
  rec.owner = std::addressof(box);
  if constexpr (std::is_base_of_v<TaskStateBase, Box>) {
    rec.self_key = static_cast<const TaskStateBase*>(std::addressof(box));
    rec.style = requires(SM& m) { m.dsl_; } ? dg::Style::dsl : dg::Style::explicit_sm;
  } else {
    rec.self_key = box.diag_self_key();
    rec.style = dg::Style::pooled_value_task;
  }
  rec.name = dg::detail::machine_name<SM>();
  if constexpr (requires(SM& m) { static_cast<std::int32_t>(m.state_); }) {
    rec.state = static_cast<std::int32_t>(box.machine().state_);
  }
  dg::detail::describe_awaiter(awaiter, rec.awaited);
  dg::detail::note_suspended(rec);
}

// MethodBuilderCore — the three steps every builder takes the same way.
struct MethodBuilderCore {
  // start(sm, fault) — runs sm.move_next() synchronously on the calling thread until the first
  // suspension or the end, then restores the caller's ExecutionContext and
  // SynchronizationContext. An exception leaving move_next() goes to fault(e). Meanwhile the
  // machine's bytes are a RelocationScope: an I/O operation that goes pending with a buffer in
  // them follows the machine into its box (detail/relocation.hpp). The scope rides on the ambient
  // save and restore (two out-of-line calls start() makes anyway), and is opened only in a
  // program that links duet's sockets; the builder itself pays two stores for it.
  template <class SM, class Fault>
  static void start(SM& sm, Fault&& fault) noexcept {
    RelocationScope relocation(std::addressof(sm), sizeof(SM));
    AmbientScope restore(relocation);
    try {
      sm.move_next();
    } catch (...) {
      fault(std::current_exception());
    }
  }

  // suspend<Flow, Box>(awaiter, sm, ref) — the suspension step. On the first suspension
  // Box::create(ref, sm) boxes the machine (it adopts the box into `ref`, then moves `sm` into
  // it: "Mind the move"), and the continuation is registered on the *boxed* copy of `awaiter`
  // when it is a field of `sm`. The box's ExecutionContext is captured, then the awaiter's
  // on_completed (Flow) or unsafe_on_completed registers the box. A registration that throws
  // faults the method with its exception (the machine is not resumed; see "A registration that
  // throws" in docs/design.md). After this call the caller must return from move_next() without
  // touching `sm`. False: out of memory for the box
  // (Box::create returned null) — nothing was registered with the awaiter, `ref` is unchanged,
  // and the machine stays in the caller's frame, destroyed with it; the builder then faults the
  // method with std::bad_alloc.
  template <bool Flow, class Box, class A, class SM, class Ref>
  [[nodiscard]] static bool suspend(A& awaiter, SM& sm, Ref& ref) noexcept {
    if constexpr (Flow) {
      static_assert(Awaiter<A>, "duet: await_on_completed needs a duet::Awaiter");
    } else {
      static_assert(Awaiter<A>, "duet: await_unsafe_on_completed needs a duet::Awaiter");
    }
    Box* box;
    A* target = std::addressof(awaiter);
    if (ref.get() == nullptr) {
      // The move into the box. I/O operations watching the machine's bytes follow it: the box's
      // allocation pauses them (box_allocate), the scope's close in start() rebases them
      // (detail/relocation.hpp). Nothing here: the check rides on the allocation call.
      box = Box::create(ref, sm);
      if (!box) [[unlikely]] return false;
      target = std::addressof(relocate(awaiter, sm, box->machine()));
    } else {
      DUET_ASSERT(ref.in_box(), "a state machine suspended after it completed");
      box = static_cast<Box*>(ref.get());
    }
    capture_execution_context(*box);
    DUET_DIAG_HOOK(diag_note_suspended(*box, *target));
    DUET_TRACE(suspended(box, diagnostics::detail::machine_name<SM>()));
    try {
      if constexpr (Flow) {
        target->on_completed(*box);
      } else {
        target->unsafe_on_completed(*box);
      }
    } catch (...) {
      // The registration threw: nothing will resume the box, so the method faults with it
      // ("A registration that throws", docs/design.md).
      DUET_DIAG_HOOK(diagnostics::detail::note_resumed(box));
      ec_release(std::exchange(box->execution_context, nullptr));
      box->flow_execution_context = false;
      fault_running(*box, std::current_exception());
    }
    return true;
  }

  // step(box) — one resumption of a boxed machine (the box's Continuation::invoke). Holds a
  // reference for its duration, so completing the task inside move_next() can never free the
  // machine that is still executing. An escaping exception faults the method (releasing the
  // running reference), or, when it already completed, goes to the unhandled-exception handler.
  template <class Box>
  static void step(Box& box) noexcept {
    DUET_DIAG_HOOK(diagnostics::detail::note_resumed(std::addressof(box)));
    DUET_TRACE(resumed(std::addressof(box), machine_name_of(box)));
    box.add_ref();
    try {
      box.machine().move_next();
    } catch (...) {
      fault_running(box, std::current_exception());
    }
    box.release();
    DUET_TRACE(end());
  }

  // fault_running(box, e) — the method running in `box` ends with `e`: faults its task and
  // releases the running reference, or, when it already completed, reports `e` as unhandled.
  template <class Box>
  static void fault_running(Box& box, std::exception_ptr e) noexcept {
    if (box.fault(e)) {
      box.release();  // the running reference
    } else {
      report_unhandled_exception(std::move(e));
    }
  }

  // step_task_box(box) — step() for AsyncStateMachineBox, whose builder leaves the running
  // reference to the step ("References"): no reference is taken for the resumption; when the
  // method completed in it (the builder or the fault marked completed_in_step), the running
  // reference is released after move_next() returned. The box is not touched after a
  // move_next() that suspended: another thread may already be resuming it.
  template <class Box>
  static void step_task_box(Box& box) noexcept {
    const void* const self = static_cast<const TaskStateBase*>(&box);
    DUET_DIAG_HOOK(diagnostics::detail::note_resumed(std::addressof(box)));
    DUET_TRACE(resumed(std::addressof(box), machine_name_of(box)));
    const void* const outer = exchange_completed_in_step(nullptr);
    try {
      box.machine().move_next();
    } catch (...) {
      if (box.fault(std::current_exception())) {
        exchange_completed_in_step(self);
      } else {
        report_unhandled_exception(std::current_exception());
      }
    }
    if (exchange_completed_in_step(outer) == self) box.release();  // the running reference
    DUET_TRACE(end());
  }

  // machine_name_of(box) — the name diagnostics and tracing give the box's machine.
  template <class Box>
  static const char* machine_name_of(Box& box) noexcept {
    return diagnostics::detail::machine_name<std::remove_reference_t<decltype(box.machine())>>();
  }

  // allocate_box<Box>(machine, offset) — memory for a box that will hold the unboxed machine at
  // `machine` at byte `offset`; null when out of memory (the method cannot go on: suspend()
  // returns false and the builder faults it with std::bad_alloc). Out of line, it also pauses the
  // I/O operations that watch the machine's bytes, if any (detail/relocation.hpp, box_allocate).
  template <class Box>
  static void* allocate_box(const void* machine, std::size_t offset) noexcept {
    if constexpr (alignof(Box) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      void* const mem = ::operator new(sizeof(Box), std::align_val_t(alignof(Box)), std::nothrow);
      if (mem && relocation_any_watched()) [[unlikely]] {
        relocation_moving(machine, static_cast<std::byte*>(mem) + offset);
      }
      return mem;
    } else {
      return box_allocate(sizeof(Box), machine, offset);
    }
  }
};

// MethodBuilderBase<Builder> — the protocol members a builder that boxes its machine itself
// spells the same way: start() through MethodBuilderCore::start (an escaping exception goes to
// Builder::set_exception), await_[unsafe_]on_completed through MethodBuilderCore::suspend with
// the builder's box type (Builder::Box<SM>) and box reference (Builder::box_ref(); out of memory
// for the box goes to Builder::fault_out_of_memory()), set_state_machine (unused).
template <class Builder>
class MethodBuilderBase {
 public:
  // start(sm) — MethodBuilderCore::start. An exception escaping move_next() goes to the
  // builder's non-throwing fault(e) when it has one, else to set_exception(e).
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    MethodBuilderCore::start(sm, [this](std::exception_ptr e) {
      if constexpr (requires { self().fault(std::move(e)); }) {
        self().fault(std::move(e));
      } else {
        self().set_exception(std::move(e));
      }
    });
  }
  // await_on_completed(awaiter, sm) / await_unsafe_on_completed(awaiter, sm) — the suspension
  // step: boxes `sm` on its first suspension. After the call the caller returns from move_next()
  // without touching `sm`.
  template <class A, AsyncStateMachine SM>
  void await_on_completed(A& awaiter, SM& sm) noexcept {
    suspend<true>(awaiter, sm);
  }
  template <class A, AsyncStateMachine SM>
  void await_unsafe_on_completed(A& awaiter, SM& sm) noexcept {
    suspend<false>(awaiter, sm);
  }
  // set_state_machine — parity with .NET; unused.
  void set_state_machine(IAsyncStateMachine&) noexcept {}

 private:
  template <bool Flow, class A, class SM>
  void suspend(A& awaiter, SM& sm) noexcept {
    using Box = typename Builder::template Box<SM>;
    if (!MethodBuilderCore::suspend<Flow, Box>(awaiter, sm, self().box_ref())) [[unlikely]] {
      self().fault_out_of_memory();
    }
  }
  Builder& self() noexcept { return static_cast<Builder&>(*this); }
};

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
  // get() — the one state for T, built in static storage on first use.
  static TaskState<T>* get() noexcept {
    alignas(OutOfMemoryState) static unsigned char storage[sizeof(OutOfMemoryState)];
    static TaskState<T>* const s = ::new (static_cast<void*>(storage)) OutOfMemoryState();
    return s;
  }
  // task() — a Task<T> of that state.
  static Task<T> task() noexcept {
    TaskState<T>* const s = get();
    s->add_ref();
    return adopt_task(s);
  }
};

// AsyncStateMachineBox<SM, T> — the heap home of a suspended state machine: task state,
// resumption node and the machine itself in one allocation. Its layout, for a Task<int> method
// whose machine is {int state, builder, one Task<int> parameter, one TaskAwaiter<int>} (the
// suspend-once benchmark's), is 120 bytes: TaskState<int> 40 (the int sits in the tail padding
// of TaskStateBase), Continuation 48, machine 32 (builder and awaiter are one word each).
// tests/core/test_builder.cpp static_asserts it. The box does not derive from IAsyncStateMachine:
// nothing calls through that interface, and its vtable pointer cost 8 bytes per box.
template <class SM, class T>
class AsyncStateMachineBox final : public TaskState<T>, public Continuation {
 public:
  explicit AsyncStateMachineBox(SM&& sm) : TaskState<T>(2), machine_(std::move(sm)) {
    this->invoke = &AsyncStateMachineBox::resume;
    this->owner = this;
  }

  // create(ref, sm) — a new box holding `sm` (moved), adopted into `ref` before the move. Refs:
  // running + the starter's builder.
  template <class Ref>
  static AsyncStateMachineBox* create(Ref& ref, SM& sm) noexcept {
    void* const mem = MethodBuilderCore::allocate_box<AsyncStateMachineBox>(std::addressof(sm), machine_offset());
    if (!mem) [[unlikely]] return nullptr;  // out of memory: `ref` and `sm` untouched
    auto* const box = static_cast<AsyncStateMachineBox*>(mem);
    ref.adopt_box(box);
    ::new (mem) AsyncStateMachineBox(std::move(sm));
    DUET_TRACE(record('i', "task created", box));
    return box;
  }

  // move_next() — one resumption (what .NET's IAsyncStateMachine.MoveNext does on a box).
  void move_next() noexcept { MethodBuilderCore::step_task_box(*this); }

  SM& machine() noexcept { return machine_; }
  // machine_offset() — where machine_ lies in the box (what the relocation of the machine's I/O
  // buffers adds to the box's address). The box has no virtual base, so offsetof is exact.
  static constexpr std::size_t machine_offset() noexcept {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
    return offsetof(AsyncStateMachineBox, machine_);
#pragma GCC diagnostic pop
  }
  // fault(e) — MethodBuilderCore::step_task_box's fault: completes the task with `e`.
  bool fault(std::exception_ptr e) noexcept { return this->try_complete_exception(std::move(e)); }

 private:
  // Cast through a reference: a pointer static_cast to a base at a non-zero offset carries a null
  // check that g++ 12 -O2 reports as -Wnull-dereference / -Wstringop-overflow in user code.
  static void resume(Continuation* c) noexcept {
    MethodBuilderCore::step_task_box(static_cast<AsyncStateMachineBox&>(*c));
  }

  SM machine_;
};

}  // namespace detail

// AsyncTaskMethodBuilder<T> — builds the Task<T> of an explicit/dsl state machine.
template <class T = void>
class AsyncTaskMethodBuilder : public detail::MethodBuilderBase<AsyncTaskMethodBuilder<T>> {
  friend class detail::MethodBuilderBase<AsyncTaskMethodBuilder>;

 public:
  AsyncTaskMethodBuilder() noexcept = default;
  // Moving a builder happens when its state machine is boxed (see "References").
  AsyncTaskMethodBuilder(AsyncTaskMethodBuilder&&) noexcept = default;
  // operator=(fresh) — `sm.builder_ = AsyncTaskMethodBuilder::create();` as Roslyn's stubs write
  // it: allowed while neither builder has started (both are empty, so nothing moves).
  // Assigning over, or from, a builder that started throws InvalidOperationError.
  AsyncTaskMethodBuilder& operator=(AsyncTaskMethodBuilder&& o) {
    if (ref_.get() || o.ref_.get()) detail::throw_builder_assigned_started("AsyncTaskMethodBuilder");
    return *this;
  }

  // create() — a fresh builder (.NET's AsyncTaskMethodBuilder.Create()).
  static AsyncTaskMethodBuilder create() noexcept { return AsyncTaskMethodBuilder(); }

  // set_result(v) — completes the task (the last statement of move_next()). A builder that
  // already completed throws InvalidOperationError (in every build type).
  template <class... Args>
  void set_result(Args&&... args) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(Args) == 0, "duet: a Task<> method returns no value: call set_result()");
      if (!ref_.get()) {
        ref_.borrow(detail::TaskState<void>::completed());  // immortal; no reference to own
        return;
      }
      // The method is its task's only completer ("Sole completer", core/task.hpp).
      if (!ref_.get()->try_complete_value_sole()) [[unlikely]] detail::throw_builder_completed("set_result");
    } else {
      static_assert(sizeof...(Args) == 1, "duet: a Task<T> method returns one value: set_result(v)");
      if (!ref_.get()) {
        // Completed without suspending: no other thread can reach the new state yet, so it is
        // completed with plain stores (TaskStateBase's "Unshared fast paths").
        auto* const s = new detail::TaskState<T>(1);
        ref_.adopt(s);
        try {
          s->complete_value_unshared(std::forward<Args>(args)...);
        } catch (...) {
          s->try_complete_exception(std::current_exception());  // T's constructor threw
        }
        return;  // not in the box: no running reference to release
      }
      // The method is its task's only completer ("Sole completer", core/task.hpp).
      if (!ref_.get()->try_complete_value_sole(std::forward<Args>(args)...)) [[unlikely]] {
        detail::throw_builder_completed("set_result");
      }
    }
    release_running();
  }

  // set_exception(e) — faults the task (cancels it for an OperationCanceledError: the method
  // rule). Throws ArgumentError for a null `e` and InvalidOperationError when the builder already
  // completed, in every build type.
  void set_exception(std::exception_ptr e) {
    if (!e) detail::throw_builder_null_exception("AsyncTaskMethodBuilder");
    if (ref_.get() && ref_.get()->is_claimed()) detail::throw_builder_completed("set_exception");
    fault(std::move(e));
  }

  // is_completed() — whether the builder's task has been completed (or claimed) already.
  bool is_completed() const noexcept { return ref_.get() && ref_.get()->is_claimed(); }

  // task() — the method's task, after start() (InvalidOperationError before). A method that
  // completed without suspending keeps .NET's rule: task() may be read any number of times. Once
  // the method suspended, the starter's builder hands its reference to the box to the first
  // Task it returns ("References": no add_ref/release pair per suspending call) and keeps none,
  // so a second task() from it throws InvalidOperationError; copy the first Task instead.
  Task<T> task() const {
    detail::TaskState<T>* const s = ref_.get();
    if (!s) detail::throw_task_before_start();
    if (ref_.boxed_owned()) {
      ref_.hand_over();  // the starter's reference goes to the Task: no reference-count traffic
      return detail::adopt_task(s);
    }
    if (ref_.handed()) [[unlikely]] detail::throw_task_twice();
    s->add_ref();  // completed unsuspended, the boxed copy (running), or a borrowed immortal
    return detail::adopt_task(s);
  }

  // state() — the builder's task state, borrowed (null before start()): for a builder that wraps
  // this one and keeps its reference (AsyncVoidMethodBuilder). Valid while this builder owns it.
  detail::TaskState<T>* state() const noexcept { return ref_.get(); }

 private:
  // fault(e) — set_exception without the misuse checks: start()'s handler for an exception
  // escaping move_next(). One escaping after the method completed goes to the
  // unhandled-exception handler.
  void fault(std::exception_ptr e) noexcept {
    if (!ref_.get()) {
      auto* const s = new (std::nothrow) detail::TaskState<T>(1);
      if (!s) [[unlikely]] {  // out of memory: the task faults with std::bad_alloc instead
        ref_.borrow(detail::OutOfMemoryState<T>::get());
        return;
      }
      ref_.adopt(s);
    }
    if (ref_.get()->try_complete_exception(e)) {
      release_running();
    } else {
      detail::report_unhandled_exception(e);
    }
  }

  // The hooks of MethodBuilderBase's suspension step.
  template <class SM>
  using Box = detail::AsyncStateMachineBox<SM, T>;
  detail::BoxRef<detail::TaskState<T>>& box_ref() noexcept { return ref_; }
  void fault_out_of_memory() noexcept { ref_.borrow(detail::OutOfMemoryState<T>::get()); }

  // release_running() — the method completed: in the box, the step that runs it releases the
  // running reference once move_next() returned ("References"); tell it.
  void release_running() noexcept {
    if (ref_.in_box()) {
      detail::exchange_completed_in_step(static_cast<const detail::TaskStateBase*>(ref_.get()));
    }
  }

  mutable detail::BoxRef<detail::TaskState<T>> ref_;  // mutable: task() hands its reference over
};

}  // namespace duet
