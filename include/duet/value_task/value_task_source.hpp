// duet/value_task/value_task_source.hpp — IValueTaskSource<T>, the reusable producer behind a
// ValueTask, and ManualResetValueTaskSourceCore<T>, the state an implementation embeds (the
// await-once rule they enforce: value_task/value_task.hpp).
//
// Thread-safety: ManualResetValueTaskSourceCore: one producer (set_*) and one consumer
// (get_status, on_completed, get_result) may run concurrently; reset() must not race with either.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/diag/diagnostics.hpp"

namespace duet {

// ValueTaskSourceStatus — the state of one operation of an IValueTaskSource (.NET's enum).
enum class ValueTaskSourceStatus : std::uint8_t {
  pending = 0,    // the operation has not completed yet
  succeeded = 1,  // completed with a result
  faulted = 2,    // completed with an exception
  canceled = 3,   // completed with an OperationCanceledError
};

// to_string(s) — "pending", "succeeded", "faulted" or "canceled".
const char* to_string(ValueTaskSourceStatus s) noexcept;

// ValueTaskSourceOnCompletedFlags — what IValueTaskSource::on_completed must capture into the
// continuation (.NET's flags enum). Combine with |.
enum class ValueTaskSourceOnCompletedFlags : unsigned {
  none = 0,  // capture nothing: leave the continuation's context fields as the caller set them
  // use_scheduling_context — resume on the current SynchronizationContext (await without
  // configure_await(false)); without it the continuation's `context` is cleared.
  use_scheduling_context = 1,
  // flow_execution_context — capture the current ExecutionContext into the continuation
  // (on_completed); without it the caller has flowed it already (unsafe_on_completed).
  flow_execution_context = 2,
};
constexpr ValueTaskSourceOnCompletedFlags operator|(ValueTaskSourceOnCompletedFlags a,
                                                    ValueTaskSourceOnCompletedFlags b) noexcept {
  return static_cast<ValueTaskSourceOnCompletedFlags>(static_cast<unsigned>(a) |
                                                      static_cast<unsigned>(b));
}
constexpr bool has_flag(ValueTaskSourceOnCompletedFlags set,
                        ValueTaskSourceOnCompletedFlags f) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) != 0;
}

// IValueTaskSource<T> — a reusable producer of one result per version (.NET's
// IValueTaskSource<TResult>). Every call carries the token the ValueTask was created with; an
// implementation must throw InvalidOperationError when it is not the current version.
// Thread-safety: as documented by the implementation; ManualResetValueTaskSourceCore gives one
// producer and one consumer.
template <class T>
class IValueTaskSource {
 public:
  // get_status(token) — the status of the operation `token` names. Throws on a stale token.
  virtual ValueTaskSourceStatus get_status(short token) = 0;
  // on_completed(c, token, flags) — run `c` once the operation completes (at once, through the
  // dispatch rule of core/continuation.hpp, when it already has). Captures what `flags` ask for.
  // Throws on a stale token or a second registration for the same version.
  virtual void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) = 0;
  // get_result(token) — the result (moved out), or rethrows the stored exception. Call once per
  // operation, after it completed. Throws on a stale token.
  virtual T get_result(short token) = 0;
  // on_abandoned(token) — the ValueTask for `token` was destroyed without being consumed (never
  // awaited, or its await failed on a stale token). Default: nothing. Pooled sources override it
  // to recycle themselves once the operation ends; they must ignore a stale `token`. Must not
  // throw.
  virtual void on_abandoned(short token) noexcept { (void)token; }
  // diag_describe(out) — what an await on this source waits for (diag/diagnostics.hpp). Default:
  // a ValueTask over this source; a channel's operation or an I/O operation says more.
  virtual void diag_describe(diagnostics::Awaited& out) const noexcept {
    out.set(diagnostics::AwaitKind::value_task, this, "ValueTask source");
  }

 protected:
  IValueTaskSource() = default;
  IValueTaskSource(const IValueTaskSource&) = default;
  IValueTaskSource& operator=(const IValueTaskSource&) = default;
  ~IValueTaskSource() = default;
};

namespace detail {

// VoidResult — the stored "value" of a void operation, so one template serves T and void.
struct VoidResult {};
template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, VoidResult, T>;

// The cold throw paths, out of line so the hot compares stay small.
[[noreturn]] void throw_stale_token(short token, short version);
[[noreturn]] void throw_value_task_consumed();
[[noreturn]] void throw_multiple_continuations();
[[noreturn]] void throw_source_not_completed();
[[noreturn]] void throw_source_already_completed();

// ManualResetValueTaskSourceCoreImpl<T, Validate> — the implementation behind
// ManualResetValueTaskSourceCore<T>. `Validate = false` drops the token compare; it exists only so
// bench_value_task can measure what that compare costs. Never use it elsewhere.
//
// Completion protocol. `continuation_` is the single publication point:
//   nullptr              pending, nobody registered yet;
//   a node               pending, the consumer registered this continuation;
//   completed_sentinel() completed: the result / error / status_ were written before it.
// The producer writes the outcome, then exchanges the slot for the sentinel (acq_rel) and
// dispatches what it took out; after the exchange it touches only that node, so the consumer may
// reset() the core the moment it observes completion. The consumer registers with a CAS from
// nullptr and learns of completion only by seeing the sentinel (acquire).
template <class T, bool Validate>
class ManualResetValueTaskSourceCoreImpl {
  using Stored = stored_t<T>;

 public:
  ManualResetValueTaskSourceCoreImpl() noexcept = default;
  ManualResetValueTaskSourceCoreImpl(const ManualResetValueTaskSourceCoreImpl&) = delete;
  ManualResetValueTaskSourceCoreImpl& operator=(const ManualResetValueTaskSourceCoreImpl&) = delete;
  ~ManualResetValueTaskSourceCoreImpl() { destroy_value(); }

  // run_continuations_asynchronously — when true, the continuation is never run inline inside
  // set_result/set_exception: it is posted to its context or the thread pool. Set it while no
  // operation is in flight.
  bool run_continuations_asynchronously() const noexcept { return run_async_; }
  void set_run_continuations_asynchronously(bool v) noexcept { run_async_ = v; }

  // version() — the token of the current operation; hand it out with the ValueTask.
  short version() const noexcept { return version_; }

  // reset() — starts the next operation: bumps the version (every older token becomes stale) and
  // clears the outcome. Precondition: no producer or consumer is using the core concurrently;
  // a registered continuation that never ran would be lost, so reset only a completed-and-consumed
  // or never-awaited operation.
  void reset() noexcept {
    ++version_;
    destroy_value();
    error_ = nullptr;
    status_ = ValueTaskSourceStatus::pending;
    continuation_.store(nullptr, std::memory_order_relaxed);
  }

  // set_result(v...) — completes the operation with a value and runs/posts the continuation.
  // Throws InvalidOperationError when the operation already completed. Producer side.
  template <class... Args>
  void set_result(Args&&... args) {
    if (is_completed()) throw_source_already_completed();
    ::new (static_cast<void*>(&storage_)) Stored(std::forward<Args>(args)...);
    has_value_ = true;
    status_ = ValueTaskSourceStatus::succeeded;
    signal_completion();
  }

  // set_exception(e) — completes the operation faulted (canceled for an OperationCanceledError).
  // Throws ArgumentError for a null `e`, InvalidOperationError when already completed.
  void set_exception(std::exception_ptr e) {
    if (!e) throw ArgumentError("ManualResetValueTaskSourceCore::set_exception needs a non-null exception_ptr");
    if (is_completed()) throw_source_already_completed();
    status_ = ValueTaskSourceStatus::faulted;
    try {
      std::rethrow_exception(e);
    } catch (const OperationCanceledError&) {
      status_ = ValueTaskSourceStatus::canceled;
    } catch (...) {
    }
    error_ = std::move(e);
    signal_completion();
  }

  // is_completed() — whether the current operation completed (no token check). Any thread.
  bool is_completed() const noexcept {
    return continuation_.load(std::memory_order_acquire) == completed_sentinel();
  }

  // validate(token) — throws InvalidOperationError unless `token` is the current version. The
  // single compare behind the await-once rule.
  void validate(short token) const {
    if constexpr (Validate) {
      if (token != version_) [[unlikely]] throw_stale_token(token, version_);
    }
  }

  // get_status(token) — the status of the operation. Consumer side.
  ValueTaskSourceStatus get_status(short token) const {
    validate(token);
    return is_completed() ? status_ : ValueTaskSourceStatus::pending;
  }

  // get_result(token) — moves the result out, or rethrows the exception. Throws
  // InvalidOperationError on a stale token or before completion. Consumer side, once.
  T get_result(short token) {
    validate(token);
    if (!is_completed()) throw_source_not_completed();
    if (status_ != ValueTaskSourceStatus::succeeded) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return std::move(value());
  }

  // on_completed(c, token, flags) — registers `c`, capturing what `flags` ask for; when the
  // operation already completed, queues it (its context, else the pool; a run_synchronously node
  // runs at once). Throws InvalidOperationError on a stale
  // token or when another continuation is already registered (a concurrent await).
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) {
    validate(token);
    capture(c, has_flag(flags, ValueTaskSourceOnCompletedFlags::use_scheduling_context),
            has_flag(flags, ValueTaskSourceOnCompletedFlags::flow_execution_context));
    Continuation* expected = nullptr;
    if (continuation_.compare_exchange_strong(expected, &c, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
      return;
    }
    if (expected != completed_sentinel()) throw_multiple_continuations();
    // Already completed: never run an await synchronously here (posted to its context or the
    // pool), as .NET's ManualResetValueTaskSourceCore.OnCompleted.
    dispatch_continuation(c, run_async_ || !c.run_synchronously);
  }

 private:
  Stored& value() noexcept { return *std::launder(reinterpret_cast<Stored*>(&storage_)); }
  void destroy_value() noexcept {
    if (has_value_) {
      value().~Stored();
      has_value_ = false;
    }
  }

  void signal_completion() noexcept {
    const bool force_async = run_async_;  // read before publishing: the core may be reset after
    Continuation* c =
        continuation_.exchange(completed_sentinel(), std::memory_order_acq_rel);
    if (c) dispatch_continuation(*c, force_async);
  }

  std::atomic<Continuation*> continuation_{nullptr};
  std::exception_ptr error_;
  alignas(Stored) unsigned char storage_[sizeof(Stored)];
  short version_ = 0;
  ValueTaskSourceStatus status_ = ValueTaskSourceStatus::pending;
  bool has_value_ = false;
  bool run_async_ = false;
};

}  // namespace detail

// ManualResetValueTaskSourceCore<T> — the reusable state an IValueTaskSource<T> implementation
// embeds and forwards to (.NET's ManualResetValueTaskSourceCore<TResult>): version(), reset(),
// set_result(), set_exception(), run_continuations_asynchronously, and get_status / get_result /
// on_completed that validate the token. See ManualResetValueTaskSourceCoreImpl for the members.
template <class T>
using ManualResetValueTaskSourceCore = detail::ManualResetValueTaskSourceCoreImpl<T, true>;

namespace detail {

// PooledValueTaskSource<T, Derived> — the IValueTaskSource<T> face shared by the pooled sources
// (the pooled state-machine box, the pooled fiber object): a ManualResetValueTaskSourceCore whose
// consumer's single get_result ends the operation. After get_result has read the outcome,
// Derived::consumed() runs (it resets the core — the token goes stale — and recycles the object),
// before get_result returns.
template <class T, class Derived>
class PooledValueTaskSource : public IValueTaskSource<T> {
 public:
  ValueTaskSourceStatus get_status(short token) override { return core_.get_status(token); }
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
    core_.on_completed(c, token, flags);
  }
  T get_result(short token) override {
    core_.validate(token);
    if (!core_.is_completed()) throw_source_not_completed();
    struct Done {
      Derived* self;
      ~Done() { self->consumed(); }
    } done{static_cast<Derived*>(this)};
    return core_.get_result(token);
  }

  // version() — the token of the current operation.
  short version() const noexcept { return core_.version(); }

 protected:
  PooledValueTaskSource() noexcept = default;
  ~PooledValueTaskSource() = default;

  ManualResetValueTaskSourceCore<T> core_;
};

// SharedValueTaskSource<T, Derived> — a PooledValueTaskSource whose consumer holds a share of the
// object (a channel's pending operation, a PeriodicTimer's wait): a ValueTask dropped unconsumed
// gives that share back as its get_result would, through Derived::consumed().
template <class T, class Derived>
class SharedValueTaskSource : public PooledValueTaskSource<T, Derived> {
 public:
  void on_abandoned(short token) noexcept override {
    if (token == this->core_.version()) static_cast<Derived*>(this)->consumed();
  }

 protected:
  SharedValueTaskSource() noexcept = default;
  ~SharedValueTaskSource() = default;
};

}  // namespace detail

}  // namespace duet
