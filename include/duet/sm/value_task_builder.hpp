// duet/sm/value_task_builder.hpp — AsyncValueTaskMethodBuilder<T> and
// PoolingAsyncValueTaskMethodBuilder<T>: the builders of explicit/dsl state machines that return
// ValueTask<T>. A state machine picks one by the type of its `builder_` field; the protocol
// (create, start, await_[unsafe_]on_completed, set_result, set_exception, task) is the one of
// AsyncTaskMethodBuilder in builder.hpp, so a machine switches builders by changing one type.
//
// AsyncValueTaskMethodBuilder<T> (.NET's AsyncValueTaskMethodBuilder<TResult>). A call that
// completes synchronously keeps its result in the builder and task() returns a value-backed
// ValueTask: no allocation at all. A call that suspends is delegated, unchanged, to an embedded
// AsyncTaskMethodBuilder<T> — the same AsyncStateMachineBox, the same one allocation — and task()
// wraps that Task. The builder only has to remember *whether* it suspended, and must record it
// before the delegated call moves the machine (and this builder with it) into the box.
//
// PoolingAsyncValueTaskMethodBuilder<T> (.NET 6+'s PoolingAsyncValueTaskMethodBuilder<TResult>,
// dotnet/runtime PR #55955, with the per-core cache .NET 7 settled on). Synchronous completion is
// the same as above. On the first suspension the machine moves into a PoolingStateMachineBox
// rented from a cache; the box is itself the IValueTaskSource<T> (a ManualResetValueTaskSourceCore
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
// (bumping the version), and return the box to the thread's cache slot, else to a shared
// per-core slot, else delete it. Renting takes the thread's slot, else a per-core slot (exchange),
// else allocates.
// Version. The consumer's get_result() resets the core right after it moved the result out, so a
// second get_result/get_status/on_completed with the old token throws at once — even while the
// method's last step is still unwinding and the box is not yet back in the cache.
// Mind the move (builder.hpp): the box address is published in this builder *before* the machine
// is moved into it, and the continuation is registered on the boxed copy of the awaiter
// (detail::relocate).
//
// Thread-safety: a builder belongs to its state machine; one move_next() runs at a time. The caches
// are thread-safe (thread-local slot + atomic exchange on per-core slots).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "duet/awaiter.hpp"
#include "duet/detail/assert.hpp"
#include "duet/execution_context.hpp"
#include "duet/sm/builder.hpp"
#include "duet/value_task.hpp"

namespace duet {

namespace detail {

// ResultSlot<T> — where a synchronously completing call keeps its result until task().
template <class T>
class ResultSlot {
 public:
  ResultSlot() noexcept = default;
  ResultSlot(ResultSlot&&) noexcept {}  // moved only before completion (boxing): nothing to move
  ResultSlot& operator=(ResultSlot&&) = delete;
  ~ResultSlot() { reset(); }
  template <class... Args>
  void emplace(Args&&... args) {
    ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
    has_ = true;
  }
  bool has_value() const noexcept { return has_; }
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  void reset() noexcept {
    if (has_) value().~T();
    has_ = false;
  }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
  bool has_ = false;
};
template <>
class ResultSlot<void> {
 public:
  void emplace() noexcept { has_ = true; }
  bool has_value() const noexcept { return has_; }
  void reset() noexcept { has_ = false; }

 private:
  bool has_ = false;
};

// sync_value_task(slot) — the ValueTask of a synchronously completed call (moves the value out).
template <class T>
ValueTask<T> sync_value_task(ResultSlot<T>& slot) {
  if constexpr (std::is_void_v<T>) {
    return ValueTask<T>();
  } else {
    ValueTask<T> vt(std::move(slot.value()));
    slot.reset();
    return vt;
  }
}

[[noreturn]] void throw_value_task_before_start();
[[noreturn]] void throw_pooled_task_twice();

// pooling_cache_slot(n) — the per-core slot index for the calling thread, in [0, n). The CPU the
// thread runs on (sched_getcpu) where available, else a per-thread index.
std::size_t pooling_cache_slot(std::size_t n) noexcept;
// pooling_cache_slots() — how many per-core slots a box cache uses (min(cores, k_max)).
std::size_t pooling_cache_slots() noexcept;
inline constexpr std::size_t k_max_pooling_cache_slots = 32;

// PoolingBoxBase<T> — the SM-independent half of a pooled box: the IValueTaskSource<T> face, the
// core, the reference count. The box is also the Continuation that resumes the machine.
template <class T>
class PoolingBoxBase : public IValueTaskSource<T>, public Continuation {
 public:
  PoolingBoxBase(const PoolingBoxBase&) = delete;
  PoolingBoxBase& operator=(const PoolingBoxBase&) = delete;

  // add_ref / release — see "References"; the last release recycles the box.
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) recycle();
  }

  ValueTaskSourceStatus get_status(short token) override { return core_.get_status(token); }
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
    core_.on_completed(c, token, flags);
  }
  // get_result(token) — the consumer's single read: moves the result out (or rethrows), then
  // resets the core (the token goes stale) and releases the consumer reference.
  T get_result(short token) override {
    core_.validate(token);
    if (!core_.is_completed()) throw_source_not_completed();
    struct Done {
      PoolingBoxBase* box;
      ~Done() {
        box->core_.reset();
        box->release();
      }
    } done{this};
    return core_.get_result(token);
  }
  void on_abandoned(short token) noexcept override {
    if (token == core_.version()) release();  // a stale token owns nothing
  }

  // version() — the token of the current operation.
  short version() const noexcept { return core_.version(); }

  // complete_value(v...) / complete_exception(e) — the running method's completion; release the
  // running reference. Precondition: called once, by the method running in this box.
  template <class... Args>
  void complete_value(Args&&... args) {
    core_.set_result(std::forward<Args>(args)...);
    release();
  }
  // try_complete_exception(e) — false (nothing done) when the operation already completed.
  bool try_complete_exception(std::exception_ptr e) noexcept {
    if (core_.is_completed()) return false;
    try {
      core_.set_exception(std::move(e));
    } catch (...) {
      return false;
    }
    release();
    return true;
  }

 protected:
  PoolingBoxBase() noexcept = default;
  ~PoolingBoxBase() = default;
  // recycle() — refs_ reached zero: destroy the machine and return the box to its cache.
  virtual void recycle() noexcept = 0;

  ManualResetValueTaskSourceCore<T> core_;
  std::atomic<std::uint32_t> refs_{0};
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

  // rent() — a box from the thread's slot, a per-core slot, or a new one; null when out of
  // memory (the builder then faults the call with std::bad_alloc).
  static PoolingStateMachineBox* rent() noexcept {
    ThreadSlot& mine = thread_slot();
    if (PoolingStateMachineBox* b = mine.box) {
      mine.box = nullptr;
      return b;
    }
    auto& shared = s_shared[pooling_cache_slot(pooling_cache_slots())].box;
    if (shared.load(std::memory_order_relaxed)) {
      if (PoolingStateMachineBox* b = shared.exchange(nullptr, std::memory_order_acquire)) return b;
    }
    return new (std::nothrow) PoolingStateMachineBox();
  }

  // emplace(sm) — moves the machine in and arms the references (consumer + running).
  void emplace(SM&& sm) {
    ::new (static_cast<void*>(&machine_)) SM(std::move(sm));
    has_machine_ = true;
    this->refs_.store(2, std::memory_order_relaxed);
  }

  SM& machine() noexcept { return machine_; }

  void move_next() override { step(); }
  void set_state_machine(IAsyncStateMachine&) override {}

 private:
  struct ThreadSlot {
    PoolingStateMachineBox* box = nullptr;
    ThreadSlot() = default;
    ThreadSlot(const ThreadSlot&) = delete;
    ThreadSlot& operator=(const ThreadSlot&) = delete;
    ~ThreadSlot() { delete box; }
  };
  struct alignas(64) SharedSlot {
    std::atomic<PoolingStateMachineBox*> box{nullptr};
  };

  // thread_slot() — the calling thread's one-box cache. Not inlined (fibers migrate).
  [[gnu::noinline]] static ThreadSlot& thread_slot() noexcept {
    thread_local ThreadSlot slot;
    return slot;
  }
  static inline SharedSlot s_shared[k_max_pooling_cache_slots];

  // Cast through a reference (see AsyncStateMachineBox::resume: g++ 12 -O2 warns on the null
  // check a pointer cast carries).
  static void resume(Continuation* c) noexcept { static_cast<PoolingStateMachineBox&>(*c).step(); }

  void step() noexcept {
    this->add_ref();  // keep the box ours while the machine runs (see "References")
    try {
      machine_.move_next();
    } catch (...) {
      if (!this->try_complete_exception(std::current_exception())) {
        report_unhandled_exception(std::current_exception());
      }
    }
    this->release();
  }

  void recycle() noexcept override {
    machine_.~SM();
    has_machine_ = false;
    this->core_.reset();
    ec_release(std::exchange(this->execution_context, nullptr));
    this->flow_execution_context = false;
    this->context = nullptr;
    this->next = nullptr;
    ThreadSlot& mine = thread_slot();
    if (!mine.box) {
      mine.box = this;
      return;
    }
    auto& shared = s_shared[pooling_cache_slot(pooling_cache_slots())].box;
    PoolingStateMachineBox* expected = nullptr;
    if (shared.compare_exchange_strong(expected, this, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return;
    }
    delete this;
  }

  union {
    SM machine_;
  };
  bool has_machine_ = false;
};

}  // namespace detail

// AsyncValueTaskMethodBuilder<T> — builds the ValueTask<T> of an explicit/dsl state machine; a
// synchronous completion allocates nothing (see the header comment).
template <class T = void>
class AsyncValueTaskMethodBuilder {
 public:
  AsyncValueTaskMethodBuilder() noexcept = default;
  // Moving happens only when the machine is boxed (see builder.hpp).
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
      result_.emplace(std::forward<Args>(args)...);
      return;
    }
    inner_.set_result(std::forward<Args>(args)...);
  }

  // set_exception(e) — faults (or cancels) the call's ValueTask.
  void set_exception(std::exception_ptr e) noexcept { inner_.set_exception(std::move(e)); }

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
class PoolingAsyncValueTaskMethodBuilder {
  using Base = detail::PoolingBoxBase<T>;

 public:
  PoolingAsyncValueTaskMethodBuilder() noexcept = default;
  // Moving happens only when the machine is boxed: the boxed copy owns no consumer reference.
  PoolingAsyncValueTaskMethodBuilder(PoolingAsyncValueTaskMethodBuilder&& o) noexcept
      : box_(o.box_), in_box_(o.box_ != nullptr) {}
  PoolingAsyncValueTaskMethodBuilder& operator=(PoolingAsyncValueTaskMethodBuilder&&) = delete;
  ~PoolingAsyncValueTaskMethodBuilder() {
    if (owns_consumer_ref_) box_->release();  // task() was never called: nobody will consume
  }

  static PoolingAsyncValueTaskMethodBuilder create() noexcept {
    return PoolingAsyncValueTaskMethodBuilder();
  }

  // start(sm) — runs sm.move_next() to the first suspension or the end, restoring the caller's
  // ExecutionContext and SynchronizationContext afterwards; an escaping exception faults the call.
  template <AsyncStateMachine SM>
  void start(SM& sm) noexcept {
    started_ = true;
    detail::EcScope ec_restore;
    SyncContextScope sc_restore(SynchronizationContext::current());
    try {
      sm.move_next();
    } catch (...) {
      set_exception(std::current_exception());
    }
  }

  // await_on_completed / await_unsafe_on_completed — the suspension step; the first one moves the
  // machine into a rented box. After the call the caller returns from move_next() at once.
  template <class A, AsyncStateMachine SM>
  void await_on_completed(A& awaiter, SM& sm) noexcept {
    static_assert(Awaiter<A>, "duet: await_on_completed needs a duet::Awaiter");
    auto [box, target] = prepare(awaiter, sm);
    if (box) target.on_completed(*box);  // null: out of memory, the call faulted (prepare)
  }
  template <class A, AsyncStateMachine SM>
  void await_unsafe_on_completed(A& awaiter, SM& sm) noexcept {
    static_assert(Awaiter<A>, "duet: await_unsafe_on_completed needs a duet::Awaiter");
    auto [box, target] = prepare(awaiter, sm);
    if (box) target.unsafe_on_completed(*box);
  }

  // set_result(v) — completes the call.
  template <class... Args>
  void set_result(Args&&... args) {
    if (!box_) {
      result_.emplace(std::forward<Args>(args)...);
      return;
    }
    DUET_ASSERT(in_box_, "set_result on a builder that does not run in its box");
    box_->complete_value(std::forward<Args>(args)...);
  }

  // set_exception(e) — faults (or cancels) the call.
  void set_exception(std::exception_ptr e) noexcept {
    if (!box_) {
      if (!sync_error_ && !result_.has_value()) {
        sync_error_ = std::move(e);
      } else {
        detail::report_unhandled_exception(std::move(e));
      }
      return;
    }
    if (!box_->try_complete_exception(e)) detail::report_unhandled_exception(std::move(e));
  }

  void set_state_machine(IAsyncStateMachine&) noexcept {}

  // task() — the call's ValueTask. Call once, after start(): InvalidOperationError before start()
  // or on a second call for a suspended call (its box has one consumer).
  ValueTask<T> task() {
    if (!started_) detail::throw_value_task_before_start();
    if (box_) {
      if (!owns_consumer_ref_) detail::throw_pooled_task_twice();
      owns_consumer_ref_ = false;  // handed to the ValueTask
      return ValueTask<T>(*box_, box_->version());
    }
    if (sync_error_) return ValueTask<T>(from_exception<T>(sync_error_));
    return detail::sync_value_task(result_);
  }

 private:
  template <class A, class SM>
  struct Prepared {
    detail::PoolingStateMachineBox<SM, T>* box;
    A& target;
  };

  template <class A, class SM>
  Prepared<A, SM> prepare(A& awaiter, SM& sm) noexcept {
    using Box = detail::PoolingStateMachineBox<SM, T>;
    if (!box_) {
      Box* box = Box::rent();
      if (!box) [[unlikely]] {  // out of memory while suspending: the call faults
        if (!sync_error_) sync_error_ = std::make_exception_ptr(std::bad_alloc());
        return {nullptr, awaiter};
      }
      box_ = box;  // publish before the move (see "Mind the move")
      owns_consumer_ref_ = true;
      box->emplace(std::move(sm));
      detail::capture_execution_context(*box);
      return {box, detail::relocate(awaiter, sm, box->machine())};
    }
    DUET_ASSERT(in_box_, "a state machine suspended after it completed");
    Box* box = static_cast<Box*>(box_);
    detail::capture_execution_context(*box);
    return {box, awaiter};
  }

  Base* box_ = nullptr;
  detail::ResultSlot<T> result_;
  std::exception_ptr sync_error_;
  bool owns_consumer_ref_ = false;
  bool in_box_ = false;
  bool started_ = false;
};

}  // namespace duet
