// duet/value_task.hpp — ValueTask<T>, IValueTaskSource<T>, ManualResetValueTaskSourceCore<T>.
//
// What a ValueTask is
// -------------------
// A ValueTask<T> is a small value (16 bytes for ValueTask<int>) that holds one of
//   * a result        — the method completed synchronously: no allocation at all;
//   * a Task<T>       — an ordinary task (one reference);
//   * a source        — an IValueTaskSource<T>* plus a 16-bit version token: a reusable object
//                       (a pooled state-machine box, a socket's receive slot, ...) that completes
//                       one operation per version.
// This is .NET's ValueTask<TResult> (the `_obj` / `_result` / `_token` triple).
//
// The await-once rule (the invariant everything here protects)
// -------------------------------------------------------------
// A ValueTask may be consumed once: awaited once, or turned into a Task with as_task(), or made
// re-awaitable with preserve(). .NET documents a second await as undefined behaviour, because
// the source may already run another operation whose result the second await would read. duet
// turns every form of the mistake into an InvalidOperationError whose message names the rule, in
// every build type:
//   1. A second await of the same ValueTask object: the object is move-only, and consuming it
//      (get_awaiter(), as_task(), preserve(), result()) leaves it in the `consumed` state; any
//      later use throws. One compare of the kind byte.
//   2. An await after the source was reset (the producer reused it, or the first await's
//      get_result recycled a pooled box): every source call carries the token, and the source
//      compares it with its current version. One compare of two shorts.
//   3. A concurrent await (two awaiters registering on the same source and version): the source
//      holds one continuation per version; a second registration throws. Because
//      await_[unsafe_]on_completed of the builders is noexcept, ValueTaskAwaiter catches an error
//      thrown by a source's on_completed, turns it into the await's result and resumes the
//      continuation at once, so the error surfaces from get_result() inside the awaiting method
//      (which faults its task) — never as std::terminate.
//
// Ownership (the part C++ adds to .NET)
// -------------------------------------
// .NET lets the GC collect an un-awaited pooled box. Here a ValueTask that is destroyed while it
// still holds an unconsumed source calls source->on_abandoned(token), so a pooled source can
// return itself to its pool once its operation ends. Sources that manage their own lifetime keep
// the default, which does nothing.
//
// Thread-safety: a ValueTask and its awaiter belong to one consumer; use them from one thread at
// a time. ManualResetValueTaskSourceCore: one producer (set_*) and one consumer (get_status,
// on_completed, get_result) may run concurrently; reset() must not race with either.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/awaiter.hpp"
#include "duet/combinators.hpp"
#include "duet/continuation.hpp"
#include "duet/detail/task_state.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"

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
  // dispatch rule of sync_context.hpp, when it already has). Captures what `flags` ask for.
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
    return continuation_.load(std::memory_order_acquire) == TaskStateBase::completed_sentinel();
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

  // on_completed(c, token, flags) — registers `c`, capturing what `flags` ask for; runs it at once
  // (dispatch rule) when the operation already completed. Throws InvalidOperationError on a stale
  // token or when another continuation is already registered (a concurrent await).
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) {
    validate(token);
    if (has_flag(flags, ValueTaskSourceOnCompletedFlags::flow_execution_context)) {
      capture_execution_context(c);
    }
    c.context = has_flag(flags, ValueTaskSourceOnCompletedFlags::use_scheduling_context)
                    ? SynchronizationContext::current()
                    : nullptr;
    Continuation* expected = nullptr;
    if (continuation_.compare_exchange_strong(expected, &c, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
      return;
    }
    if (expected != TaskStateBase::completed_sentinel()) throw_multiple_continuations();
    TaskStateBase::dispatch_continuation(c, run_async_);
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
        continuation_.exchange(TaskStateBase::completed_sentinel(), std::memory_order_acq_rel);
    if (c) TaskStateBase::dispatch_continuation(*c, force_async);
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

template <class T = void>
class ValueTask;
template <class T>
class ValueTaskAwaiter;
template <class T>
class ConfiguredValueTaskAwaitable;

namespace detail {

// SourceAsTask<T> — as_task() of a pending source-backed ValueTask: a task state whose embedded
// continuation waits on the source and copies its outcome (.NET's ValueTaskSourceAsTask).
// Starts with two references: the returned Task and the pending continuation.
template <class T>
class SourceAsTask final : public TaskState<T>, public Continuation {
 public:
  SourceAsTask(IValueTaskSource<T>* source, short token) noexcept
      : TaskState<T>(2), source_(source), token_(token) {
    this->invoke = &SourceAsTask::done;
    this->owner = this;
  }
  static void done(Continuation* c) noexcept {
    auto& self = static_cast<SourceAsTask&>(*c);
    self.complete_from_source();
    self.release();
  }
  void complete_from_source() noexcept {
    try {
      if constexpr (std::is_void_v<T>) {
        source_->get_result(token_);
        this->try_complete_value();
      } else {
        this->try_complete_value(source_->get_result(token_));
      }
    } catch (...) {
      this->try_complete_exception(std::current_exception());
    }
  }

 private:
  IValueTaskSource<T>* source_;
  short token_;
};

}  // namespace detail

// ValueTask<T> — a result, a Task<T>, or one operation of an IValueTaskSource<T> (see the header
// comment). Move-only: it is consumed once. Default-constructed: completed with T{} (void: just
// completed), as .NET's default(ValueTask<T>).
// Thread-safety: one thread at a time.
template <class T>
class [[nodiscard]] ValueTask {
  static_assert(!std::is_reference_v<T>, "duet: ValueTask<T&> is not supported; use a pointer");
  using Stored = detail::stored_t<T>;

 public:
  using result_type = T;

  // Kind — what the ValueTask holds.
  enum class Kind : std::uint8_t {
    consumed = 0,  // awaited / converted / moved from: every use throws
    value = 1,     // a synchronously produced result (no allocation)
    task = 2,      // a Task<T> (one reference owned)
    source = 3,    // an IValueTaskSource<T>* and token_
  };

  ValueTask() noexcept(std::is_nothrow_default_constructible_v<Stored>) : kind_(Kind::value) {
    ::new (static_cast<void*>(&value_)) Stored();
  }
  // ValueTask(v) — completed with `v` (.NET's new ValueTask<T>(result)). No allocation.
  template <class U = Stored>
    requires(!std::is_void_v<T> && std::is_constructible_v<Stored, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, ValueTask> &&
             !std::is_same_v<std::remove_cvref_t<U>, Task<T>>)
  explicit ValueTask(U&& v) noexcept(std::is_nothrow_constructible_v<Stored, U&&>)
      : kind_(Kind::value) {
    ::new (static_cast<void*>(&value_)) Stored(std::forward<U>(v));
  }
  // ValueTask(task) — wraps a task. Throws InvalidOperationError for an empty handle.
  explicit ValueTask(Task<T> task) : kind_(Kind::task) {
    if (!task.valid()) detail::throw_invalid_task();
    task_ = task.state();
    task_->add_ref();  // `task` releases its own reference on return
  }
  // ValueTask(source, token) — one operation of `source`. `source` must outlive the operation.
  ValueTask(IValueTaskSource<T>& source, short token) noexcept
      : kind_(Kind::source), token_(token), source_(&source) {}

  ValueTask(ValueTask&& o) noexcept(std::is_nothrow_move_constructible_v<Stored>) {
    steal(o);
  }
  ValueTask& operator=(ValueTask&& o) noexcept(std::is_nothrow_move_constructible_v<Stored>) {
    if (this != &o) {
      drop();
      steal(o);
    }
    return *this;
  }
  ValueTask(const ValueTask&) = delete;
  ValueTask& operator=(const ValueTask&) = delete;
  ~ValueTask() { drop(); }

  // kind() — what this ValueTask holds (tests and diagnostics).
  Kind kind() const noexcept { return kind_; }
  // source() / token() — the source and token of a source-backed ValueTask (null / 0 otherwise).
  // For diagnostics and tests; using the source directly bypasses the await-once bookkeeping.
  IValueTaskSource<T>* source() const noexcept { return kind_ == Kind::source ? source_ : nullptr; }
  short token() const noexcept { return kind_ == Kind::source ? token_ : short{0}; }

  // is_completed() / is_completed_successfully() / is_faulted() / is_canceled() — the state of
  // the operation. Throw InvalidOperationError when consumed or when the source's version moved on.
  bool is_completed() const { return status_impl() != ValueTaskSourceStatus::pending; }
  bool is_completed_successfully() const { return status_impl() == ValueTaskSourceStatus::succeeded; }
  bool is_faulted() const { return status_impl() == ValueTaskSourceStatus::faulted; }
  bool is_canceled() const { return status_impl() == ValueTaskSourceStatus::canceled; }

  // get_awaiter() — consumes this ValueTask into its awaiter (resumes on the captured context).
  // A preserved ValueTask is not consumed. Throws InvalidOperationError when already consumed.
  ValueTaskAwaiter<T> get_awaiter() &;
  ValueTaskAwaiter<T> get_awaiter() &&;

  // configure_await(continue_on_captured_context) — consumes this ValueTask into an awaitable
  // that does (true) or does not (false) resume on the captured SynchronizationContext.
  ConfiguredValueTaskAwaitable<T> configure_await(bool continue_on_captured_context);

  // as_task() — consumes this ValueTask into a Task<T> that may be awaited any number of times.
  // Allocates unless it already holds a task (and for a completed Task<> result).
  Task<T> as_task() {
    check_not_consumed();
    if (preserved_) return copy_as_task();
    switch (kind_) {
      case Kind::value: {
        Task<T> t = value_task_to_task();
        drop();
        return t;
      }
      case Kind::task: {
        detail::TaskState<T>* s = std::exchange(task_, nullptr);
        kind_ = Kind::consumed;
        return detail::adopt_task(s);
      }
      default: break;
    }
    IValueTaskSource<T>* src = source_;
    const short token = token_;
    kind_ = Kind::consumed;  // from here on the source is ours to consume
    return source_to_task(src, token);
  }

  // preserve() — consumes this ValueTask into one that may be awaited any number of times (.NET's
  // Preserve): a source-backed one becomes a Task-backed one.
  ValueTask preserve() {
    check_not_consumed();
    if (preserved_) return take();
    if constexpr (std::is_copy_constructible_v<Stored>) {
      if (kind_ != Kind::source) {
        ValueTask r(std::move(*this));
        r.preserved_ = true;
        return r;
      }
    }
    // A source must be consumed once; a move-only value is handed out once: share either
    // through a task.
    ValueTask r(as_task());
    r.preserved_ = true;
    return r;
  }

  // result() — blocks until the operation completes (Task::result's rules, including deadlock
  // detection) and returns the value or rethrows. Consumes the ValueTask unless preserved.
  T result() {
    check_not_consumed();
    if (kind_ == Kind::value && !preserved_) {
      if constexpr (std::is_void_v<T>) {
        drop();
        return;
      } else {
        T v = std::move(value_);
        drop();
        return v;
      }
    }
    if (kind_ == Kind::source && is_completed()) return get_awaiter().get_result();
    return as_task().result();
  }

 private:
  template <class U>
  friend class ValueTaskAwaiter;

  struct ConsumedTag {};
  explicit ValueTask(ConsumedTag) noexcept : kind_(Kind::consumed) {}

  void check_not_consumed() const {
    if (kind_ == Kind::consumed) [[unlikely]] detail::throw_value_task_consumed();
  }

  ValueTaskSourceStatus status_impl() const {
    switch (kind_) {
      case Kind::value: return ValueTaskSourceStatus::succeeded;
      case Kind::task:
        switch (task_->status()) {
          case TaskStatus::pending: return ValueTaskSourceStatus::pending;
          case TaskStatus::ran_to_completion: return ValueTaskSourceStatus::succeeded;
          case TaskStatus::faulted: return ValueTaskSourceStatus::faulted;
          case TaskStatus::canceled: return ValueTaskSourceStatus::canceled;
        }
        return ValueTaskSourceStatus::pending;
      case Kind::source: return source_->get_status(token_);
      case Kind::consumed: break;
    }
    detail::throw_value_task_consumed();
  }

  // take() — this ValueTask's content for an awaiter: moved out, or copied when preserved.
  ValueTask take() {
    check_not_consumed();
    if (!preserved_) return std::move(*this);
    if (kind_ == Kind::task) {
      task_->add_ref();
      return ValueTask(detail::adopt_task(task_));
    }
    if constexpr (std::is_void_v<T>) {
      return ValueTask();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return ValueTask(static_cast<const T&>(value_));
    } else {
      detail::throw_value_task_consumed();  // unreachable: preserve() shares move-only values via a task
    }
  }

  // copy_as_task() — a Task for a preserved ValueTask, leaving it usable.
  Task<T> copy_as_task() {
    if (kind_ == Kind::task) {
      task_->add_ref();
      return detail::adopt_task(task_);
    }
    return value_task_to_task();
  }

  Task<T> value_task_to_task() {
    if constexpr (std::is_void_v<T>) {
      return completed_task();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return from_result(value_);
    } else {
      return from_result(std::move(value_));
    }
  }

  static Task<T> source_to_task(IValueTaskSource<T>* src, short token) {
    const ValueTaskSourceStatus st = src->get_status(token);
    if (st != ValueTaskSourceStatus::pending) {
      try {
        if constexpr (std::is_void_v<T>) {
          src->get_result(token);
          return completed_task();
        } else {
          return from_result(src->get_result(token));
        }
      } catch (...) {
        return from_exception<T>(std::current_exception());
      }
    }
    auto* s = new detail::SourceAsTask<T>(src, token);
    Task<T> t = detail::adopt_task(static_cast<detail::TaskState<T>*>(s));
    try {
      src->on_completed(*s, token, ValueTaskSourceOnCompletedFlags::none);
    } catch (...) {
      s->try_complete_exception(std::current_exception());
      s->release();  // the continuation will never run
    }
    return t;
  }

  void steal(ValueTask& o) noexcept(std::is_nothrow_move_constructible_v<Stored>) {
    kind_ = o.kind_;
    token_ = o.token_;
    continue_on_captured_context_ = o.continue_on_captured_context_;
    preserved_ = o.preserved_;
    switch (kind_) {
      case Kind::value:
        ::new (static_cast<void*>(&value_)) Stored(std::move(o.value_));
        o.value_.~Stored();
        break;
      case Kind::task: task_ = o.task_; break;
      case Kind::source: source_ = o.source_; break;
      case Kind::consumed: break;
    }
    o.kind_ = Kind::consumed;
  }

  void drop() noexcept {
    switch (kind_) {
      case Kind::value: value_.~Stored(); break;
      case Kind::task: task_->release(); break;
      case Kind::source: source_->on_abandoned(token_); break;
      case Kind::consumed: break;
    }
    kind_ = Kind::consumed;
  }

  Kind kind_;
  bool continue_on_captured_context_ = true;
  bool preserved_ = false;
  short token_ = 0;
  union {
    Stored value_;
    detail::TaskState<T>* task_;
    IValueTaskSource<T>* source_;
  };
};

// ValueTaskAwaiter<T> — the awaiter of ValueTask<T> (.NET's ValueTaskAwaiter<T> /
// ConfiguredValueTaskAwaiter<T>). Owns the consumed ValueTask. get_result() may be called once.
// Thread-safety: one thread at a time (the awaiting method's).
template <class T>
class ValueTaskAwaiter {
  using Kind = typename ValueTask<T>::Kind;

 public:
  // ValueTaskAwaiter() — an empty awaiter (a state machine's field before its first await).
  ValueTaskAwaiter() noexcept : vt_(typename ValueTask<T>::ConsumedTag{}) {}
  explicit ValueTaskAwaiter(ValueTask<T>&& vt) noexcept : vt_(std::move(vt)) {}

  // is_completed() — true when no suspension is needed. Throws InvalidOperationError on a stale
  // token or a consumed awaiter.
  bool is_completed() const {
    if (vt_.kind_ == Kind::value) return true;  // the hot path: one compare
    return vt_.status_impl() != ValueTaskSourceStatus::pending;
  }

  // on_completed(c) — register `c`, capturing the ExecutionContext (and the
  // SynchronizationContext unless configured false). Never throws: a source error becomes the
  // result of the await (see "The await-once rule", 3).
  void on_completed(Continuation& c) noexcept { register_continuation(c, true); }
  // unsafe_on_completed(c) — as on_completed, without capturing the ExecutionContext.
  void unsafe_on_completed(Continuation& c) noexcept { register_continuation(c, false); }

  // get_result() — the value, or rethrows. Consumes the awaiter: a second call throws.
  T get_result() {
    ValueTask<T>& vt = vt_;
    switch (vt.kind_) {
      case Kind::value:
        if constexpr (std::is_void_v<T>) {
          vt.drop();
          return;
        } else {
          T v = std::move(vt.value_);
          vt.drop();
          return v;
        }
      case Kind::task: {
        detail::TaskState<T>* s = std::exchange(vt.task_, nullptr);
        vt.kind_ = Kind::consumed;
        Task<T> hold = detail::adopt_task(s);  // releases on every path
        return s->take_result();
      }
      case Kind::source: {
        vt.kind_ = Kind::consumed;  // before the call: the source may recycle itself inside it
        return vt.source_->get_result(vt.token_);
      }
      case Kind::consumed: break;
    }
    detail::throw_value_task_consumed();
  }

 private:
  void register_continuation(Continuation& c, bool flow) noexcept {
    ValueTask<T>& vt = vt_;
    const bool capture = vt.continue_on_captured_context_;
    try {
      switch (vt.kind_) {
        case Kind::source: {
          auto flags = capture ? ValueTaskSourceOnCompletedFlags::use_scheduling_context
                               : ValueTaskSourceOnCompletedFlags::none;
          if (flow) flags = flags | ValueTaskSourceOnCompletedFlags::flow_execution_context;
          vt.source_->on_completed(c, vt.token_, flags);
          return;
        }
        case Kind::task:
          if (flow) detail::capture_execution_context(c);
          c.context = capture ? SynchronizationContext::current() : nullptr;
          vt.task_->add_continuation(c);
          return;
        case Kind::value:
          break;  // completed: resume at once below
        case Kind::consumed:
          detail::throw_value_task_consumed();
      }
    } catch (...) {
      // The await fails with this error: hold it as a faulted task so get_result rethrows it.
      // (Only misuse gets here, so the allocation does not matter.)
      std::exception_ptr e = std::current_exception();
      vt.kind_ = Kind::consumed;  // do not report the source as abandoned: it is still in use
      vt_ = ValueTask<T>(from_exception<T>(std::move(e)));
    }
    if (flow) detail::capture_execution_context(c);
    c.context = capture ? SynchronizationContext::current() : nullptr;
    detail::TaskStateBase::dispatch_continuation(c, false);
  }

  ValueTask<T> vt_;
};

// ConfiguredValueTaskAwaitable<T> — the result of ValueTask::configure_await (.NET's
// ConfiguredValueTaskAwaitable<T>). Awaitable once.
template <class T>
class ConfiguredValueTaskAwaitable {
 public:
  explicit ConfiguredValueTaskAwaitable(ValueTask<T>&& vt) noexcept : vt_(std::move(vt)) {}
  ValueTaskAwaiter<T> get_awaiter() & { return std::move(vt_).get_awaiter(); }
  ValueTaskAwaiter<T> get_awaiter() && { return std::move(vt_).get_awaiter(); }

 private:
  ValueTask<T> vt_;
};

template <class T>
ValueTaskAwaiter<T> ValueTask<T>::get_awaiter() & {
  return ValueTaskAwaiter<T>(take());
}

template <class T>
ValueTaskAwaiter<T> ValueTask<T>::get_awaiter() && {
  return ValueTaskAwaiter<T>(take());
}

template <class T>
ConfiguredValueTaskAwaitable<T> ValueTask<T>::configure_await(bool continue_on_captured_context) {
  ValueTask v = take();
  v.continue_on_captured_context_ = continue_on_captured_context;
  return ConfiguredValueTaskAwaitable<T>(std::move(v));
}

}  // namespace duet
