// duet_fixture.hpp — shared GoogleTest support for every duet test area.
//
// What is here, and why:
//  * DuetTest — a fixture whose TearDown fails the test when it leaked task states (every
//    TaskStateBase is counted by duet::live_task_states() in builds without NDEBUG). Before it
//    compares, it quiesces the default pool deterministically (drain_default_pool(), no sleeps):
//    a continuation that runs on a pool thread may drop the last reference of a box a moment
//    after the test thread saw the task complete.
//  * launch(sm) — the "stub method" of an explicit state machine (seed 002): start, then task.
//    Every test state machine names its builder `builder_`.
//  * EventLog — a thread-safe list of strings, for the seeds' numbered-output examples: record
//    events from the test and from move_next(), then assert the order.
//  * ManualAwaitable<T> — an awaitable the test completes by hand, that records how it was
//    awaited (registrations, on_completed vs unsafe_on_completed, captured context).
//  * RecordingContext — a SynchronizationContext that queues posted continuations until the test
//    pumps them with run_all() (a hand-driven "UI thread").
//  * drain_default_pool() — returns once every item the default pool had started has finished.
//  * CountingContinuation, wait_for_count() — a raw Continuation that records how often and where
//    it ran, and a sleep-free wait for a counter to reach a value.
//  * expect_rethrows<E>(fn, message) — fn throws exactly an E with exactly that message.
//  * UnhandledRecorder — while alive, reports to the unhandled-exception handler are recorded
//    (their messages, in order; thread-safe) instead of terminating the process.
//
// Thread-safety: EventLog and RecordingContext::post are thread-safe; ManualAwaitable is for one
// thread; the rest runs on the test thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <duet/duet.hpp>

namespace duet::testing {

// drain_default_pool() — posts one rendezvous item per default-pool worker; each blocks until all
// have started, so when it returns every worker has finished whatever it was running before.
// Items that those posted meanwhile may still be queued: call it again to drain them too.
// Precondition: no pool worker is blocked waiting for the calling thread.
inline void drain_default_pool() {
  ThreadPool& pool = default_scheduler();
  const unsigned n = pool.worker_count();
  struct Rendezvous : Continuation {
    std::atomic<unsigned>* arrived;
    std::atomic<unsigned>* left;
    unsigned n;
  };
  std::atomic<unsigned> arrived{0};
  std::atomic<unsigned> left{0};
  std::vector<Rendezvous> items(n);
  for (auto& r : items) {
    r.invoke = [](Continuation* c) noexcept {
      auto* self = static_cast<Rendezvous*>(c);
      const unsigned count = self->arrived->fetch_add(1) + 1;
      if (count == self->n) {
        self->arrived->notify_all();
      } else {
        unsigned seen = count;
        while (seen < self->n) {
          self->arrived->wait(seen);
          seen = self->arrived->load();
        }
      }
      // Last touch of `self`: after this the test thread may free the items.
      std::atomic<unsigned>* left_counter = self->left;
      left_counter->fetch_add(1);
      left_counter->notify_all();
    };
    r.arrived = &arrived;
    r.left = &left;
    r.n = n;
  }
  for (auto& r : items) pool.post(r);
  for (unsigned seen = left.load(); seen < n; seen = left.load()) left.wait(seen);
}

// DuetTest — base fixture: asserts at TearDown that the test left no task state alive.
// Derive with TEST_F (or from it for parameterised suites).
class DuetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)completed_task();      // the immortal completed Task<> exists from here on
    (void)default_scheduler();   // workers started (thread creation allocates)
    baseline_ = live_task_states();
  }
  void TearDown() override {
    if (baseline_ < 0) return;  // NDEBUG build: nothing is counted
    // Stragglers on pool threads release their last references shortly after the test saw the
    // task complete; drain a few rounds (each round also runs items the previous one posted).
    for (int round = 0; round < 16 && live_task_states() != baseline_; ++round) {
      drain_default_pool();
    }
    EXPECT_EQ(live_task_states(), baseline_)
        << "task states leaked (or were freed twice) by this test: every Task handle, builder "
           "and box must drop its reference exactly once";
  }

 private:
  std::int64_t baseline_ = 0;
};

// launch(sm) — runs the stub of an async method: sm.builder_.start(sm), then sm.builder_.task().
// The lvalue form leaves `sm` (the moved-from original, if it suspended) for inspection.
template <class SM>
auto launch(SM& sm) {
  sm.builder_.start(sm);
  return sm.builder_.task();
}
template <class SM>
  requires(!std::is_lvalue_reference_v<SM>)
auto launch(SM&& sm) {
  SM machine(std::move(sm));
  return launch(machine);
}

// EventLog — an ordered, thread-safe record of events.
class EventLog {
 public:
  void add(std::string event) {
    std::lock_guard<std::mutex> lk(mutex_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lk(mutex_);
    return events_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;  // Guarded by mutex_.
};

// RecordingContext — a SynchronizationContext whose post() queues; run_all() runs the queue on
// the calling thread with this context installed as current. post() is thread-safe.
class RecordingContext final : public SynchronizationContext {
 public:
  void post(Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    queue_.push_back(&c);
    ++posts_;
  }
  // run_all() — runs queued continuations (and those they post) until the queue is empty;
  // returns how many ran.
  int run_all() {
    SyncContextScope scope(this);
    int ran = 0;
    for (;;) {
      Continuation* c = nullptr;
      {
        std::lock_guard<std::mutex> lk(mutex_);
        if (queue_.empty()) return ran;
        c = queue_.front();
        queue_.pop_front();
      }
      run_continuation(c);
      ++ran;
    }
  }
  // posts() — how many continuations were ever posted here.
  int posts() const {
    std::lock_guard<std::mutex> lk(mutex_);
    return posts_;
  }

 private:
  mutable std::mutex mutex_;
  std::deque<Continuation*> queue_;  // Guarded by mutex_.
  int posts_ = 0;                    // Guarded by mutex_.
};

// ManualAwaitable<T> — an awaitable completed by hand with complete(v) / fail(e). Its awaiter
// follows the duet rules: on_completed captures the ExecutionContext, both forms capture
// SynchronizationContext::current(), and completion dispatches through the same rule as a Task
// (TaskStateBase::dispatch_continuation). Single-threaded; it must outlive its awaiters. One
// continuation at a time.
template <class T = void>
class ManualAwaitable {
 public:
  using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

  class Awaiter {
   public:
    // The default awaiter belongs to no awaitable; it exists so an Awaiter can sit in a
    // ConfiguredAwaitable, whose awaiter value-initialises its inner one.
    Awaiter() noexcept : owner_(nullptr) {}
    explicit Awaiter(ManualAwaitable* owner) noexcept : owner_(owner) {}
    bool is_completed() const noexcept { return owner_->done_; }
    void on_completed(Continuation& c) noexcept {
      ++owner_->safe_registrations_;
      detail::capture_execution_context(c);
      register_continuation(c);
    }
    void unsafe_on_completed(Continuation& c) noexcept {
      ++owner_->unsafe_registrations_;
      register_continuation(c);
    }
    T get_result() {
      ++owner_->results_taken_;
      if (owner_->error_) std::rethrow_exception(owner_->error_);
      if constexpr (!std::is_void_v<T>) return *owner_->value_;
    }
    // address() — where this awaiter object lives (tests check the box relocation with it).
    const void* address() const noexcept { return this; }

   private:
    void register_continuation(Continuation& c) noexcept {
      owner_->registered_by_ = this;
      c.context = SynchronizationContext::current();
      owner_->captured_context_ = c.context;
      owner_->waiter_ = &c;
    }
    ManualAwaitable* owner_;
  };

  Awaiter get_awaiter() noexcept { return Awaiter(this); }

  // complete(v...) — completes and resumes the registered continuation, if any.
  template <class... Args>
  void complete(Args&&... args) {
    value_.emplace(std::forward<Args>(args)...);
    finish();
  }
  // fail(e) — completes with an exception and resumes the registered continuation, if any.
  void fail(std::exception_ptr e) {
    error_ = std::move(e);
    finish();
  }

  int safe_registrations() const noexcept { return safe_registrations_; }
  int unsafe_registrations() const noexcept { return unsafe_registrations_; }
  int results_taken() const noexcept { return results_taken_; }
  SynchronizationContext* captured_context() const noexcept { return captured_context_; }
  // registered_by() — the address of the awaiter object whose on_completed ran last.
  const void* registered_by() const noexcept { return registered_by_; }
  bool has_waiter() const noexcept { return waiter_ != nullptr; }

 private:
  void finish() {
    done_ = true;
    if (Continuation* c = std::exchange(waiter_, nullptr)) {
      detail::TaskStateBase::dispatch_continuation(*c, false);
    }
  }

  bool done_ = false;
  std::optional<Value> value_;
  std::exception_ptr error_;
  Continuation* waiter_ = nullptr;
  int safe_registrations_ = 0;
  int unsafe_registrations_ = 0;
  int results_taken_ = 0;
  SynchronizationContext* captured_context_ = nullptr;
  const void* registered_by_ = nullptr;
};

// wait_for_count(counter, n) — blocks until counter >= n (std::atomic::wait, no sleeping).
// Whoever increments the counter must notify it.
inline void wait_for_count(std::atomic<int>& counter, int n) {
  for (int seen = counter.load(); seen < n; seen = counter.load()) counter.wait(seen);
}

// CountingContinuation — a Continuation that counts its runs and records the thread of the last
// one. `done`, when set, is incremented and notified after every run (pair with wait_for_count);
// `log`, when set, receives `name`.
struct CountingContinuation : Continuation {
  CountingContinuation() noexcept { invoke = &run; }
  CountingContinuation(const CountingContinuation&) = delete;
  CountingContinuation& operator=(const CountingContinuation&) = delete;

  std::atomic<int> runs{0};
  std::thread::id ran_on;          // written by the run, read after `done` synchronises
  bool ran_on_pool = false;        // is_thread_pool_thread() during the run
  std::atomic<int>* done = nullptr;
  EventLog* log = nullptr;
  std::string name;

 private:
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<CountingContinuation*>(c);
    self->ran_on = std::this_thread::get_id();
    self->ran_on_pool = is_thread_pool_thread();
    if (self->log) {
      try {
        self->log->add(self->name);
      } catch (...) {
      }
    }
    std::atomic<int>* done = self->done;
    self->runs.fetch_add(1);  // after this the test may free `self` once `done` says so
    if (done) {
      done->fetch_add(1);
      done->notify_all();
    }
  }
};

// expect_rethrows<E>(fn, message) — fn() throws an exception whose dynamic type is exactly E and
// whose what() is exactly `message`.
template <class E, class Fn>
void expect_rethrows(Fn&& fn, const std::string& message) {
  try {
    std::forward<Fn>(fn)();
    ADD_FAILURE() << "expected an exception, nothing was thrown";
  } catch (const E& e) {
    EXPECT_EQ(typeid(e), typeid(E)) << "caught a type derived from the expected one";
    EXPECT_EQ(std::string(e.what()), message);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "an exception not derived from std::exception";
  }
}

// UnhandledRecorder — installs a recording unhandled-exception handler for its lifetime and
// restores the previous one after. One at a time (the handler is a plain function pointer).
class UnhandledRecorder {
 public:
  UnhandledRecorder() {
    std::lock_guard<std::mutex> lk(mutex());
    messages_ref().clear();
    counter().store(0);
    previous_ = set_unhandled_exception_handler(&record);
  }
  ~UnhandledRecorder() { set_unhandled_exception_handler(previous_); }
  UnhandledRecorder(const UnhandledRecorder&) = delete;
  UnhandledRecorder& operator=(const UnhandledRecorder&) = delete;

  // count() — how many reports arrived.
  int count() const { return counter().load(std::memory_order_acquire); }
  // messages() — describe(e) of each report, in arrival order.
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lk(mutex());
    return messages_ref();
  }
  // wait_for(n) — blocks until at least n reports arrived (sleep-free: atomic wait).
  void wait_for(int n) const {
    for (int c = count(); c < n; c = count()) counter().wait(c, std::memory_order_acquire);
  }

 private:
  static void record(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lk(mutex());
      messages_ref().push_back(describe(e));
    }
    counter().fetch_add(1, std::memory_order_acq_rel);
    counter().notify_all();
  }
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<std::string>& messages_ref() {
    static std::vector<std::string> v;
    return v;
  }
  static std::atomic<int>& counter() {
    static std::atomic<int> c{0};
    return c;
  }
  UnhandledExceptionHandler previous_ = nullptr;
};

}  // namespace duet::testing
