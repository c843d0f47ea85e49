// duet/value_task/value_task.hpp — ValueTask<T>, its awaiter, and as_task() of a source
// (IValueTaskSource<T> and ManualResetValueTaskSourceCore<T>: value_task/value_task_source.hpp).
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
// a time.
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
#include "duet/core/task.hpp"
#include "duet/detail/result_slot.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet {

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
  // ValueTask(v) — completed with `v` (.NET's new ValueTask<T>(result)). No allocation. Implicit
  // when `v` converts implicitly to T, so a function returning ValueTask<int> may `return 42;`
  // (what an async method's `return 42;` means in C#).
  template <class U = Stored>
    requires(!std::is_void_v<T> && std::is_constructible_v<Stored, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, ValueTask> &&
             !std::is_same_v<std::remove_cvref_t<U>, Task<T>>)
  explicit(!std::is_convertible_v<U&&, Stored>) ValueTask(U&& v) noexcept(
      std::is_nothrow_constructible_v<Stored, U&&>)
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

  // from_result(v) — a ValueTask completed with `v` (.NET's ValueTask.FromResult). No allocation.
  template <class U>
    requires(!std::is_void_v<T> && std::is_constructible_v<Stored, U &&>)
  static ValueTask from_result(U&& v) {
    return ValueTask(Stored(std::forward<U>(v)));
  }
  // completed_task() — a completed ValueTask<> (.NET's ValueTask.CompletedTask). No allocation.
  static ValueTask completed_task() noexcept
    requires std::is_void_v<T>
  {
    return ValueTask();
  }
  // from_exception(e) — a ValueTask faulted with `e`, an OperationCanceledError too (.NET's
  // ValueTask.FromException). Throws ArgumentError for a null `e`.
  static ValueTask from_exception(std::exception_ptr e) { return ValueTask(duet::from_exception<T>(std::move(e))); }
  // from_canceled() — a canceled ValueTask (.NET's ValueTask.FromCanceled).
  static ValueTask from_canceled() { return ValueTask(duet::from_canceled<T>()); }

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
      return duet::completed_task();
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return duet::from_result(value_);
    } else {
      return duet::from_result(std::move(value_));
    }
  }

  static Task<T> source_to_task(IValueTaskSource<T>* src, short token) {
    const ValueTaskSourceStatus st = src->get_status(token);
    if (st != ValueTaskSourceStatus::pending) {
      try {
        if constexpr (std::is_void_v<T>) {
          src->get_result(token);
          return duet::completed_task();
        } else {
          return duet::from_result(src->get_result(token));
        }
      } catch (...) {
        // A source's outcome follows the method rule: an OperationCanceledError cancels.
        auto* failed = new detail::TaskState<T>();
        failed->try_complete_exception(std::current_exception());
        return detail::adopt_task(failed);
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

  // diag_describe(out) — the awaited task or source describes itself (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept {
    if (vt_.kind_ == Kind::task) {
      vt_.task_->diag_describe(out);
    } else if (vt_.kind_ == Kind::source) {
      vt_.source_->diag_describe(out);
    }
  }

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
          detail::capture(c, capture, flow);
          if (!vt.task_->try_add_continuation(c)) {
            detail::dispatch_continuation(c, !c.run_synchronously);  // never synchronously (rule 2)
          }
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
      vt_ = ValueTask<T>(duet::from_exception<T>(std::move(e)));
    }
    detail::capture(c, capture, flow);
    detail::dispatch_continuation(c, !c.run_synchronously);  // never synchronously (rule 2)
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

namespace detail {
// sync_value_task(slot) — the ValueTask of a call that completed synchronously (moves the value
// out of `slot`).
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
}  // namespace detail

}  // namespace duet
