// duet/core/errors.hpp — the exception types duet throws, named after their .NET counterparts.
//
// Exceptions are duet's error channel, as in .NET. Every message names the rule that was broken
// and the fix, so a user reading only the message knows what to change.
// All types are immutable after construction and safe to share between threads.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "duet/detail/ref_count.hpp"

namespace duet {

// InvalidOperationError — an operation was attempted in a state that forbids it (.NET's
// InvalidOperationException): completing a TaskCompletionSource twice, awaiting a consumed
// ValueTask, asking a builder for its task before start().
class InvalidOperationError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// ObjectDisposedError — an operation on an object after its dispose() (.NET's
// ObjectDisposedException, which is an InvalidOperationException too), e.g. cancel() on a
// disposed CancellationTokenSource.
class ObjectDisposedError : public InvalidOperationError {
 public:
  using InvalidOperationError::InvalidOperationError;
};

// ArgumentError — a caller passed a value outside the accepted domain (.NET's
// ArgumentException / ArgumentOutOfRangeException), e.g. a negative delay.
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class CancellationToken;

namespace detail {
// CancellationStateBase — the reference count of a cancellation token's shared state
// (time/cancellation.hpp derives CancellationState from it), so that an OperationCanceledError
// can hold the token it reports without this layer knowing cancellation. Thread-safe.
class CancellationStateBase {
 public:
  void add_ref() noexcept { refs_.add_ref(); }
  void release() noexcept {
    if (refs_.drop()) delete this;
  }

 protected:
  CancellationStateBase() noexcept = default;
  virtual ~CancellationStateBase() = default;

 private:
  RefCount refs_{1};
};

// CancellationStateRef — a counted handle to a token's state. Copyable; thread-safe like a token.
class CancellationStateRef {
 public:
  CancellationStateRef() noexcept = default;
  explicit CancellationStateRef(CancellationStateBase* s) noexcept : s_(s) {
    if (s_) s_->add_ref();
  }
  CancellationStateRef(const CancellationStateRef& o) noexcept : CancellationStateRef(o.s_) {}
  CancellationStateRef& operator=(const CancellationStateRef& o) noexcept {
    CancellationStateRef copy(o);
    std::swap(s_, copy.s_);
    return *this;
  }
  ~CancellationStateRef() {
    if (s_) s_->release();
  }
  CancellationStateBase* get() const noexcept { return s_; }

 private:
  CancellationStateBase* s_ = nullptr;
};

// report_unhandled_exception(e) — hands `e` to the process-wide unhandled-exception handler (see
// set_unhandled_exception_handler).
void report_unhandled_exception(std::exception_ptr e) noexcept;
// report_unobserved_exception(e) — hands `e` to the unobserved-task-exception handler.
void report_unobserved_exception(std::exception_ptr e) noexcept;
}  // namespace detail

// OperationCanceledError — an operation observed a cancellation request (.NET's
// OperationCanceledException). A task whose method ends with this exception ends `canceled`, not
// `faulted`; awaiting or waiting on a canceled task throws it. It carries the CancellationToken
// that was canceled when the thrower knew it (token(); include duet/time/cancellation.hpp to call it).
class OperationCanceledError : public std::runtime_error {
 public:
  OperationCanceledError() : std::runtime_error("The operation was canceled.") {}
  using std::runtime_error::runtime_error;
  // OperationCanceledError(token) / (message, token) — records the canceled token. (Templates
  // only so that this layer needs no definition of CancellationToken; Token is always it.)
  template <class Token>
    requires std::same_as<Token, CancellationToken>
  explicit OperationCanceledError(const Token& token)
      : std::runtime_error("The operation was canceled."), token_(token.state()) {}
  template <class Token>
    requires std::same_as<Token, CancellationToken>
  OperationCanceledError(const std::string& message, const Token& token)
      : std::runtime_error(message), token_(token.state()) {}

  // token() — the token whose cancellation this reports; CancellationToken::none() when unknown.
  template <class Token = CancellationToken>
  Token token() const noexcept {
    return Token::from_state_base(token_.get());
  }

 private:
  detail::CancellationStateRef token_;
};

// TaskCanceledError — the OperationCanceledError a canceled task rethrows when nothing more
// specific was recorded (.NET's TaskCanceledException).
class TaskCanceledError : public OperationCanceledError {
 public:
  TaskCanceledError() : OperationCanceledError("A task was canceled.") {}
  using OperationCanceledError::OperationCanceledError;
  // TaskCanceledError(token) — a canceled task that observed `token`.
  template <class Token>
    requires std::same_as<Token, CancellationToken>
  explicit TaskCanceledError(const Token& token)
      : OperationCanceledError("A task was canceled.", token) {}
};

namespace detail {
// report_pool_destroyed_from_worker() — reports, through the unhandled-exception handler, an
// InvalidOperationError for a ThreadPool destroyed from one of its own workers (no caller can
// receive it: a destructor). The pool is then abandoned, never joined.
void report_pool_destroyed_from_worker() noexcept;

// throw_misuse(subject, name, rule) — throws InvalidOperationError(subject + name + rule): the
// shape of the misuse messages that name the call (`name`) inside a fixed sentence.
[[noreturn]] void throw_misuse(const char* subject, const char* name, const char* rule);

// error_ptr<E>(args...) — std::make_exception_ptr(E(args...)); when building it runs out of
// memory, the std::bad_alloc instead. Completing a task with the result faults it (out of
// memory) rather than losing the completion: the code that calls this has usually claimed the
// task already and must complete it. Complete with try_complete_exception /
// complete_exception_claimed, which tell a cancellation from a fault by the exception's type.
template <class E, class... Args>
std::exception_ptr error_ptr(const Args&... args) noexcept {
  try {
    return std::make_exception_ptr(E(args...));
  } catch (...) {
    return std::current_exception();
  }
}
// canceled_error(args...) — error_ptr<TaskCanceledError>(args...).
template <class... Args>
std::exception_ptr canceled_error(const Args&... args) noexcept {
  return error_ptr<TaskCanceledError>(args...);
}
}  // namespace detail

// TimeoutError — a wait gave up after its timeout (.NET's TimeoutException).
class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("The operation has timed out.") {}
  using std::runtime_error::runtime_error;
};

// DeadlockError — a thread blocked (wait()/result()) on a task whose completion needs a
// continuation that only that same thread can run (the sync-over-async deadlock of the seeds).
// .NET hangs forever here; duet detects the cycle and throws instead.
class DeadlockError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// AggregateError — several exceptions at once (.NET's AggregateException): faults collected by
// when_all, exceptions thrown by cancellation callbacks. `inner_exceptions()` holds all of them in
// order; what() summarises the first.
class AggregateError : public std::runtime_error {
 public:
  explicit AggregateError(std::vector<std::exception_ptr> inner);
  // AggregateError(message, inner) — with a message of its own instead of "One or more errors
  // occurred. (<first inner>)".
  AggregateError(const std::string& message, std::vector<std::exception_ptr> inner);
  const std::vector<std::exception_ptr>& inner_exceptions() const noexcept { return inner_; }

  // flatten() — an AggregateError with this one's message whose inner exceptions are these, with
  // every inner AggregateError (at any depth) replaced by its own inner exceptions (.NET's
  // Flatten).
  AggregateError flatten() const;

  // handle(pred) — calls pred(e) for each inner exception; throws an AggregateError (this one's
  // message) of those for which pred returned false, and returns when it handled them all. An
  // exception thrown by pred propagates at once (.NET's Handle).
  template <class Pred>
  void handle(Pred&& pred) const {
    std::vector<std::exception_ptr> unhandled;
    for (const auto& e : inner_) {
      if (!pred(e)) unhandled.push_back(e);
    }
    if (!unhandled.empty()) throw AggregateError(what(), std::move(unhandled));
  }

 private:
  std::vector<std::exception_ptr> inner_;
};

// UnhandledExceptionHandler — receives an exception nothing else can report: one escaping an
// async void method with no SynchronizationContext, or one thrown by a continuation after its
// task already completed. The default prints it and terminates the process, as .NET does.
using UnhandledExceptionHandler = void (*)(std::exception_ptr);
// set_unhandled_exception_handler(h) — replaces the handler (null restores the default); returns
// the previous one. Thread-safe.
UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler h) noexcept;

// UnobservedTaskExceptionHandler — receives the exception of a faulted task whose exception
// nobody observed (no await, result(), wait() or exception()) when its last handle goes away
// (.NET's TaskScheduler.UnobservedTaskException). The default ignores it, as .NET 4.5+ does.
using UnobservedTaskExceptionHandler = void (*)(std::exception_ptr);
// set_unobserved_task_exception_handler(h) — replaces the handler (null: ignore); returns the
// previous one. Thread-safe.
UnobservedTaskExceptionHandler set_unobserved_task_exception_handler(
    UnobservedTaskExceptionHandler h) noexcept;

// describe(e) — "<what()>" of an exception_ptr, or a fixed text for non-std exceptions; used to
// build messages.
std::string describe(const std::exception_ptr& e);

}  // namespace duet
