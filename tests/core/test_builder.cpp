// test_builder.cpp — explicit state machines written by hand in the shape Roslyn generates
// (seed 002): state -1 running / not started, 0..n suspended at await n, -2 done; hoisted locals
// and stored awaiters as fields; try/catch around the body ending in set_exception.
//
// What is asserted here is the mechanism of AsyncTaskMethodBuilder (the behaviour of async
// methods, in every style, is tests/semantic): the state field's numbering; a completed await
// does not box (allocations counted); a suspension costs exactly one allocation (the box that is
// also the task state); an exception escaping move_next() faults the task; the awaiter may be a
// field (relocated into the box) or a local copy; the builder's contract (task() before start(),
// IAsyncStateMachine, the caller's SynchronizationContext restored, over-aligned machines).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "duet_fixture.hpp"
#include "suspend_once_machine.hpp"

namespace {

using duet::AsyncTaskMethodBuilder;
using duet::InvalidOperationError;
using duet::OperationCanceledError;
using duet::Task;
using duet::TaskAwaiter;
using duet::TaskCompletionSource;
using duet::TaskStatus;
using duet::testing::AllocScope;
using duet::testing::DuetTest;
using duet::testing::EventLog;
using duet::testing::expect_rethrows;
using duet::testing::launch;

struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Probe — what a test machine reports about itself. Allocation-free, so it can be used inside an
// AllocScope (the optional EventLog allocates; leave it null there).
struct Probe {
  std::atomic<int> move_next_calls{0};
  std::atomic<int> after_await{0};  // how many times the code after the await ran
  int suspended_at[8] = {};         // the state number of each suspension, in order
  int suspensions = 0;
  std::thread::id resumed_on;
  EventLog* log = nullptr;
  void event(const char* e) {
    if (log) log->add(e);
  }
  void suspend(int state) { suspended_at[suspensions++] = state; }
  std::vector<int> states() const { return {suspended_at, suspended_at + suspensions}; }
};

// ---------------------------------------------------------------------------------------------
// NumberedMachine — `async Task<int> AddOneAsync(Task<int> input)`, Roslyn shape with the awaiter
// passed as a *local copy* (as Roslyn does), stored in a field across the suspension.
//
//   log("2. ..."); int v = await input; log("4. ..."); return v + 1;
// ---------------------------------------------------------------------------------------------
struct NumberedMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Task<int> input_;           // parameter
  Probe* probe_ = nullptr;    // parameter
  TaskAwaiter<int> awaiter_{};  // <>u__1

  void move_next() {
    probe_->move_next_calls.fetch_add(1);
    int num = state_;
    int result = 0;
    try {
      TaskAwaiter<int> awaiter;
      if (num != 0) {
        probe_->event("2. method runs synchronously up to its first await");
        awaiter = duet::get_awaiter(input_);
        if (!awaiter.is_completed()) {
          num = state_ = 0;
          probe_->suspend(0);
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = TaskAwaiter<int>();
        num = state_ = -1;
        probe_->resumed_on = std::this_thread::get_id();
      }
      const int v = awaiter.get_result();
      probe_->after_await.fetch_add(1);
      probe_->event("4. continuation after the await");
      result = v + 1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

using BuilderTest = DuetTest;

// The state field of a hand-written machine (the behaviour of the method itself is in
// tests/semantic/test_method_core.cpp): 0 while suspended at await 0, -2 once it ran to its end
// inside start().
TEST_F(BuilderTest, StateFieldIsTheSuspendedAwaitOrDone) {
  Probe probe;
  TaskCompletionSource<int> tcs;
  NumberedMachine suspended{.input_ = tcs.task(), .probe_ = &probe};
  Task<int> t = launch(suspended);
  EXPECT_EQ(suspended.state_, 0) << "the suspended machine is at await 0";
  tcs.set_result(1);
  EXPECT_EQ(t.result(), 2);
  NumberedMachine done{.input_ = duet::from_result(1), .probe_ = &probe};
  Task<int> t2 = launch(done);
  EXPECT_EQ(done.state_, -2) << "the machine ran to its end inside start()";
  EXPECT_EQ(t2.result(), 2);
}

// ---------------------------------------------------------------------------------------------
// SumMachine<R> — `async Task<R> SumAsync(Task<int> a, Task<int> b, Task<int> c)`: three awaits
// (states 0, 1, 2), a hoisted local (sum_), and the awaiter handed to the builder as the *field*
// itself, so the builder must register on the boxed copy. R = void returns nothing.
// ---------------------------------------------------------------------------------------------
template <class R>
struct SumMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<R> builder_{};
  Task<int> a_, b_, c_;       // parameters
  Probe* probe_ = nullptr;    // parameter
  int sum_ = 0;               // hoisted local
  TaskAwaiter<int> awaiter_{};  // <>u__1

  // suspend(n) — the suspension step of await n, on the awaiter field.
  void suspend(int n) {
    state_ = n;
    probe_->suspend(n);
    builder_.await_unsafe_on_completed(awaiter_, *this);
  }

  void move_next() {
    probe_->move_next_calls.fetch_add(1);
    try {
      switch (state_) {
        case 0: state_ = -1; goto resume0;
        case 1: state_ = -1; goto resume1;
        case 2: state_ = -1; goto resume2;
        default: break;
      }
      awaiter_ = duet::get_awaiter(a_);
      if (!awaiter_.is_completed()) return suspend(0);
    resume0:
      sum_ += awaiter_.get_result();
      awaiter_ = duet::get_awaiter(b_);
      if (!awaiter_.is_completed()) return suspend(1);
    resume1:
      sum_ += awaiter_.get_result();
      awaiter_ = duet::get_awaiter(c_);
      if (!awaiter_.is_completed()) return suspend(2);
    resume2:
      sum_ += awaiter_.get_result();
      awaiter_ = TaskAwaiter<int>();
      probe_->after_await.fetch_add(1);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    if constexpr (std::is_void_v<R>) {
      builder_.set_result();
    } else {
      builder_.set_result(sum_);
    }
  }
};

// Roslyn's numbering of the state field: await n suspends with state_ == n.
TEST_F(BuilderTest, MultipleAwaitsAreNumberedZeroOneTwo) {
  TaskCompletionSource<int> a, b, c;
  Probe probe;
  SumMachine<int> sm{.a_ = a.task(), .b_ = b.task(), .c_ = c.task(), .probe_ = &probe};
  Task<int> t = launch(sm);
  EXPECT_EQ(sm.state_, 0);
  a.set_result(1);
  EXPECT_EQ(probe.states(), (std::vector<int>{0, 1}));
  b.set_result(10);
  EXPECT_EQ(probe.states(), (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(t.is_completed());
  c.set_result(100);
  EXPECT_EQ(t.result(), 111) << "the hoisted local survived both suspensions";
  EXPECT_EQ(probe.move_next_calls.load(), 4);
  EXPECT_EQ(probe.after_await.load(), 1);
}

// ---------------------------------------------------------------------------------------------
// Allocations: the fast path is free, a suspension is one box.
// ---------------------------------------------------------------------------------------------

TEST_F(BuilderTest, TaskVoidMethodOverCompletedAwaitsAllocatesNothing) {
  TaskCompletionSource<int> ready;
  ready.set_result(3);
  Task<int> a = duet::from_result(1);
  Task<int> b = ready.task();
  Probe probe;
  Task<> t;
  {
    AllocScope scope;
    t = launch(SumMachine<void>{.a_ = a, .b_ = b, .c_ = a, .probe_ = &probe});
    const auto allocations = scope.allocations();
    EXPECT_EQ(allocations, 0u) << "a Task<> method that never suspends allocates nothing";
  }
  EXPECT_EQ(probe.move_next_calls.load(), 1);
  EXPECT_EQ(probe.suspensions, 0);
  EXPECT_TRUE(t == duet::completed_task()) << "it completes to the shared completed task";
}

TEST_F(BuilderTest, TaskIntMethodOverCompletedAwaitsAllocatesOnlyItsResultState) {
  // What synchronous completion of a Task<T> method costs: one allocation, the bare
  // TaskState<T> holding the result — no box, no machine copy.
  Task<int> a = duet::from_result(1);
  Probe probe;
  Task<int> t;
  {
    AllocScope scope;
    t = launch(SumMachine<int>{.a_ = a, .b_ = a, .c_ = a, .probe_ = &probe});
    const auto allocations = scope.allocations();
    const auto bytes = scope.bytes();
    EXPECT_EQ(allocations, 1u);
    EXPECT_EQ(bytes, sizeof(duet::detail::TaskState<int>));
  }
  EXPECT_EQ(probe.move_next_calls.load(), 1);
  EXPECT_EQ(t.result(), 3);
}

// The box of a suspended Task<int> method with one awaiter fits 128 bytes (issue 15 item 4).
// The parts, so that a regression names the part that grew: TaskState<int> keeps its int in
// TaskStateBase's tail padding; the builder and the awaiter are one word each (flags packed into
// the pointer); the box carries no IAsyncStateMachine vtable pointer.
static_assert(sizeof(duet::detail::TaskState<int>) == 40, "TaskState<int>: int in the tail padding");
static_assert(sizeof(AsyncTaskMethodBuilder<int>) == sizeof(void*), "a builder is one word");
static_assert(sizeof(TaskAwaiter<int>) == sizeof(void*), "a TaskAwaiter is one word");
static_assert(sizeof(duet::testing::SuspendOnceMachine) == 32, "int state + builder + task + awaiter");
static_assert(sizeof(duet::testing::SuspendOnceBox) <= 128,
              "the box of a suspended Task<int> method with one awaiter fits 128 bytes");
static_assert(sizeof(duet::testing::SuspendOnceBox) ==
                  sizeof(duet::detail::TaskState<int>) + sizeof(duet::Continuation) +
                      sizeof(duet::testing::SuspendOnceMachine),
              "the box is its three parts and no padding or extra pointer");

TEST_F(BuilderTest, ASuspendOnceCallAllocatesOneBoxOfAtMost128Bytes) {
  TaskCompletionSource<int> tcs;  // created first: its state is not the method's cost
  Task<int> t;
  {
    AllocScope scope;
    duet::testing::SuspendOnceMachine sm{.state_ = -1, .builder_ = {}, .source_ = tcs.task(), .awaiter_ = {}};
    sm.builder_.start(sm);
    t = sm.builder_.task();
    EXPECT_FALSE(t.is_completed());
    tcs.set_result(41);
    EXPECT_EQ(scope.allocations(), 1u);
    EXPECT_EQ(scope.bytes(), sizeof(duet::testing::SuspendOnceBox));
    EXPECT_LE(scope.bytes(), 128u);
  }
  EXPECT_EQ(t.result(), 42);
}

TEST_F(BuilderTest, ACallThatSuspendsOnceAllocatesExactlyOneBox) {
  TaskCompletionSource<int> tcs;  // created first: its state is not the method's cost
  Task<int> ready = duet::from_result(0);
  Probe probe;
  Task<int> t;
  {
    AllocScope scope;
    t = launch(SumMachine<int>{.a_ = tcs.task(), .b_ = ready, .c_ = ready, .probe_ = &probe});
    tcs.set_result(5);
    const auto allocations = scope.allocations();
    const auto bytes = scope.bytes();
    EXPECT_EQ(allocations, 1u) << "box = task state + continuation + machine, one allocation";
    EXPECT_GE(bytes, sizeof(SumMachine<int>) + sizeof(duet::detail::TaskState<int>));
  }
  EXPECT_EQ(t.result(), 5);
  EXPECT_EQ(probe.states(), (std::vector<int>{0}));
}

TEST_F(BuilderTest, AVoidCallThatSuspendsOnceAllocatesExactlyOneBox) {
  TaskCompletionSource<int> tcs;
  Task<int> ready = duet::from_result(0);
  Probe probe;
  Task<> t;
  {
    AllocScope scope;
    t = launch(SumMachine<void>{.a_ = ready, .b_ = tcs.task(), .c_ = ready, .probe_ = &probe});
    tcs.set_result(5);
    const auto allocations = scope.allocations();
    EXPECT_EQ(allocations, 1u);
  }
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_FALSE(t == duet::completed_task()) << "a suspended method completes its own box";
  EXPECT_EQ(probe.states(), (std::vector<int>{1}));
}

TEST_F(BuilderTest, SuspendingThreeTimesStillAllocatesOneBox) {
  TaskCompletionSource<int> a, b, c;
  Probe probe;
  AllocScope scope;
  Task<int> t = launch(SumMachine<int>{.a_ = a.task(), .b_ = b.task(), .c_ = c.task(), .probe_ = &probe});
  a.set_result(1);
  b.set_result(2);
  c.set_result(3);
  const auto allocations = scope.allocations();
  EXPECT_EQ(allocations, 1u);
  EXPECT_EQ(t.result(), 6);
}

// ---------------------------------------------------------------------------------------------
// Exceptions and cancellation
// ---------------------------------------------------------------------------------------------

// ThrowingMachine — Roslyn shape; throws `error_` before or after its one await. The catch
// routes it to set_exception.
template <class R>
struct ThrowingMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<R> builder_{};
  Task<int> input_;
  std::exception_ptr error_;
  bool before_ = false;
  TaskAwaiter<int> awaiter_{};

  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
      } else {
        if (before_) std::rethrow_exception(error_);
        awaiter_ = duet::get_awaiter(input_);
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      (void)awaiter_.get_result();
      std::rethrow_exception(error_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

// EscapingMachine — no try/catch: the exception leaves move_next(), and the builder (start()
// before the first suspension, the box after it) must fault the task.
template <class R>
struct EscapingMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<R> builder_{};
  Task<int> input_;
  std::exception_ptr error_;
  bool before_ = false;
  TaskAwaiter<int> awaiter_{};

  void move_next() {
    if (state_ == 0) {
      state_ = -1;
    } else {
      if (before_) std::rethrow_exception(error_);
      awaiter_ = duet::get_awaiter(input_);
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    }
    (void)awaiter_.get_result();
    std::rethrow_exception(error_);
  }
};

template <template <class> class Machine, class R>
Task<R> run_throwing(bool before, std::exception_ptr error) {
  TaskCompletionSource<int> tcs;
  Task<R> t = launch(Machine<R>{.input_ = tcs.task(), .error_ = error, .before_ = before});
  if (before) {
    EXPECT_TRUE(t.is_completed()) << "threw before its first await: completed inside start()";
  } else {
    EXPECT_FALSE(t.is_completed());
  }
  tcs.try_set_result(0);
  EXPECT_TRUE(t.is_completed());
  return t;
}

template <template <class> class Machine>
void expect_faults_before_and_after() {
  for (bool before : {true, false}) {
    SCOPED_TRACE(before ? "thrown before the first await" : "thrown after the first await");
    const std::string msg = before ? "boom before" : "boom after";
    auto error = std::make_exception_ptr(CustomError(msg));
    Task<int> ti = run_throwing<Machine, int>(before, error);
    EXPECT_EQ(ti.status(), TaskStatus::faulted);
    expect_rethrows<CustomError>([&] { (void)ti.result(); }, msg);
    expect_rethrows<CustomError>([&] { ti.wait(); }, msg);
    Task<> tv = run_throwing<Machine, void>(before, error);
    EXPECT_EQ(tv.status(), TaskStatus::faulted);
    expect_rethrows<CustomError>([&] { tv.wait(); }, msg);

    auto cancel = std::make_exception_ptr(OperationCanceledError(msg + " (canceled)"));
    Task<int> ci = run_throwing<Machine, int>(before, cancel);
    EXPECT_EQ(ci.status(), TaskStatus::canceled);
    expect_rethrows<OperationCanceledError>([&] { (void)ci.result(); }, msg + " (canceled)");
    Task<> cv = run_throwing<Machine, void>(before, cancel);
    EXPECT_EQ(cv.status(), TaskStatus::canceled);
  }
}

TEST_F(BuilderTest, ExceptionEscapingMoveNextFaultsBeforeAndAfterTheFirstAwait) {
  expect_faults_before_and_after<EscapingMachine>();
}

// ---------------------------------------------------------------------------------------------
// One task, many awaiting machines
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The awaiter handed to the builder: a field (relocated into the box) or a local copy
// ---------------------------------------------------------------------------------------------

using Manual = duet::testing::ManualAwaitable<int>;

struct FieldAwaiterMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Manual* source_ = nullptr;
  bool safe_ = false;  // await_on_completed instead of await_unsafe_on_completed
  const void** field_address_on_resume_ = nullptr;
  Manual::Awaiter awaiter_{nullptr};

  void move_next() {
    if (state_ != 0) {
      awaiter_ = source_->get_awaiter();
      state_ = 0;
      if (safe_) {
        builder_.await_on_completed(awaiter_, *this);
      } else {
        builder_.await_unsafe_on_completed(awaiter_, *this);
      }
      return;
    }
    state_ = -1;
    *field_address_on_resume_ = awaiter_.address();
    const int v = awaiter_.get_result();
    state_ = -2;
    builder_.set_result(v);
  }
};

TEST_F(BuilderTest, AwaiterStoredAsAFieldIsRegisteredFromItsBoxedCopy) {
  for (bool safe : {false, true}) {
    Manual source;
    const void* field_on_resume = nullptr;
    FieldAwaiterMachine sm{.source_ = &source, .safe_ = safe, .field_address_on_resume_ = &field_on_resume};
    Task<int> t = launch(sm);
    ASSERT_TRUE(source.has_waiter());
    EXPECT_NE(source.registered_by(), sm.awaiter_.address())
        << "registered on the moved-from original instead of the boxed machine's field";
    EXPECT_EQ(source.safe_registrations(), safe ? 1 : 0);
    EXPECT_EQ(source.unsafe_registrations(), safe ? 0 : 1);
    source.complete(8);
    EXPECT_EQ(t.result(), 8);
    EXPECT_EQ(field_on_resume, source.registered_by())
        << "the awaiter that registered is the field the resumed machine reads";
  }
}

struct LocalAwaiterMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Manual* source_ = nullptr;
  const void** local_address_ = nullptr;
  Manual::Awaiter awaiter_{nullptr};

  void move_next() {
    if (state_ != 0) {
      Manual::Awaiter local = source_->get_awaiter();  // Roslyn: a local, copied to the field
      state_ = 0;
      awaiter_ = local;
      *local_address_ = local.address();
      builder_.await_unsafe_on_completed(local, *this);
      return;
    }
    state_ = -1;
    Manual::Awaiter local = awaiter_;
    awaiter_ = Manual::Awaiter(nullptr);
    const int v = local.get_result();
    state_ = -2;
    builder_.set_result(v);
  }
};

TEST_F(BuilderTest, AwaiterPassedAsALocalCopyIsRegisteredAsIs) {
  Manual source;
  const void* local_address = nullptr;
  Task<int> t = launch(LocalAwaiterMachine{.source_ = &source, .local_address_ = &local_address});
  ASSERT_TRUE(source.has_waiter());
  EXPECT_EQ(source.registered_by(), local_address) << "a local is not part of the machine";
  source.complete(13);
  EXPECT_EQ(t.result(), 13);
}

// ---------------------------------------------------------------------------------------------
// Builder contract
// ---------------------------------------------------------------------------------------------

TEST_F(BuilderTest, TaskBeforeStartThrowsInvalidOperation) {
  AsyncTaskMethodBuilder<int> b = AsyncTaskMethodBuilder<int>::create();
  EXPECT_THROW((void)b.task(), InvalidOperationError);
  AsyncTaskMethodBuilder<> v;
  try {
    (void)v.task();
    ADD_FAILURE() << "task() before start() returned";
  } catch (const InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("start"), std::string::npos) << e.what();
  }
}

// Once the method suspended, task() hands the starter's reference to the box to the Task it
// returns, so the starter's builder gives that task once; the Task keeps the box alive on its own.
// A method that completed without suspending keeps .NET's rule (task() may be read again).
TEST_F(BuilderTest, TaskTwiceAfterASuspensionThrowsAndTheFirstTaskOwnsTheBox) {
  TaskCompletionSource<int> tcs;
  Task<int> t;
  {
    duet::testing::SuspendOnceMachine sm{.state_ = -1, .builder_ = {}, .source_ = tcs.task(), .awaiter_ = {}};
    sm.builder_.start(sm);
    t = sm.builder_.task();
    try {
      (void)sm.builder_.task();
      ADD_FAILURE() << "a second task() returned";
    } catch (const InvalidOperationError& e) {
      EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
    }
  }  // the starter's builder is gone; `t` alone holds the caller's side
  EXPECT_FALSE(t.is_completed());
  tcs.set_result(41);
  EXPECT_EQ(t.result(), 42);

  // A method that completed without suspending: task() may be read again, each Task owning a
  // reference of its own (the temporaries below are gone before the next read).
  Task<int> done;
  {
    duet::testing::SuspendOnceMachine sm{.state_ = -1, .builder_ = {}, .source_ = duet::from_result(1), .awaiter_ = {}};
    sm.builder_.start(sm);
    EXPECT_EQ(sm.builder_.task().result(), 2);
    EXPECT_EQ(sm.builder_.task().result(), 2);
    done = sm.builder_.task();
  }
  EXPECT_EQ(done.result(), 2);

  // Task<>: the shared completed task is borrowed, not handed over: task() may be read again.
  AsyncTaskMethodBuilder<> v;
  struct Nop {
    void move_next() {}
  } nop;
  v.start(nop);
  v.set_result();
  EXPECT_TRUE(v.task().is_completed());
  EXPECT_TRUE(v.task().is_completed());
}

static_assert(duet::AsyncStateMachine<NumberedMachine>);
static_assert(duet::AsyncStateMachine<SumMachine<void>>);
static_assert(!duet::AsyncStateMachine<int>);
struct NoMoveNext {
  int state_ = -1;
};
static_assert(!duet::AsyncStateMachine<NoMoveNext>);

// A machine may implement IAsyncStateMachine as Roslyn's do; set_state_machine is accepted.
struct InterfaceMachine final : duet::IAsyncStateMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Task<int> input_;
  TaskAwaiter<int> awaiter_{};

  InterfaceMachine() = default;
  InterfaceMachine(InterfaceMachine&&) = default;
  void move_next() override {
    if (state_ != 0) {
      builder_.set_state_machine(*this);
      awaiter_ = duet::get_awaiter(input_);
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    }
    state_ = -2;
    builder_.set_result(awaiter_.get_result() * 2);
  }
  void set_state_machine(duet::IAsyncStateMachine&) override {}
};

TEST_F(BuilderTest, MachineImplementingIAsyncStateMachineWorks) {
  TaskCompletionSource<int> tcs;
  InterfaceMachine sm;
  sm.input_ = tcs.task();
  Task<int> t = launch(sm);
  tcs.set_result(21);
  EXPECT_EQ(t.result(), 42);
}

struct ContextChangingMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<> builder_{};
  duet::SynchronizationContext* install_ = nullptr;
  void move_next() {
    duet::SynchronizationContext::set_current(install_);
    state_ = -2;
    builder_.set_result();
  }
};

struct alignas(64) OverAlignedMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<> builder_{};
  Task<int> input_;
  std::uintptr_t* address_on_resume_ = nullptr;
  TaskAwaiter<int> awaiter_{};
  void move_next() {
    if (state_ != 0) {
      awaiter_ = duet::get_awaiter(input_);
      state_ = 0;
      builder_.await_unsafe_on_completed(awaiter_, *this);
      return;
    }
    *address_on_resume_ = reinterpret_cast<std::uintptr_t>(this);
    state_ = -2;
    builder_.set_result();
  }
};

TEST_F(BuilderTest, OverAlignedMachineIsBoxedAtItsAlignment) {
  TaskCompletionSource<int> tcs;
  std::uintptr_t address = 1;
  Task<> t = launch(OverAlignedMachine{.input_ = tcs.task(), .address_on_resume_ = &address});
  tcs.set_result(0);
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(address % 64, 0u);
}

// ---------------------------------------------------------------------------------------------
// Composition and threads
// ---------------------------------------------------------------------------------------------

// OuterMachine — `async Task<int> OuterAsync(Task<int> x) { return await AddOneAsync(x) * 10; }`
struct OuterMachine {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Task<int> input_;
  Probe* inner_probe_ = nullptr;
  EventLog* log_ = nullptr;
  TaskAwaiter<int> awaiter_{};
  void move_next() {
    int result = 0;
    try {
      if (state_ != 0) {
        log_->add("outer starts");
        awaiter_ = duet::get_awaiter(launch(NumberedMachine{.input_ = input_, .probe_ = inner_probe_}));
        if (!awaiter_.is_completed()) {
          log_->add("outer suspends");
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      result = awaiter_.get_result() * 10;
      log_->add("outer resumes");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

// ---------------------------------------------------------------------------------------------
// Stress: thousands of machines, completions racing registrations from several threads
// ---------------------------------------------------------------------------------------------

}  // namespace
