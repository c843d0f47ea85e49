// duet/fiber/async_value.hpp — the ValueTask-returning fiber form: duet::fiber::async_value(fn).
//
//   duet::ValueTask<int> get_cached_async(int key) {
//     return duet::fiber::async_value([key] {
//       if (auto hit = cache.find(key)) return *hit;     // completes synchronously: no allocation
//       return duet::await(load_async(key));             // suspends the fiber
//     });
//   }
//
// async_value(fn) is duet::fiber::async(fn) with .NET's PoolingAsyncValueTaskMethodBuilder
// semantics: the fiber's control block is a pooled object that is itself the
// IValueTaskSource<T> of the ValueTask it returns, and it is reused once that ValueTask has been
// consumed. Everything inside fn behaves exactly as in async(): duet::await, context flow,
// migration, exceptions (an exception escaping fn faults the ValueTask; OperationCanceledError
// cancels it).
//
// Ground rules (read before changing anything here)
// -------------------------------------------------
// One object per call, from a pool. FiberValueTaskSource<T, Fn> (one pool per T and Fn, i.e. per
// call site, as .NET pools per state-machine type) is at once
//  * the fiber control block (it derives from FiberBase: the Continuation that resumes the fiber,
//    the Boost.Context handles, the switching code of src/fiber/fiber.cpp);
//  * the IValueTaskSource<T> (detail::PooledValueTaskSource, the face the pooled state-machine box
//    has too), through an embedded ManualResetValueTaskSourceCore<T> whose version token is the
//    ValueTask's token.
// The stack comes from the stack pool and goes back at the end of fn, as for async().
//
// Phases. `phase_` decides, without a race, who publishes the outcome:
//   k_starting        async_value() is inside FiberBase::start(): the fiber runs synchronously
//                     on the caller, or has suspended and start() has not returned yet;
//   k_running         start() returned while the fiber was still running (it suspended): the
//                     ValueTask is source-backed and publish() completes the core;
//   k_finished_early  the fiber finished before start() returned — on the caller's thread, or on
//                     another thread that resumed it in the meantime. publish() left the outcome
//                     in the object for async_value() to pick up.
// publish() and async_value() each try to move k_starting on (compare-exchange, acq_rel); exactly
// one wins. When async_value() loses, the fiber has finished and nobody else holds the object:
//  * a value: the ValueTask holds the value itself and the object goes straight back to the
//    pool — a synchronously completing call allocates nothing once the pool is warm (the first
//    call per call site and thread allocates the object);
//  * an exception: the core is completed with it (nothing is registered, so nothing runs) and the
//    ValueTask is source-backed — still no allocation beyond the exception itself.
//
// Ownership. No reference count: the object belongs to the fiber until publish() completes the
// core, and to the consumer after that. The producer touches nothing after the core's signal
// (ManualResetValueTaskSourceCore's own rule), so the consumer may recycle the object at once:
//  * get_result(token) reads the outcome, resets the core (the token goes stale, so a second
//    await or any later use of the token throws InvalidOperationError naming the await-once rule:
//    ValueTask's rules 1-3 in value_task/value_task.hpp all hold) and recycles the object —
//    before it returns, so a caller that observed the result finds the object back in the pool;
//  * on_abandoned(token) (the ValueTask was dropped unconsumed) registers the object's own
//    `recycle_node_` as the operation's continuation: it recycles the object when the operation
//    completes, or at once when it already has.
//
// Pool. The BoxPool of detail/box_pool.hpp, the one the pooled state-machine boxes use: a
// per-thread slot in front of a shared list, so a suspending call allocates nothing in steady
// state whichever thread consumes it.
//
// Start failure. FiberBase::start() throws before anything ran when no stack can be mapped
// (FiberStackError) or the stack size is out of range (ArgumentError); async_value() then
// recycles the object and rethrows. The object has no task, so the Continuation's `owner` (what
// deadlock detection follows) is null.
//
// Thread-safety: async_value() may be called from any thread. The ValueTask follows ValueTask's
// rules (one consumer); the source is driven by one producer (the fiber) and one consumer.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/task.hpp"
#include "duet/detail/assert.hpp"
#include "duet/detail/box_pool.hpp"
#include "duet/detail/result_slot.hpp"
#include "duet/fiber/fiber.hpp"
#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet::fiber {

namespace detail {

// FiberValueTaskSource<T, Fn> — the pooled fiber object behind async_value(): fiber control block
// and IValueTaskSource<T> in one (see the ground rules). Created and reused only through run().
template <class T, class Fn>
class FiberValueTaskSource final
    : public duet::detail::PooledValueTaskSource<T, FiberValueTaskSource<T, Fn>>,
      public FiberBase,
      public duet::detail::Pooled {
  using Pool = duet::detail::BoxPool<FiberValueTaskSource>;
  friend class duet::detail::PooledValueTaskSource<T, FiberValueTaskSource>;

 public:
  FiberValueTaskSource() noexcept : FiberBase(nullptr) {  // no task (see "Start failure")
    recycle_node_.invoke = &FiberValueTaskSource::recycle_abandoned;
    recycle_node_.self = this;
    recycle_node_.run_synchronously = true;  // an internal action: recycles inline
  }
  ~FiberValueTaskSource() = default;

  const void* diag_self_key() const noexcept override {
    return static_cast<const IValueTaskSource<T>*>(this);
  }

  // run(fn, options) — rents an object, runs fn on a fiber in it and returns the call's ValueTask.
  // Throws what FiberBase::start() throws (nothing ran then), or bad_alloc.
  template <class F>
  static ValueTask<T> run(F&& fn, const FiberOptions& options) {
    FiberValueTaskSource* self = Pool::rent();
    try {
      self->fn_.emplace(std::forward<F>(fn));
    } catch (...) {
      self->recycle();
      throw;
    }
    self->phase_.store(k_starting, std::memory_order_relaxed);
    try {
      self->start(options.stack_size,
                  options.guard_page.has_value() ? (*options.guard_page ? 1 : 0) : -1);
    } catch (...) {
      self->fn_.reset();
      self->recycle();
      throw;
    }
    const short token = self->core_.version();  // stable until the ValueTask is consumed
    std::uint8_t expected = k_starting;
    if (self->phase_.compare_exchange_strong(expected, k_running, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
      return ValueTask<T>(*self, token);  // suspended: publish() completes the core later
    }
    // k_finished_early: the fiber is done and the object is ours alone.
    DUET_ASSERT(expected == k_finished_early, "async_value: unexpected phase after start()");
    if (self->fault_) {
      self->complete_core();  // nothing is registered yet: runs nothing
      return ValueTask<T>(*self, token);
    }
    struct Recycle {
      FiberValueTaskSource* s;
      ~Recycle() { s->recycle(); }
    } recycle_after{self};
    return duet::detail::sync_value_task(self->result_);
  }

  // on_abandoned(token) — recycle once the operation has completed (see "Ownership").
  void on_abandoned(short token) noexcept override {
    if (token != this->core_.version()) return;  // a stale token owns nothing
    try {
      this->core_.on_completed(recycle_node_, token, ValueTaskSourceOnCompletedFlags::none);
    } catch (...) {
      // Another continuation is registered and will consume the operation (an awaiter that was
      // dropped after registering): the object stays with that consumer.
    }
  }

 private:
  enum : std::uint8_t {
    k_starting = 0,        // inside start() (see "Phases")
    k_running = 1,         // start() returned first: publish() completes the core
    k_finished_early = 2,  // the fiber finished first: run() picks up the outcome
  };

  // RecycleNode — the continuation on_abandoned() registers.
  struct RecycleNode : Continuation {
    FiberValueTaskSource* self = nullptr;
  };

  // recycle() — clears the object and gives it back to the pool. Precondition: nobody uses it.
  void recycle() noexcept {
    DUET_ASSERT(!fn_.has_value() && !fault_, "async_value: recycling a fiber object still in use");
    result_.reset();
    this->core_.reset();
    duet::detail::ec_release(std::exchange(this->execution_context, nullptr));
    this->flow_execution_context = false;
    this->context = nullptr;
    this->next = nullptr;
    recycle_node_.next = nullptr;
    recycle_node_.context = nullptr;
    Pool::give_back(this);
  }

  // consumed() — after the consumer's get_result (see "Ownership").
  void consumed() noexcept { recycle(); }

  static void recycle_abandoned(Continuation* c) noexcept {
    static_cast<RecycleNode*>(c)->self->recycle();
  }

  // run_body() — on the fiber's stack: runs fn and keeps its result or exception here.
  void run_body() noexcept override {
    try {
      if constexpr (std::is_void_v<T>) {
        (*fn_)();
        result_.emplace();
      } else {
        result_.emplace((*fn_)());
      }
    } catch (...) {
      keep_fault();
    }
    fn_.reset();  // captured resources go when the function ends, not when the object is reused
  }

  // share() — nothing to do: this source has no reference count (see "Phases"); the pool owns it.
  void share() noexcept override {}

  // publish() — on the resumer's side after the fiber finished (see "Phases"). Touches nothing
  // after completing the core: the consumer may recycle the object from then on.
  void publish() noexcept override {
    std::uint8_t expected = k_starting;
    if (phase_.compare_exchange_strong(expected, k_finished_early, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return;  // run() has not returned yet: it takes the outcome from here
    }
    complete_core();
  }

  // complete_core() — moves the stored outcome into the core, whose signal runs the registered
  // continuation (if any) as its last step. Never throws: a throwing move of the result faults the
  // operation instead.
  void complete_core() noexcept {
    std::exception_ptr fault = std::exchange(fault_, nullptr);
    if (!fault) {
      try {
        if constexpr (std::is_void_v<T>) {
          result_.reset();
          this->core_.set_result();
        } else {
          // The value moves into the core before the signal; result_ is emptied first so nothing
          // here is touched after the signal.
          auto value = std::move(result_.value());
          result_.reset();
          this->core_.set_result(std::move(value));
        }
        return;
      } catch (...) {
        fault = std::current_exception();  // the result's move threw before any signal
      }
    }
    try {
      this->core_.set_exception(std::move(fault));
    } catch (...) {
      DUET_ASSERT(false, "async_value: completing the source with an exception failed");
    }
  }

  std::optional<Fn> fn_;
  duet::detail::ResultSlot<T> result_;
  RecycleNode recycle_node_;
  std::atomic<std::uint8_t> phase_{k_starting};
};

}  // namespace detail

// async_value(fn, options) — runs fn() on a fiber, as async(fn, options) does, and returns a
// ValueTask<R> (R = fn's result type; void gives ValueTask<>) whose source is the pooled fiber
// object itself (see the header comment). A call that completes synchronously returns a
// ValueTask holding the value and allocates nothing once its call site's pool is warm; a call that
// suspends allocates nothing in steady state either. The ValueTask may be consumed once (await,
// result(), as_task(), preserve()); a second await throws InvalidOperationError. Throws
// FiberStackError when no stack can be mapped, ArgumentError for a stack size out of range.
// Thread-safe.
template <class Fn>
auto async_value(Fn&& fn, FiberOptions options = {}) {
  using F = std::decay_t<Fn>;
  static_assert(std::is_invocable_v<F&>,
                "duet::fiber::async_value(fn): fn must be callable with no arguments");
  using R = std::invoke_result_t<F&>;
  static_assert(!std::is_reference_v<R>,
                "duet::fiber::async_value(fn): fn returns a reference; a ValueTask<T> holds a "
                "value — return by value (or a pointer / std::reference_wrapper)");
  return detail::FiberValueTaskSource<R, F>::run(std::forward<Fn>(fn), options);
}

}  // namespace duet::fiber
