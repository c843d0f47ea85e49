// duet/task.hpp — Task<T>, its awaiter, and TaskCompletionSource<T>.
//
// Task<T> is a copyable handle (intrusive reference count) to a detail::TaskState<T>. Task<> is
// Task<void>. A task can be awaited, waited on and queried any number of times, from any thread.
// Copying a handle is one atomic increment; moving it is free.
//
// Where an await resumes: see sync_context.hpp (posted to the captured SynchronizationContext,
// else inline on the completing thread with a depth guard, else on the pool).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "duet/awaiter.hpp"
#include "duet/detail/task_state.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/sync_context.hpp"

namespace duet {

template <class T = void>
class Task;

namespace detail {
// adopt_task(state) — wraps `state` without taking a reference (the caller hands its own over).
template <class T>
Task<T> adopt_task(TaskState<T>* state) noexcept;

[[noreturn]] void throw_invalid_task();
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
      : state_(std::exchange(task.state_, nullptr)), owns_(true), capture_(continue_on_captured_context) {}
  TaskAwaiter(const Task<T>& task, bool continue_on_captured_context) noexcept
      : state_(task.state_), owns_(false), capture_(continue_on_captured_context) {}
  TaskAwaiter(const TaskAwaiter& o) noexcept : state_(o.state_), owns_(o.state_ != nullptr), capture_(o.capture_) {
    if (state_) state_->add_ref();
  }
  TaskAwaiter(TaskAwaiter&& o) noexcept
      : state_(std::exchange(o.state_, nullptr)), owns_(std::exchange(o.owns_, false)), capture_(o.capture_) {}
  TaskAwaiter& operator=(const TaskAwaiter& o) noexcept {
    if (this != &o) TaskAwaiter(o).swap(*this);
    return *this;
  }
  TaskAwaiter& operator=(TaskAwaiter&& o) noexcept {
    TaskAwaiter(std::move(o)).swap(*this);
    return *this;
  }
  ~TaskAwaiter() {
    if (owns_) state_->release();
  }
  void swap(TaskAwaiter& o) noexcept {
    std::swap(state_, o.state_);
    std::swap(owns_, o.owns_);
    std::swap(capture_, o.capture_);
  }

  // is_completed() — true when the task has completed (no suspension needed).
  bool is_completed() const noexcept { return state_->is_completed(); }

  // on_completed(c) — capture the context(s) into `c` and register it on the task.
  void on_completed(Continuation& c) noexcept {
    detail::capture_execution_context(c);
    unsafe_on_completed(c);
  }
  // unsafe_on_completed(c) — as on_completed, without capturing the ExecutionContext.
  void unsafe_on_completed(Continuation& c) noexcept {
    if (!owns_) {  // about to outlive the awaiting statement: take our own reference
      state_->add_ref();
      owns_ = true;
    }
    c.context = capture_ ? SynchronizationContext::current() : nullptr;
    state_->add_continuation(c);
  }

  // get_result() — the result, or rethrows the task's exception. Precondition: completed.
  T get_result() { return state_->take_result(); }

 private:
  detail::TaskState<T>* state_ = nullptr;
  bool owns_ = false;
  bool capture_ = true;
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
  Task& operator=(const Task& o) noexcept {
    Task(o).swap(*this);
    return *this;
  }
  Task& operator=(Task&& o) noexcept {
    Task(std::move(o)).swap(*this);
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

  // exception() — the stored exception (faulted: the fault; canceled: the
  // OperationCanceledError), or null while pending / after success. Marks it observed.
  std::exception_ptr exception() const { return checked()->exception(); }

  // wait() — blocks until completed; rethrows when faulted or canceled. Throws DeadlockError
  // when blocking here can never end (see sync_context.hpp).
  void wait() const {
    checked()->wait();
    state_->rethrow_if_failed();
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

  detail::TaskState<T>* state_ = nullptr;
};

template <class T>
Task<T> detail::adopt_task(TaskState<T>* state) noexcept {
  Task<T> t;
  t.state_ = state;
  return t;
}

// TaskCreationOptions — options for TaskCompletionSource (subset of .NET's enum).
enum class TaskCreationOptions : unsigned {
  none = 0,
  // run_continuations_asynchronously — continuations never run inline inside set_*; they are
  // posted to their captured context or the thread pool (.NET's RunContinuationsAsynchronously).
  run_continuations_asynchronously = 1,
};

// TaskCompletionSource<T> — the producer side of a Task<T> completed by hand.
// Thread-safety: every member may be called from any thread; exactly one set_*/try_set_* wins.
// Copies share the same task.
template <class T = void>
class TaskCompletionSource {
 public:
  explicit TaskCompletionSource(TaskCreationOptions options = TaskCreationOptions::none)
      : task_(detail::adopt_task(new detail::TaskState<T>())) {
    task_.state()->set_run_continuations_asynchronously(
        options == TaskCreationOptions::run_continuations_asynchronously);
  }

  // task() — the task this source completes.
  const Task<T>& task() const noexcept { return task_; }

  // try_set_result(v...) — completes with a value; false when already completed.
  template <class... Args>
  bool try_set_result(Args&&... args) {
    return task_.state()->try_complete_value(std::forward<Args>(args)...);
  }
  // try_set_exception(e) — completes faulted (canceled for an OperationCanceledError).
  bool try_set_exception(std::exception_ptr e) {
    if (!e) throw ArgumentError("TaskCompletionSource::set_exception needs a non-null exception_ptr");
    return task_.state()->try_complete_exception(std::move(e));
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  bool try_set_exception(E&& e) {
    return try_set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }
  // try_set_canceled() — completes canceled.
  bool try_set_canceled() { return task_.state()->try_complete_canceled(); }

  // set_result / set_exception / set_canceled — as the try_ forms, but a second completion throws
  // InvalidOperationError.
  template <class... Args>
  void set_result(Args&&... args) {
    if (!try_set_result(std::forward<Args>(args)...)) throw_already_completed("set_result");
  }
  template <class E>
  void set_exception(E&& e) {
    if (!try_set_exception(std::forward<E>(e))) throw_already_completed("set_exception");
  }
  void set_canceled() {
    if (!try_set_canceled()) throw_already_completed("set_canceled");
  }

 private:
  [[noreturn]] static void throw_already_completed(const char* what) {
    throw InvalidOperationError(
        std::string("TaskCompletionSource::") + what +
        ": an attempt was made to transition a task to a final state when it had already "
        "completed. A task completes exactly once; use the try_set_* forms when several "
        "producers race to complete it");
  }

  Task<T> task_;
};

}  // namespace duet
