// duet/core/task.hpp — Task<T>, its awaiter, and the shared state behind it (status, result,
// continuations).
//
// Task<T> is a copyable handle (intrusive reference count) to a detail::TaskState<T>. Task<> is
// Task<void>. A task can be awaited, waited on and queried any number of times, from any thread.
// Copying a handle is one atomic increment; moving it is free. Where an await resumes:
// dispatch_continuation in core/continuation.hpp.
//
// Ground rules (read before changing anything here)
// -------------------------------------------------
// Reference count. `refs_` counts Task handles, awaiters, builders and the running state machine.
// The object is destroyed by the release that drops it to zero; a release that finds the count
// at 1 holds the only reference and frees without decrementing. A state with k_immortal refs
// (the shared completed Task<>) is never destroyed.
//
// Head word. `head_` packs the status with the continuations, so that registering an await and
// completing are one compare-and-swap each:
//   bits 0-1  the TaskStatus (0 pending, 1 ran_to_completion, 2 faulted, 3 canceled);
//   bit 2     k_head_waiters — some thread blocks in wait_blocking() and needs a futex wake;
//   the rest  while pending, the newest registered Continuation (null: none), a lock-free
//             (Treiber) stack linked by `next`; once completed, zero.
// Registration pushes a node with a CAS that fails when the status bits are set: the caller then
// runs its continuation itself. Completion replaces the whole word with the status in one CAS
// (acquire: it sees the nodes; release: it publishes the result), then dispatches the nodes it
// took exactly once each, in registration order. Readers that observe a non-zero status
// (acquire) see the result. There is no window in which the continuations are taken and the
// status not yet visible.
//
// Claim word. `word_` packs:
//   bit 2     k_completing — one completer won try_begin_complete() and is writing the result;
//   bits 4-31 a poke counter. poke_waiters() bumps it so blocked waiters re-examine their
//             situation (deadlock detection) without the task completing; a completion that saw
//             k_head_waiters bumps it to wake them. Blocked waiters futex-wait on this word.
// Completion is two-phase for every completer that may race another (a source, a combinator):
// try_begin_complete() (CAS on `word_`, single winner), write the result or exception, then
// end_complete(status). A builder, its task's only completer, skips the claim ("Sole completer").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/diag/diagnostics.hpp"
#include "duet/diag/trace.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/detail/assert.hpp"

namespace duet {

// TaskStatus — the observable lifecycle of a task (a subset of .NET's TaskStatus).
enum class TaskStatus : std::uint8_t {
  pending = 0,            // not completed yet (WaitingForActivation / Running in .NET)
  ran_to_completion = 1,  // completed with a result
  faulted = 2,            // completed with an exception
  canceled = 3,           // completed by cancellation (an OperationCanceledError)
};

// to_string(s) — "pending", "ran_to_completion", "faulted" or "canceled".
const char* to_string(TaskStatus s) noexcept;

// live_task_states() — how many task states (TaskStateBase objects: TCS tasks, boxes, Task.Run
// items, the immortal completed Task<>) exist right now. Counted only in builds without NDEBUG,
// so tests can assert that nothing leaked; returns -1 when NDEBUG compiled the counter out.
// Thread-safe (a relaxed counter: quiesce before comparing).
std::int64_t live_task_states() noexcept;

namespace detail {

// count_task_state(delta) — adjusts the live_task_states() counter (debug builds only).
void count_task_state(int delta) noexcept;

// TaskStateBase — status, exception and continuation slot shared by every TaskState<T>.
// Thread-safe: every member may be called from any thread unless noted.
class TaskStateBase {
 public:
  static constexpr std::uintptr_t k_status_mask = 3u;   // in head_
  static constexpr std::uintptr_t k_head_waiters = 4u;  // in head_
  static constexpr std::uintptr_t k_head_flags = 7u;    // in head_: below the node pointer
  static constexpr std::uint32_t k_completing = 4u;     // in word_
  static constexpr std::uint32_t k_poke = 16u;          // in word_
  static constexpr std::uint32_t k_immortal = 1u << 30;

  TaskStateBase(const TaskStateBase&) = delete;
  TaskStateBase& operator=(const TaskStateBase&) = delete;

  // add_ref / release — intrusive reference counting (see "Reference count").
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // The last reference costs no read-modify-write: a count of 1 seen by its holder cannot change
  // (only a holder adds references), so the holder frees at once; the acquire load orders the
  // free after every other holder's release, as the decrement's acquire half did.
  void release() noexcept {
    if (refs_.load(std::memory_order_acquire) == 1 ||
        refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      last_release();
    }
  }

  // status() — the published status; pending while a completer is still writing.
  TaskStatus status() const noexcept {
    return static_cast<TaskStatus>(head_.load(std::memory_order_acquire) & k_status_mask);
  }
  bool is_completed() const noexcept {
    return (head_.load(std::memory_order_acquire) & k_status_mask) != 0;
  }

  // is_claimed() — completed, or a completer won try_begin_complete() (it may still be writing
  // the result).
  bool is_claimed() const noexcept {
    return is_completed() || (word_.load(std::memory_order_acquire) & k_completing) != 0;
  }

  // try_add_continuation(c) — registers `c`; false when the task has already completed (the
  // caller then runs `c` itself). Lock-free: one CAS.
  bool try_add_continuation(Continuation& c) noexcept {
    std::uintptr_t h = head_.load(std::memory_order_acquire);
    do {
      if (h & k_status_mask) return false;
      c.next = reinterpret_cast<Continuation*>(h & ~k_head_flags);
    } while (!head_.compare_exchange_weak(h, reinterpret_cast<std::uintptr_t>(&c) | (h & k_head_waiters),
                                          std::memory_order_release, std::memory_order_acquire));
    return true;
  }

  // add_continuation(c) — registers `c`, or dispatches it at once when the task already completed.
  void add_continuation(Continuation& c) noexcept {
    if (!try_add_continuation(c)) dispatch_continuation(c, false);
  }

  // try_begin_complete() — claims the right to complete this task; true for exactly one caller.
  bool try_begin_complete() noexcept {
    if (is_completed()) return false;  // by the sole completer, or after another claim
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    do {
      if (w & k_completing) return false;
    } while (!word_.compare_exchange_weak(w, w | k_completing, std::memory_order_acquire,
                                          std::memory_order_relaxed));
    return true;
  }

  // end_complete(s) — takes the continuations, publishes `s` (waking blocked waiters), then
  // dispatches every continuation; `this` is not touched after the publication.
  // Precondition: this thread won try_begin_complete() and wrote the result/exception.
  void end_complete(TaskStatus s) noexcept {
    DUET_ASSERT((word_.load(std::memory_order_relaxed) & k_completing) != 0,
                "end_complete without try_begin_complete");
    finish_complete(s);
  }

  // Sole completer. A method builder's task is completed by its own method only — one step at a
  // time, on the thread running it — so no other thread can race it for the claim. Its success
  // path skips try_begin_complete's compare-and-swap: it checks that the task was not completed
  // yet (a second completion is a misuse the builder reports), writes the result and publishes
  // (end_complete_sole). k_completing is never set on that path; publishing is the same single
  // CAS on head_ as every completion's, which merges with concurrent registrations and waiters.
  // Every other completer (a source, a combinator, an exception path) keeps the claim.
  // try_begin_complete_sole() — false when the task was already completed or claimed.
  bool try_begin_complete_sole() const noexcept { return !is_claimed(); }
  // end_complete_sole(s) — end_complete after try_begin_complete_sole() and the result written.
  void end_complete_sole(TaskStatus s) noexcept { finish_complete(s); }

 private:
  void finish_complete(TaskStatus s) noexcept {
    DUET_ASSERT(s != TaskStatus::pending, "end_complete with pending status");
    const bool force_async = run_async_;
    // Take the continuations first: publishing the status is the last touch of `this`, because an
    // observer that sees it may drop the last reference at once (a TaskCompletionSource destroyed
    // right after its task is seen completed). A registration that finds the continuations taken
    // before the status is published waits for it (try_add_continuation).
    DUET_TRACE(record('i', "task completed", this));
    Continuation* const taken = publish_status(s);
    if (taken) dispatch_continuations(taken, force_async);  // `this` may be gone: nodes only
  }

 public:

  // complete_exception_claimed(e) — after try_begin_complete(): stores `e` and completes as
  // faulted, or as canceled when `e` is an OperationCanceledError. This is the *method* rule (a
  // builder's set_exception, a fiber's escaping exception, a source's outcome): only a method
  // turns an OperationCanceledError into `canceled`.
  void complete_exception_claimed(std::exception_ptr e) noexcept;
  // complete_fault_claimed(e) — after try_begin_complete(): stores `e` and completes as faulted,
  // whatever its type (.NET's TrySetException / Task.FromException: an OperationCanceledError
  // handed over as an exception faults the task).
  void complete_fault_claimed(std::exception_ptr e) noexcept;
  // complete_canceled_claimed(e) — after try_begin_complete(): completes as canceled, storing `e`
  // (or a TaskCanceledError when null) for awaiters to rethrow.
  void complete_canceled_claimed(std::exception_ptr e) noexcept;

  // try_complete_exception(e) / try_complete_fault(e) / try_complete_canceled(e) — claim +
  // complete; false if already done.
  bool try_complete_exception(std::exception_ptr e) noexcept {
    if (!try_begin_complete()) return false;
    complete_exception_claimed(std::move(e));
    return true;
  }
  bool try_complete_fault(std::exception_ptr e) noexcept {
    if (!try_begin_complete()) return false;
    complete_fault_claimed(std::move(e));
    return true;
  }
  bool try_complete_canceled(std::exception_ptr e = nullptr) noexcept {
    if (!try_begin_complete()) return false;
    complete_canceled_claimed(std::move(e));
    return true;
  }

  // wait() — blocks until completed; routes through the current SynchronizationContext's
  // blocking_wait so a context can detect the sync-over-async deadlock. Marks the state observed.
  void wait();
  // wait_for(timeout) — blocks until completed or until `timeout` passed (a negative timeout: no
  // limit, as wait()); true when completed. Marks the state observed. No deadlock detection is
  // needed for a bounded wait: it ends.
  bool wait_for(std::chrono::nanoseconds timeout);
  // wait_blocking() — blocks until completed, or until `stop()` returns true after a poke.
  template <class Stop>
  void wait_blocking(Stop&& stop) {
    for (int spin = 0; spin < 64; ++spin) {
      if (is_completed()) return;
    }
    for (;;) {
      std::uintptr_t h = head_.load(std::memory_order_acquire);
      if (h & k_status_mask) return;
      if (stop()) return;
      if (!(h & k_head_waiters) &&
          !head_.compare_exchange_weak(h, h | k_head_waiters, std::memory_order_acq_rel)) {
        continue;
      }
      // The completer CASes head_ and then bumps word_ when it saw k_head_waiters; reading word_
      // before re-checking the status means either the re-check sees the completion or the
      // bump changes word_ away from `w` and ends the wait.
      const std::uint32_t w = word_.load(std::memory_order_acquire);
      if (is_completed()) return;
      word_.wait(w, std::memory_order_acquire);
    }
  }
  void wait_blocking() {
    wait_blocking([] { return false; });
  }
  // poke_waiters() — wakes every blocked waiter so it re-checks its stop condition.
  void poke_waiters() noexcept {
    word_.fetch_add(k_poke, std::memory_order_acq_rel);
    word_.notify_all();
  }

  // exception() — the stored exception (faulted or canceled), or null. Marks it observed.
  std::exception_ptr exception() const noexcept {
    observed_.store(true, std::memory_order_relaxed);
    return exception_;
  }
  // rethrow_if_failed() — rethrows the stored exception when faulted/canceled. Marks observed.
  // Precondition: completed.
  // The check is inline, the rethrow is not: every await site inlines this, and an inline
  // rethrow made GCC outline the whole check from the fiber await's fast path.
  void rethrow_if_failed() const {
    if (status() != TaskStatus::ran_to_completion) [[unlikely]] rethrow_failure();
  }

  // set_rethrow_first_inner() — for tasks whose stored exception is an AggregateError of
  // several faults (when_all): exception() keeps the AggregateError, while await / wait() /
  // result() rethrow its first inner exception, as .NET's await on Task.WhenAll does.
  // Precondition: called by the completer between try_begin_complete() and end_complete().
  void set_rethrow_first_inner() noexcept { rethrow_first_inner_ = true; }
  // rethrows_first_inner() — whether set_rethrow_first_inner() was called. Meaningful once
  // completed (when_all flattens such a child's inner exceptions into its own list).
  bool rethrows_first_inner() const noexcept { return rethrow_first_inner_; }

  // run_continuations_asynchronously — set before the task is shared (TaskCompletionSource option).
  void set_run_continuations_asynchronously(bool v) noexcept { run_async_ = v; }
  bool run_continuations_asynchronously() const noexcept { return run_async_; }

  // continuation_head() — the newest registered continuation (null: none), or completed_sentinel()
  // once completed; for deadlock detection, which walks it only while the task cannot complete.
  // Never dereference the sentinel.
  Continuation* continuation_head() const noexcept {
    const std::uintptr_t h = head_.load(std::memory_order_acquire);
    if (h & k_status_mask) return completed_sentinel();
    return reinterpret_cast<Continuation*>(h & ~k_head_flags);
  }
  static Continuation* completed_sentinel() noexcept { return detail::completed_sentinel(); }

  // diag_describe(out) — what an await on this task is waiting for (diag/diagnostics.hpp): a
  // task; a TaskCompletionSource's task, a delay, when_all say so in their overrides.
  virtual void diag_describe(diagnostics::Awaited& out) const noexcept {
    out.set(diagnostics::AwaitKind::task, this, "task");
  }

  // dispatch_continuation(c, force_async) — detail::dispatch_continuation (core/continuation.hpp).
  static void dispatch_continuation(Continuation& c, bool force_async) noexcept {
    detail::dispatch_continuation(c, force_async);
  }

 protected:
  explicit TaskStateBase(std::uint32_t refs = 1) noexcept : refs_(refs) {
#ifndef NDEBUG
    count_task_state(1);
#endif
  }
  virtual ~TaskStateBase() {
#ifndef NDEBUG
    count_task_state(-1);
#endif
  }

  // Unshared fast paths — for a state that no other thread can reach yet: its creator has not
  // handed out any handle (the fiber style uses them while async() runs the fiber's first
  // slice), so no continuation can be registered, nobody waits, and plain stores do what the
  // read-modify-writes above do. Calling them on a shared state is a data race.
  // add_ref_unshared() — add_ref() without the atomic read-modify-write.
  void add_ref_unshared() noexcept {
    refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // complete_unshared(s) — end_complete(s) without the claim: publishes `s` (not pending).
  // Precondition: pending, no continuation registered; the result or exception is written.
  void complete_unshared(TaskStatus s) noexcept {
    DUET_ASSERT(head_.load(std::memory_order_relaxed) == 0 && word_.load(std::memory_order_relaxed) == 0,
                "complete_unshared on a state that is shared or completed");
    head_.store(static_cast<std::uintptr_t>(s), std::memory_order_relaxed);
  }
  // destroy() — frees the object; boxes override it when they are not allocated with `new`.
  virtual void destroy() noexcept { delete this; }

  std::exception_ptr exception_;

 private:
  void last_release() noexcept;
  void wake_waiters() noexcept;  // the cold half of end_complete: futex wake

  // publish_status(s) — the last touch of `this` in end_complete: one CAS replaces head_ with the
  // status, taking the registered nodes (returned newest first). A blocked waiter needs a futex
  // wake after the status is visible; the wake touches the word, so the completer holds a
  // reference across it (only when a waiter exists: the bit cannot appear once the status is
  // published, wait_blocking sets it with a CAS).
  Continuation* publish_status(TaskStatus s) noexcept {
    std::uintptr_t h = head_.load(std::memory_order_relaxed);
    bool guarded = false;
    for (;;) {
      DUET_ASSERT((h & k_status_mask) == 0, "a task completed twice");
      if ((h & k_head_waiters) && !guarded) [[unlikely]] {
        add_ref();
        guarded = true;
      }
      if (head_.compare_exchange_weak(h, static_cast<std::uintptr_t>(s), std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        break;
      }
    }
    if (guarded) [[unlikely]] {
      wake_waiters();
      release();
    }
    return reinterpret_cast<Continuation*>(h & ~k_head_flags);
  }

  // rethrow_failure() — rethrow_if_failed's cold half (src/core/task.cpp): marks the exception
  // observed and rethrows it (an AggregateError's first inner when set_rethrow_first_inner).
  [[noreturn, gnu::cold, gnu::noinline]] void rethrow_failure() const;

  std::atomic<std::uint32_t> refs_;
  std::atomic<std::uint32_t> word_{0};
  std::atomic<std::uintptr_t> head_{0};
  bool run_async_ = false;
  bool rethrow_first_inner_ = false;  // see set_rethrow_first_inner()
  mutable std::atomic<bool> observed_{false};

 protected:
  // taken_ — TaskState<T>::take_result's once-flag for a move-only T. Kept here, in the byte
  // after the other flags, so that a small result (an int) fits in this class's tail padding:
  // TaskState<int> is 40 bytes, not 48 ("Layout" in docs/design.md).
  std::atomic<bool> taken_{false};
};

// TaskState<T> — TaskStateBase plus storage for the result.
template <class T>
class TaskState : public TaskStateBase {
 public:
  explicit TaskState(std::uint32_t refs = 1) noexcept : TaskStateBase(refs) {}

  // try_complete_value(v) — claim + store + publish; false if already completed.
  template <class... Args>
  bool try_complete_value(Args&&... args) {
    if (!try_begin_complete()) return false;
    try {
      ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
    } catch (...) {
      complete_exception_claimed(std::current_exception());
      return true;
    }
    end_complete(TaskStatus::ran_to_completion);
    return true;
  }

  // try_complete_value_sole(v) — try_complete_value for a state whose only completer is the
  // caller (TaskStateBase's "Sole completer": a builder's own task). False when already completed.
  template <class... Args>
  bool try_complete_value_sole(Args&&... args) {
    if (!try_begin_complete_sole()) return false;
    try {
      ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
    } catch (...) {
      return try_complete_exception(std::current_exception());
    }
    end_complete_sole(TaskStatus::ran_to_completion);
    return true;
  }

  // complete_value_unshared(args...) — try_complete_value for an unshared state (see
  // TaskStateBase::complete_unshared): plain stores, no atomic read-modify-write. When T's
  // constructor throws, nothing is completed and the exception propagates (the state stays
  // pending).
  template <class... Args>
  void complete_value_unshared(Args&&... args) {
    ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
    complete_unshared(TaskStatus::ran_to_completion);
  }

  // value() — the result. Precondition: ran_to_completion.
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(&storage_)); }

  // take_result() — returns the result: a copy for copyable T; for move-only T it moves the value
  // out once and throws InvalidOperationError on a second take. Rethrows a stored exception.
  T take_result() {
    rethrow_if_failed();
    if constexpr (std::is_copy_constructible_v<T>) {
      return value();
    } else {
      if (taken_.exchange(true, std::memory_order_acq_rel)) {
        throw InvalidOperationError(
            "Task<T>::result of a move-only T was already taken: a Task<T> whose T cannot be "
            "copied hands its value to exactly one await/result(); copy the value out once and "
            "share that, or make T copyable");
      }
      return std::move(value());
    }
  }

 protected:
  // The value exists exactly when the task ran to completion: both completion paths construct
  // it before publishing that status, and a constructor that throws faults the task (or, on the
  // unshared path, leaves it pending). So no separate "has a value" flag is kept.
  ~TaskState() override {
    if (status() == TaskStatus::ran_to_completion) value().~T();
  }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

// TaskState<void> — no result.
template <>
class TaskState<void> : public TaskStateBase {
 public:
  explicit TaskState(std::uint32_t refs = 1) noexcept : TaskStateBase(refs) {}
  bool try_complete_value() {
    if (!try_begin_complete()) return false;
    end_complete(TaskStatus::ran_to_completion);
    return true;
  }
  // try_complete_value_sole() — as TaskState<T>'s: no claim for the sole completer.
  bool try_complete_value_sole() noexcept {
    if (!try_begin_complete_sole()) return false;
    end_complete_sole(TaskStatus::ran_to_completion);
    return true;
  }
  void take_result() { rethrow_if_failed(); }

  // completed() — the shared, immortal, completed Task<> state (.NET's Task.CompletedTask).
  static TaskState<void>* completed() noexcept;

  // complete_value_unshared() — try_complete_value for an unshared state (see complete_unshared).
  void complete_value_unshared() noexcept { complete_unshared(TaskStatus::ran_to_completion); }
};

}  // namespace detail

template <class T = void>
class Task;

namespace detail {
// complete_from(target, child) — copies a completed child's outcome into `target` (its value, its
// fault as a fault — an OperationCanceledError stays a fault — or its cancellation); false when
// `target` was already completed. A value that cannot be copied faults `target` with the error.
// complete_failure_from(target, child) — the failure half of complete_from, for a child that was
// faulted or canceled, whatever the two tasks' result types.
inline bool complete_failure_from(TaskStateBase& target, TaskStateBase& child) noexcept {
  if (child.status() == TaskStatus::canceled) return target.try_complete_canceled(child.exception());
  DUET_ASSERT(child.status() == TaskStatus::faulted, "complete_failure_from on a child that did not fail");
  if (!target.try_begin_complete()) return false;
  if (child.rethrows_first_inner()) target.set_rethrow_first_inner();
  target.complete_fault_claimed(child.exception());
  return true;
}

template <class T>
bool complete_from(TaskState<T>& target, TaskState<T>& child) noexcept {
  DUET_ASSERT(child.status() != TaskStatus::pending, "complete_from on a pending child");
  if (child.status() != TaskStatus::ran_to_completion) return complete_failure_from(target, child);
  if constexpr (std::is_void_v<T>) {
    return target.try_complete_value();
  } else {
    try {
      return target.try_complete_value(child.take_result());
    } catch (...) {
      return target.try_complete_fault(std::current_exception());
    }
  }
}

// adopt_task(state) — wraps `state` without taking a reference (the caller hands its own over).
template <class T>
Task<T> adopt_task(TaskState<T>* state) noexcept;

[[noreturn]] void throw_invalid_task();
// throw_bad_configure_await_options(suppress_on_value) — ArgumentError for configure_await with
// suppress_throwing on a Task<T> with a result (true) or with an unknown flag (false).
[[noreturn]] void throw_bad_configure_await_options(bool suppress_on_value);
}  // namespace detail

// TaskAwaiter<T> — the awaiter of Task<T> (.NET's TaskAwaiter<T> / ConfiguredTaskAwaiter<T>).
//
// Ownership. An awaiter taken from a Task rvalue (the usual `call().get_awaiter()`) owns the
// task's reference. One taken from an lvalue Task *borrows* it — no reference-count traffic on
// the fast path, where is_completed()/get_result() run while the task is certainly alive — and
// takes a reference of its own as soon as it is copied or registers a continuation, i.e. before
// it can outlive the statement that awaited. Moving keeps the mode. Rule for hand-written code:
// do not keep a *moved* borrowed awaiter beyond the life of the Task it came from without having
// called on_completed/unsafe_on_completed on it.
// Use from one thread at a time.
template <class T>
class TaskAwaiter {
 public:
  TaskAwaiter() noexcept = default;
  TaskAwaiter(Task<T>&& task, bool continue_on_captured_context) noexcept
      : bits_(pack(std::exchange(task.state_, nullptr), true, continue_on_captured_context)) {}
  TaskAwaiter(const Task<T>& task, bool continue_on_captured_context) noexcept
      : bits_(pack(task.state_, false, continue_on_captured_context)) {}
  TaskAwaiter(const TaskAwaiter& o) noexcept : bits_(pack(o.state(), o.state() != nullptr, o.capture())) {
    if (state()) state()->add_ref();
  }
  TaskAwaiter(TaskAwaiter&& o) noexcept : bits_(o.bits_) { o.bits_ &= k_capture; }
  // Copy and move assignment in one: `o` is copied or moved in by the constructors above.
  TaskAwaiter& operator=(TaskAwaiter o) noexcept {
    o.swap(*this);
    return *this;
  }
  ~TaskAwaiter() {
    if (owns()) state()->release();
  }
  void swap(TaskAwaiter& o) noexcept { std::swap(bits_, o.bits_); }

  // is_completed() — true when the task has completed (no suspension needed).
  bool is_completed() const noexcept { return state()->is_completed(); }

  // on_completed(c) — capture the context(s) into `c` and register it on the task. When the task
  // has already completed, `c` is never run synchronously: it is posted to its captured context,
  // or to the pool (.NET's TaskAwaiter.OnCompleted).
  void on_completed(Continuation& c) noexcept { register_continuation(c, true); }
  // unsafe_on_completed(c) — as on_completed, without capturing the ExecutionContext.
  void unsafe_on_completed(Continuation& c) noexcept { register_continuation(c, false); }

  // get_result() — the result, or rethrows the task's exception. Precondition: completed.
  T get_result() { return state()->take_result(); }

  // diag_describe(out) — the awaited task describes itself (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept {
    if (state()) state()->diag_describe(out);
  }

 private:
  // bits_ packs the task state pointer with two flags in its low bits (a TaskState is at least
  // 8-aligned): k_owns — this awaiter holds a reference; k_capture — resume on the captured
  // SynchronizationContext. One word instead of three keeps an awaiter field of a state machine,
  // and so its box, 8 bytes smaller ("Layout" in docs/design.md).
  static constexpr std::uintptr_t k_owns = 1;
  static constexpr std::uintptr_t k_capture = 2;
  static constexpr std::uintptr_t k_flags = k_owns | k_capture;
  static_assert(alignof(detail::TaskState<T>) > k_flags, "TaskAwaiter packs two flags into the pointer");

  // The pointer's low bits are zero, and the compiler is told so: with that it folds owns() and
  // state() of an awaiter built from an lvalue Task (flags known) to no instruction at all, which
  // keeps the completed-await fast path as short as with three separate fields.
  static std::uintptr_t pack(detail::TaskState<T>* s, bool owns, bool capture) noexcept {
    const auto p = reinterpret_cast<std::uintptr_t>(s);
    if ((p & k_flags) != 0) __builtin_unreachable();
    return p | (owns ? k_owns : 0) | (capture ? k_capture : 0);
  }
  detail::TaskState<T>* state() const noexcept {
    return reinterpret_cast<detail::TaskState<T>*>(bits_ & ~k_flags);
  }
  bool owns() const noexcept { return (bits_ & k_owns) != 0; }
  bool capture() const noexcept { return (bits_ & k_capture) != 0; }

  void register_continuation(Continuation& c, bool flow) noexcept {
    if (!owns()) {  // about to outlive the awaiting statement: take our own reference
      state()->add_ref();
      bits_ |= k_owns;
    }
    detail::capture(c, capture(), flow);
    // An await on a completed task never resumes synchronously: queued to its context or the pool.
    if (!state()->try_add_continuation(c)) detail::dispatch_continuation(c, !c.run_synchronously);
  }

  std::uintptr_t bits_ = k_capture;  // null state, not owned, capture = true
};

// ConfigureAwaitOptions — .NET 8's flags for task.configure_await(options). Combine with |.
enum class ConfigureAwaitOptions : unsigned {
  none = 0,                             // no flag: do NOT resume on the captured context
  continue_on_captured_context = 1,     // resume on the captured SynchronizationContext
  suppress_throwing = 2,                // Task<> only: the await does not rethrow a fault/cancel
  force_yielding = 4,                   // suspend even when the task already completed
};
constexpr ConfigureAwaitOptions operator|(ConfigureAwaitOptions a, ConfigureAwaitOptions b) noexcept {
  return static_cast<ConfigureAwaitOptions>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_option(ConfigureAwaitOptions set, ConfigureAwaitOptions flag) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(flag)) != 0;
}

// OptionsTaskAwaiter<T> — the awaiter of task.configure_await(ConfigureAwaitOptions): a
// TaskAwaiter plus force_yielding (is_completed() answers false, so the method suspends and the
// continuation is queued: an await on a completed task never resumes synchronously) and
// suppress_throwing (get_result() observes the fault or cancellation and returns). A separate
// type, so the plain TaskAwaiter's fast path carries no option check.
template <class T>
class OptionsTaskAwaiter {
 public:
  OptionsTaskAwaiter() noexcept = default;
  OptionsTaskAwaiter(TaskAwaiter<T> inner, ConfigureAwaitOptions options) noexcept
      : inner_(std::move(inner)),
        force_yield_(has_option(options, ConfigureAwaitOptions::force_yielding)),
        suppress_(has_option(options, ConfigureAwaitOptions::suppress_throwing)) {}
  bool is_completed() const noexcept { return !force_yield_ && inner_.is_completed(); }
  void on_completed(Continuation& c) noexcept { inner_.on_completed(c); }
  void unsafe_on_completed(Continuation& c) noexcept { inner_.unsafe_on_completed(c); }
  void diag_describe(diagnostics::Awaited& out) const noexcept { inner_.diag_describe(out); }
  T get_result() {
    if constexpr (std::is_void_v<T>) {
      if (suppress_) {
        try {
          inner_.get_result();
        } catch (...) {  // suppress_throwing: observed, not rethrown
        }
        return;
      }
    }
    return inner_.get_result();
  }

 private:
  TaskAwaiter<T> inner_;
  bool force_yield_ = false;
  bool suppress_ = false;
};

// OptionsTaskAwaitable<T> — the result of task.configure_await(ConfigureAwaitOptions).
template <class T>
class OptionsTaskAwaitable {
 public:
  OptionsTaskAwaitable(Task<T> task, ConfigureAwaitOptions options) noexcept
      : task_(std::move(task)), options_(options) {}
  OptionsTaskAwaiter<T> get_awaiter() const& noexcept {
    return OptionsTaskAwaiter<T>(TaskAwaiter<T>(Task<T>(task_), capture()), options_);
  }
  OptionsTaskAwaiter<T> get_awaiter() && noexcept {
    return OptionsTaskAwaiter<T>(TaskAwaiter<T>(std::move(task_), capture()), options_);
  }

 private:
  bool capture() const noexcept {
    return has_option(options_, ConfigureAwaitOptions::continue_on_captured_context);
  }
  Task<T> task_;
  ConfigureAwaitOptions options_;
};

// ConfiguredTaskAwaitable<T> — the result of task.configure_await(b).
template <class T>
class ConfiguredTaskAwaitable {
 public:
  ConfiguredTaskAwaitable(Task<T> task, bool capture) noexcept
      : task_(std::move(task)), capture_(capture) {}
  // The awaitable owns a task handle; its awaiter takes that handle over (rvalue) or takes its own
  // reference (lvalue), since a configured awaitable is usually a temporary.
  TaskAwaiter<T> get_awaiter() const& noexcept { return TaskAwaiter<T>(Task<T>(task_), capture_); }
  TaskAwaiter<T> get_awaiter() && noexcept { return TaskAwaiter<T>(std::move(task_), capture_); }

 private:
  Task<T> task_;
  bool capture_;
};

// Task<T> — a handle to an asynchronous operation's eventual result.
// Thread-safety: const members are safe from any thread; a single handle object must not be
// assigned concurrently with other use (share copies instead).
template <class T>
class Task {
 public:
  using result_type = T;

  // Task() — an empty handle (valid() is false); every other member throws InvalidOperationError.
  Task() noexcept = default;
  Task(const Task& o) noexcept : state_(o.state_) {
    if (state_) state_->add_ref();
  }
  Task(Task&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  // Copy and move assignment in one: `o` is copied or moved in by the constructors above.
  Task& operator=(Task o) noexcept {
    o.swap(*this);
    return *this;
  }
  ~Task() {
    if (state_) state_->release();
  }
  void swap(Task& o) noexcept { std::swap(state_, o.state_); }

  // valid() — whether this handle refers to a task.
  bool valid() const noexcept { return state_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  TaskStatus status() const { return checked()->status(); }
  bool is_completed() const { return checked()->is_completed(); }
  bool is_completed_successfully() const { return status() == TaskStatus::ran_to_completion; }
  bool is_faulted() const { return status() == TaskStatus::faulted; }
  bool is_canceled() const { return status() == TaskStatus::canceled; }

  // exception() — the fault of a faulted task, or null while pending, after success and when
  // canceled (.NET's Task.Exception; a canceled task's OperationCanceledError is what wait(),
  // result() and await throw). Marks it observed.
  std::exception_ptr exception() const {
    auto* s = checked();
    std::exception_ptr e = s->exception();
    if (s->status() == TaskStatus::canceled) return nullptr;
    return e;
  }

  // wait() — blocks until completed; rethrows when faulted or canceled. Throws DeadlockError
  // when blocking here can never end (see context/single_thread_context.hpp).
  void wait() const {
    checked()->wait();
    state_->rethrow_if_failed();
  }

  // wait(timeout) — .NET's Wait(TimeSpan): blocks until completed (then as wait(): rethrows when
  // faulted or canceled, returns true) or until `timeout` passed (returns false). A negative
  // timeout (k_infinite_timeout) waits without a limit, with wait()'s deadlock detection.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    auto* s = checked();
    if (timeout < std::chrono::duration<Rep, Period>::zero()) {
      wait();
      return true;
    }
    if (!s->wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout))) return false;
    s->rethrow_if_failed();
    return true;
  }

  // result() — wait(), then the value (a copy; move-only T: moved out once).
  T result() const {
    checked()->wait();
    return state_->take_result();
  }

  // get_awaiter() — the awaiter; resumes on the captured SynchronizationContext. Throws
  // InvalidOperationError on an empty handle (its awaiter would have no task to ask). An lvalue's
  // awaiter borrows this task until it suspends or is copied: see TaskAwaiter.
  TaskAwaiter<T> get_awaiter() const& {
    checked();
    return TaskAwaiter<T>(*this, true);
  }
  TaskAwaiter<T> get_awaiter() && {
    checked();
    return TaskAwaiter<T>(std::move(*this), true);
  }

  // configure_await(continue_on_captured_context) — .NET's ConfigureAwait. Throws
  // InvalidOperationError on an empty handle.
  ConfiguredTaskAwaitable<T> configure_await(bool continue_on_captured_context) const& {
    checked();
    return ConfiguredTaskAwaitable<T>(*this, continue_on_captured_context);
  }
  ConfiguredTaskAwaitable<T> configure_await(bool continue_on_captured_context) && {
    checked();
    return ConfiguredTaskAwaitable<T>(std::move(*this), continue_on_captured_context);
  }

  // configure_await(options) — .NET 8's ConfigureAwait(ConfigureAwaitOptions): see
  // ConfigureAwaitOptions. suppress_throwing on a Task<T> with a result throws ArgumentError (as
  // .NET: the await would have no value to return); an unknown flag throws ArgumentError.
  OptionsTaskAwaitable<T> configure_await(ConfigureAwaitOptions options) const& {
    checked();
    validate_options(options);
    return OptionsTaskAwaitable<T>(*this, options);
  }
  OptionsTaskAwaitable<T> configure_await(ConfigureAwaitOptions options) && {
    checked();
    validate_options(options);
    return OptionsTaskAwaitable<T>(std::move(*this), options);
  }

  // state() — the shared state (internal use: builders, combinators, deadlock detection).
  detail::TaskState<T>* state() const noexcept { return state_; }

  friend bool operator==(const Task& a, const Task& b) noexcept { return a.state_ == b.state_; }

 private:
  template <class U>
  friend class TaskAwaiter;
  template <class U>
  friend Task<U> detail::adopt_task(detail::TaskState<U>* state) noexcept;

  detail::TaskState<T>* checked() const {
    if (!state_) detail::throw_invalid_task();
    return state_;
  }
  static void validate_options(ConfigureAwaitOptions options) {
    if (static_cast<unsigned>(options) & ~7u) detail::throw_bad_configure_await_options(false);
    if constexpr (!std::is_void_v<T>) {
      if (has_option(options, ConfigureAwaitOptions::suppress_throwing)) {
        detail::throw_bad_configure_await_options(true);
      }
    }
  }

  detail::TaskState<T>* state_ = nullptr;
};

template <class T>
Task<T> detail::adopt_task(TaskState<T>* state) noexcept {
  Task<T> t;
  t.state_ = state;
  return t;
}

// completed_task() — the shared completed Task<> (.NET's Task.CompletedTask). No allocation.
Task<> completed_task() noexcept;

}  // namespace duet
