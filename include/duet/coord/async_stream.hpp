// duet/coord/async_stream.hpp — async streams (.NET's IAsyncEnumerable<T> / IAsyncEnumerator<T>):
// the interface every style's producer implements, the owning handles, and for_each_async.
//
//   C#                                             duet
//   IAsyncEnumerable<T>                            AsyncStream<T>
//   IAsyncEnumerator<T>                            AsyncEnumerator<T> (owning handle) over
//                                                  IAsyncEnumerator<T>
//   e = s.GetAsyncEnumerator(token)                auto e = s.get_async_enumerator(token);
//   s.WithCancellation(token)                      the same: get_async_enumerator(token)
//   await e.MoveNextAsync() / e.Current            e.move_next_async() -> ValueTask<bool>, e.current()
//   await e.DisposeAsync()                         e.dispose_async() -> ValueTask<>
//   await foreach (var x in s) body(x);            await for_each_async(s, body) — or the loop over
//                                                  move_next_async() written in any style
//
// Producers (one per style):
//   explicit  a hand-written Roslyn-shaped iterator deriving from duet::AsyncIterator<Self, T>
//             (sm/async_iterator.hpp);
//   dsl       the same base, move_next() written with DUET_BEGIN ... DUET_YIELD_RETURN(v) ...
//             DUET_END (sm/dsl_stream.hpp);
//   fiber     duet::fiber::async_stream<T>([](auto& yield) { ... yield(v); ... })
//             (fiber/async_stream.hpp).
// All three sit on detail::AsyncIteratorCore<T> below: one heap object per enumeration, a
// ManualResetValueTaskSourceCore<bool> for move_next_async (none allocated per item).
//
// Disposal. dispose_async() on an enumerator suspended at a yield resumes it in "dispose mode":
// the producer leaves at that yield as if by `yield break`, running its finally blocks (which may
// await); dispose_async() completes when they have. An AsyncEnumerator handle destroyed without
// dispose_async() disposes the same way, fire-and-forget, and frees the producer when it ends.
//
// Thread-safety: one consumer at a time, as in .NET (a move_next_async while one is pending, or a
// dispose_async while one is pending, throws InvalidOperationError). The producer may run on any
// thread (a pool thread after an await, a fiber); AsyncIteratorCore's "Hand-off" note says how the
// two sides share the object without a lock.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet {

// IAsyncEnumerator<T> — the consumer's view of one enumeration.
template <class T>
class IAsyncEnumerator {
 public:
  // move_next_async() — true with current() set to the next item, false at the end; the
  // producer's exception (or cancellation) otherwise.
  virtual ValueTask<bool> move_next_async() = 0;
  // current() — the item of the last move_next_async() that returned true.
  virtual T& current() = 0;
  // dispose_async() — ends the enumeration early, running the producer's finally blocks.
  virtual ValueTask<> dispose_async() = 0;
  // release() — the owning handle is gone (see "Disposal"). Internal to AsyncEnumerator.
  virtual void release() noexcept = 0;

 protected:
  IAsyncEnumerator() = default;
  ~IAsyncEnumerator() = default;
};

// AsyncEnumerator<T> — the owning, move-only handle get_async_enumerator returns.
template <class T>
class AsyncEnumerator {
 public:
  explicit AsyncEnumerator(IAsyncEnumerator<T>* e) noexcept : e_(e) {}
  AsyncEnumerator(AsyncEnumerator&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  AsyncEnumerator& operator=(AsyncEnumerator&& o) noexcept {
    if (this != &o) {
      if (e_) e_->release();
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  AsyncEnumerator(const AsyncEnumerator&) = delete;
  AsyncEnumerator& operator=(const AsyncEnumerator&) = delete;
  ~AsyncEnumerator() {
    if (e_) e_->release();
  }
  ValueTask<bool> move_next_async() { return checked().move_next_async(); }
  T& current() { return checked().current(); }
  ValueTask<> dispose_async() { return checked().dispose_async(); }
  bool valid() const noexcept { return e_ != nullptr; }

 private:
  IAsyncEnumerator<T>& checked() const {
    if (!e_) throw InvalidOperationError("AsyncEnumerator: this handle is empty (moved from)");
    return *e_;
  }
  IAsyncEnumerator<T>* e_;
};

// AsyncStream<T> — something that can be enumerated (any number of times, each enumeration
// running the producer afresh), .NET's IAsyncEnumerable<T>. Holds the producer's factory.
template <class T>
class AsyncStream {
 public:
  using value_type = T;
  using Factory = std::function<IAsyncEnumerator<T>*(const CancellationToken&)>;
  explicit AsyncStream(Factory make) : make_(std::move(make)) {}
  // get_async_enumerator(token) — starts an enumeration; `token` reaches the producer (.NET's
  // [EnumeratorCancellation] / WithCancellation). One allocation: the producer.
  AsyncEnumerator<T> get_async_enumerator(const CancellationToken& token = {}) const {
    return AsyncEnumerator<T>(make_(token));
  }

 private:
  Factory make_;
};

namespace detail {

// StepFrame — the record run_step keeps on its own thread's stack while the body runs: an outcome
// (a yield, the end, an error) produced synchronously inside that step is reported through it, and
// handed to the consumer only after the step has returned (see AsyncIteratorCore's "Hand-off").
struct StepFrame {
  const void* owner;
  bool produced;
  StepFrame* prev;
};
// step_frame() — this thread's innermost StepFrame. Not inlined: a fiber producer reads it, and a
// fiber may move between threads (docs/design.md, "Threads, memory, errors").
[[gnu::noinline]] inline StepFrame*& step_frame() noexcept {
  thread_local StepFrame* frame = nullptr;
  return frame;
}

// AsyncIteratorCore<T> — the consumer-facing half shared by every style's producer: the promise
// behind move_next_async (a ManualResetValueTaskSourceCore<bool>: true = an item, false = the
// end), current(), dispose mode and the orphan rule of "Disposal". A producer implements step()
// (run the body until its next yield, await or end) and reports through on_yield / on_end /
// on_error; every entry into the body goes through run_step().
//
// Hand-off. The consumer and the producer run on different threads, so the object has an owner at
// every moment. An *activation* (move_next_async, dispose_async, or the disposal of an orphaned
// enumerator) makes the producer the owner: it sets `active` in ctl_ and takes a reference. The
// producer gives ownership back when it reports an outcome, in finish(): it clears `active`
// (acq_rel), and only then completes the promise, reading nothing of the object but the promise
// from that point; then it drops the activation's reference. An outcome produced inside run_step
// is reported when the step has returned (StepFrame), so no code of the step still runs when the
// consumer gets control back; a fiber's yield, which runs outside any step, reports directly.
// release() (the handle dropped, possibly while an activation runs on another thread) sets
// `orphaned`: if the producer is active, its finish() sees the flag and disposes or ends instead of
// completing the promise; otherwise release() disposes a stream parked at a yield itself. The
// object is freed when the last reference (the handle's, an activation's) goes.
template <class T>
class AsyncIteratorCore : public IAsyncEnumerator<T>, public IValueTaskSource<bool> {
 public:
  enum class Phase { not_started, running, at_yield, disposing, done };

  ValueTask<bool> move_next_async() final {
    if (active()) {
      throw InvalidOperationError(
          "IAsyncEnumerator::move_next_async: called while a previous move_next_async or "
          "dispose_async of this enumerator is still pending; await each before the next");
    }
    if (phase_ == Phase::done) return ValueTask<bool>(false);
    promise_.reset();
    const short version = promise_.version();
    activate(Phase::running);
    run_step();
    return result_of(version);
  }

  T& current() final {
    if (!current_) {
      throw InvalidOperationError(
          "IAsyncEnumerator::current: no current item (call it only after move_next_async "
          "returned true)");
    }
    return *current_;
  }

  ValueTask<> dispose_async() final {
    if (active()) {
      throw InvalidOperationError(
          "IAsyncEnumerator::dispose_async: called while a move_next_async is still pending; "
          "await it first");
    }
    if (phase_ != Phase::at_yield) {  // not started, or ended: nothing to run
      phase_ = Phase::done;
      current_.reset();
      return ValueTask<>();
    }
    promise_.reset();
    const short version = promise_.version();
    begin_dispose();
    run_step();
    if (promise_.is_completed()) {
      try {
        (void)promise_.get_result(version);
      } catch (...) {
        return ValueTask<>(from_exception<void>(std::current_exception()));
      }
      return ValueTask<>();
    }
    return ValueTask<>(dispose_source_, version);
  }

  void release() noexcept final {
    const unsigned old = ctl_.fetch_or(orphaned_bit, std::memory_order_acq_rel);
    // Not active: the object is the consumer's, phase_ is stable. Active: finish() sees the flag.
    if (!(old & active_bit) && phase_ == Phase::at_yield) {
      begin_dispose();
      run_step();
    }
    unref();  // the handle's reference
  }

  // ---- IValueTaskSource<bool> (the move_next_async promise) --------------------------------
  ValueTaskSourceStatus get_status(short token) override { return promise_.get_status(token); }
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
    promise_.on_completed(c, token, flags);
  }
  bool get_result(short token) override { return promise_.get_result(token); }
  // diag_describe(out) — an await on move_next_async (diag/diagnostics.hpp): the chain goes on
  // through the producer's frame, whose key is diag_self_key().
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    out.set(diagnostics::AwaitKind::async_stream, static_cast<const IValueTaskSource<bool>*>(this),
            "move_next_async");
  }

  // dispose_mode() — true once the producer must leave at its current yield (yield break).
  bool dispose_mode() const noexcept { return dispose_mode_; }
  // token() — the token given to get_async_enumerator.
  const CancellationToken& token() const noexcept { return token_; }
  void set_token(const CancellationToken& t) { token_ = t; }

 protected:
  AsyncIteratorCore() noexcept = default;
  virtual ~AsyncIteratorCore() = default;

  // step() — run the body until its next yield, suspension or end.
  virtual void step() = 0;
  // run_step() — every entry into the body: the first call, each resumption after an await, a
  // dispose. An outcome the step produced is handed over once the step has returned; a step that
  // suspended touches nothing afterwards (another thread may already own the object).
  void run_step() noexcept {
    StepFrame*& top = step_frame();  // step() never moves this thread's context elsewhere
    StepFrame frame{this, false, top};
    top = &frame;
    try {
      step();
    } catch (...) {
      on_error(std::current_exception());
    }
    top = frame.prev;
    if (frame.produced) finish();
  }

  // on_yield(v) — the body produced `v` and stops at a yield.
  template <class U>
  void on_yield(U&& v) {
    current_.emplace(std::forward<U>(v));
    phase_ = Phase::at_yield;
    produced();
  }
  // on_end() — the body finished (ran off its end, yield break, or left in dispose mode).
  void on_end() noexcept {
    if (phase_ == Phase::done) return;  // an outcome was already reported
    phase_ = Phase::done;
    current_.reset();
    produced();
  }
  // on_error(e) — an exception escaped the body.
  void on_error(std::exception_ptr e) noexcept {
    if (phase_ == Phase::done) return;
    phase_ = Phase::done;
    current_.reset();
    error_ = std::move(e);
    produced();
  }

  Phase phase() const noexcept { return phase_; }

  // diag_self_key() — the key of the producer's frame while it runs (diagnostics): what a consumer
  // awaiting this activation awaits, dispose_async's source while disposing, else move_next_async's.
  // Read by the producer, which owns the object then.
  const void* diag_self_key() const noexcept {
    if (phase_ == Phase::disposing) return static_cast<const IValueTaskSource<void>*>(&dispose_source_);
    return static_cast<const IValueTaskSource<bool>*>(this);
  }

 private:
  static constexpr unsigned active_bit = 1;
  static constexpr unsigned orphaned_bit = 2;

  bool active() const noexcept { return ctl_.load(std::memory_order_acquire) & active_bit; }
  // activate(phase) — the consumer hands the object to the producer (see "Hand-off").
  void activate(Phase phase) noexcept {
    refs_.fetch_add(1, std::memory_order_relaxed);
    phase_ = phase;
    ctl_.fetch_or(active_bit, std::memory_order_acq_rel);
  }
  void unref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // begin_dispose() — an activation that leaves the body at its yield (dispose mode).
  void begin_dispose() noexcept {
    dispose_mode_ = true;
    current_.reset();
    activate(Phase::disposing);
  }
  // produced() — an outcome is ready: report it now, or when the running step returns.
  void produced() noexcept {
    StepFrame* f = step_frame();
    if (f && f->owner == this) {
      f->produced = true;
    } else {
      finish();
    }
  }
  // finish() — ends the activation: hands the object back and completes the promise (or, for an
  // orphan, disposes / ends silently). Reads the outcome before giving up ownership.
  void finish() noexcept {
    const bool item = phase_ == Phase::at_yield;
    std::exception_ptr error = std::move(error_);
    const unsigned old = ctl_.fetch_and(~active_bit, std::memory_order_acq_rel);
    if (old & orphaned_bit) {
      if (item) {  // orphaned while the item was being produced: leave at that yield
        begin_dispose();
        run_step();
      }
    } else if (error) {
      promise_.set_exception(std::move(error));
    } else {
      promise_.set_result(item);
    }
    unref();  // the activation's reference
  }

  ValueTask<bool> result_of(short version) {
    if (promise_.is_completed()) {
      try {
        return ValueTask<bool>(promise_.get_result(version));
      } catch (...) {
        return ValueTask<bool>(from_exception<bool>(std::current_exception()));
      }
    }
    return ValueTask<bool>(*this, version);
  }

  // DisposeSource — dispose_async's ValueTask<> over the same promise (its bool discarded).
  struct DisposeSource final : IValueTaskSource<void> {
    explicit DisposeSource(AsyncIteratorCore& o) noexcept : owner(o) {}
    ValueTaskSourceStatus get_status(short token) override { return owner.promise_.get_status(token); }
    void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
      owner.promise_.on_completed(c, token, flags);
    }
    void get_result(short token) override { (void)owner.promise_.get_result(token); }
    void diag_describe(diagnostics::Awaited& out) const noexcept override {
      out.set(diagnostics::AwaitKind::async_stream, static_cast<const IValueTaskSource<void>*>(this),
              "dispose_async");
    }
    AsyncIteratorCore& owner;
  };

  ManualResetValueTaskSourceCore<bool> promise_;
  DisposeSource dispose_source_{*this};
  std::optional<T> current_;
  CancellationToken token_;
  std::exception_ptr error_;
  std::atomic<int> refs_{1};  // the handle's, plus one per activation
  std::atomic<unsigned> ctl_{0};
  Phase phase_ = Phase::not_started;
  bool dispose_mode_ = false;
};

// ForEachAsync<T, Fn> — for_each_async's task: `await foreach (var x in s) fn(x);` (or, for an
// async fn, `await fn(x);`) as a hand-written machine (this layer is below the builders): the
// task state, the enumerator, the awaiter of the current move_next_async / body / dispose_async
// and the resumption node in one object.
template <class T, class Fn>
class ForEachAsync final : public TaskState<void>, public Continuation {
  using BodyResult = std::invoke_result_t<Fn&, T&>;
  static constexpr bool k_async_body = !std::is_void_v<BodyResult>;
  struct NoAwaiter {};
  template <class R>
  struct BodyAwaiterOf {
    using type = awaiter_t<R>;
  };
  using BodyAwaiter =
      typename std::conditional_t<k_async_body, BodyAwaiterOf<BodyResult>, std::type_identity<NoAwaiter>>::type;

 public:
  ForEachAsync(AsyncEnumerator<T> e, Fn fn) : TaskState<void>(2), e_(std::move(e)), fn_(std::move(fn)) {
    this->invoke = &ForEachAsync::resume;
    this->owner = this;
  }
  // run() — the body; re-entered by resume() after each suspension.
  void run() noexcept {
    for (;;) {
      if (!disposing_) {
        if constexpr (k_async_body) {
          if (body_) {  // resumed after `await fn(x)`
            try {
              (void)body_->get_result();
              body_.reset();
            } catch (...) {
              body_.reset();
              fail(std::current_exception());
              continue;
            }
          }
        }
        if (!next_) {
          try {
            next_.emplace(e_.move_next_async().get_awaiter());
          } catch (...) {
            fail(std::current_exception());
            continue;
          }
          if (!next_->is_completed()) {
            next_->unsafe_on_completed(*this);
            return;
          }
        }
        bool more = false;
        try {
          more = next_->get_result();
          next_.reset();
          if (more) {
            if constexpr (k_async_body) {
              body_.emplace(duet::get_awaiter(fn_(e_.current())));
            } else {
              fn_(e_.current());
            }
          }
        } catch (...) {
          next_.reset();
          fail(std::current_exception());
          continue;
        }
        if constexpr (k_async_body) {
          if (more && !body_->is_completed()) {
            body_->unsafe_on_completed(*this);
            return;
          }
        }
        if (more) continue;
        disposing_ = true;
      }
      // finally: await e.DisposeAsync()
      if (!disposed_) {
        try {
          disposed_.emplace(e_.dispose_async().get_awaiter());
        } catch (...) {
          if (!error_) error_ = std::current_exception();
          finish();
          return;
        }
        if (!disposed_->is_completed()) {
          disposed_->unsafe_on_completed(*this);
          return;
        }
      }
      try {
        disposed_->get_result();
      } catch (...) {
        if (!error_) error_ = std::current_exception();
      }
      finish();
      return;
    }
  }

 private:
  static void resume(Continuation* c) noexcept { static_cast<ForEachAsync*>(c)->run(); }
  void fail(std::exception_ptr e) noexcept {
    if (!error_) error_ = std::move(e);
    disposing_ = true;
  }
  void finish() noexcept {
    if (error_) {
      try_complete_exception(error_);
    } else {
      try_complete_value();
    }
    release();  // the running reference
  }

  AsyncEnumerator<T> e_;
  Fn fn_;
  std::optional<ValueTaskAwaiter<bool>> next_;
  std::optional<BodyAwaiter> body_;  // the awaiter of an async fn's current call
  std::optional<ValueTaskAwaiter<void>> disposed_;
  std::exception_ptr error_;
  bool disposing_ = false;
};

}  // namespace detail

// for_each_async(stream, fn, token) — `await foreach (var x in stream.WithCancellation(token))
// fn(x);`: a Task<> that enumerates `stream`, calls fn(item) for each item, and disposes the
// enumerator at the end — also when fn or the producer throws (the task then faults with that
// exception; canceled for an OperationCanceledError). fn may be synchronous (returns void) or
// async (returns an awaitable: Task<>, ValueTask<>, ...): the loop then awaits fn(item) before
// the next move_next_async, `await foreach (var x in s) await fn(x);`. One allocation beside the
// enumerator: this task.
template <class T, class Fn>
Task<> for_each_async(const AsyncStream<T>& stream, Fn fn, const CancellationToken& token = {}) {
  static_assert(std::is_invocable_v<Fn&, T&>, "for_each_async(stream, fn): fn must accept a T&");
  using R = std::invoke_result_t<Fn&, T&>;
  static_assert(std::is_void_v<R> || Awaitable<R>,
                "for_each_async(stream, fn): fn must return void, or an awaitable (Task<>, ValueTask<>, ...) "
                "that the loop awaits before the next item");
  auto* state = new detail::ForEachAsync<T, Fn>(stream.get_async_enumerator(token), std::move(fn));
  Task<> t = detail::adopt_task(static_cast<detail::TaskState<void>*>(state));
  state->run();
  return t;
}

}  // namespace duet
