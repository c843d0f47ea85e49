// tests/dsl/test_dsl.cpp — what is particular to the DSL: labels, awaiter storage, allocation
// counts, hand-written machine fields, awaited expressions, and run-time misuse reports. What DSL
// methods do (the same as every style, try statements included) is tested in tests/semantic.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "alloc_counter.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::testing::AllocScope;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
std::string what_of(const Task<T>& t) {
  try {
    t.wait();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// ---- labels -------------------------------------------------------------------------------------

struct ThreeOnOneLine : duet::AsyncMethod<ThreeOnOneLine, int> {
  Task<int> a_, b_, c_;
  int x_ = 0, y_ = 0, z_ = 0;
  ThreeOnOneLine(Task<int> a, Task<int> b, Task<int> c) : a_(std::move(a)), b_(std::move(b)), c_(std::move(c)) {}
  void move_next() {
    DUET_BEGIN
      // clang-format off
      DUET_AWAIT_INTO(x_, a_); DUET_AWAIT_INTO(y_, b_); DUET_AWAIT_INTO(z_, c_);
      // clang-format on
      DUET_RETURN(x_ * 100 + y_ * 10 + z_);
    DUET_END
  }
};

TEST(DslLabels, ThreeAwaitsOnOneLineResumeAtTheirOwnLabel) {
  TaskCompletionSource<int> a, b, c;
  Task<int> t = duet::start<ThreeOnOneLine>(a.task(), b.task(), c.task());
  a.set_result(1);
  b.set_result(2);
  EXPECT_FALSE(t.is_completed());
  c.set_result(3);
  EXPECT_EQ(t.result(), 123);
}

// ---- allocations ------------------------------------------------------------------------------------

struct AwaitVoid : duet::AsyncMethod<AwaitVoid> {
  Task<> a_;
  explicit AwaitVoid(Task<> a) : a_(std::move(a)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(a_);
      DUET_AWAIT(a_);
    DUET_END
  }
};

TEST(DslAllocations, CompletedPathAllocatesNothing) {
  Task<> done = duet::completed_task();
  AllocScope scope;
  Task<> t = duet::start<AwaitVoid>(done);
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(scope.allocations(), 0u);
}

TEST(DslAllocations, SuspendedCallAllocatesOneBox) {
  TaskCompletionSource<> tcs;
  Task<> input = tcs.task();
  std::uint64_t at_suspension = 0;
  {
    AllocScope scope;
    Task<> t = duet::start<AwaitVoid>(input);
    at_suspension = scope.allocations();
    tcs.set_result();  // resumes inline; the second await completes synchronously
    EXPECT_TRUE(t.is_completed_successfully());
    EXPECT_EQ(scope.allocations(), 1u);
  }
  EXPECT_EQ(at_suspension, 1u);
}

// ---- awaiter storage ------------------------------------------------------------------------------

// Counted — an awaitable whose awaiters count how many are alive and how they were moved.
struct Counted {
  static inline std::atomic<int> alive{0};
  Task<int> task;
  bool fail_in_get_result = false;
  struct Awaiter {
    duet::TaskAwaiter<int> inner;
    bool fail = false;
    Awaiter(duet::TaskAwaiter<int> i, bool f) : inner(std::move(i)), fail(f) { ++alive; }
    Awaiter(Awaiter&& o) noexcept : inner(std::move(o.inner)), fail(o.fail) { ++alive; }
    Awaiter& operator=(Awaiter&&) = delete;
    ~Awaiter() { --alive; }
    bool is_completed() const { return inner.is_completed(); }
    void on_completed(duet::Continuation& c) { inner.on_completed(c); }
    void unsafe_on_completed(duet::Continuation& c) { inner.unsafe_on_completed(c); }
    int get_result() {
      int v = inner.get_result();
      if (fail) throw TestError("get_result failed");
      return v;
    }
  };
  Awaiter get_awaiter() const { return Awaiter(task.get_awaiter(), fail_in_get_result); }
};

struct AwaitCounted : duet::AsyncMethod<AwaitCounted, int> {
  Counted c_;
  int v_ = 0;
  bool stored_while_suspended_ = false;
  explicit AwaitCounted(Counted c) : c_(std::move(c)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(v_, c_);
      DUET_RETURN(v_ + 1);
    DUET_END
  }
};

TEST(DslAwaiterStorage, StoredAwaiterIsRelocatedIntoTheBoxAndDestroyedOnResume) {
  TaskCompletionSource<int> tcs;
  ASSERT_EQ(Counted::alive.load(), 0);
  Task<int> t = duet::start<AwaitCounted>(Counted{tcs.task()});
  EXPECT_EQ(Counted::alive.load(), 1);  // exactly one awaiter: the one in the boxed machine
  tcs.set_result(4);
  EXPECT_EQ(Counted::alive.load(), 0);
  EXPECT_EQ(t.result(), 5);
}

TEST(DslAwaiterStorage, StoredAwaiterIsDestroyedWhenGetResultThrows) {
  TaskCompletionSource<int> tcs;
  Task<int> t = duet::start<AwaitCounted>(Counted{tcs.task(), true});
  EXPECT_EQ(Counted::alive.load(), 1);
  tcs.set_result(4);
  EXPECT_EQ(Counted::alive.load(), 0);
  EXPECT_EQ(what_of(t), "get_result failed");
}

TEST(DslAwaiterStorage, CompletedAwaitNeverTouchesTheSlot) {
  Task<int> t = duet::start<AwaitCounted>(Counted{duet::from_result(1)});
  EXPECT_EQ(Counted::alive.load(), 0);
  EXPECT_EQ(t.result(), 2);
}

// Layout (docs/design.md): the slot is pointer-aligned, so a DSL machine and its box carry no
// 16-byte alignment padding; a try frame is 16 bytes.
static_assert(alignof(duet::AwaiterStorage<>) == alignof(void*));
static_assert(sizeof(duet::AwaiterStorage<>) == 48 + sizeof(void*));
static_assert(sizeof(duet::detail::DslTryFrame) == 16);

TEST(DslAwaiterStorage, SlotHoldsAnyAwaiterAndReportsOccupancy) {
  duet::AwaiterStorage<> slot;
  EXPECT_FALSE(slot.has_value());
  slot.emplace(duet::from_result(3).get_awaiter());
  EXPECT_TRUE(slot.has_value());
  duet::AwaiterStorage<> moved(std::move(slot));
  EXPECT_FALSE(slot.has_value());
  EXPECT_TRUE(moved.has_value());
  EXPECT_EQ(moved.get<duet::TaskAwaiter<int>>().get_result(), 3);
  moved.reset<duet::TaskAwaiter<int>>();
  EXPECT_FALSE(moved.has_value());
}

// ---- the explicit style's struct, driven by the DSL ---------------------------------------------------

// No AsyncMethod base: the fields an explicit machine has, with one typed awaiter field.
struct HandWritten {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_{};
  Task<int> a_{}, b_{};
  int x_ = 0, y_ = 0;
  duet::TaskAwaiter<int> awaiter_{};
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_AWAIT_INTO(y_, b_);
      DUET_RETURN(x_ - y_);
    DUET_END
  }
};

TEST(DslMachines, HandWrittenStructWithTypedAwaiterField) {
  TaskCompletionSource<int> a, b;
  Task<int> t = duet::start<HandWritten>(HandWritten{.a_ = a.task(), .b_ = b.task()});
  a.set_result(10);
  b.set_result(3);
  EXPECT_EQ(t.result(), 7);
}

struct Aggregate : duet::AsyncMethod<Aggregate, int> {
  int base_ = 0;
  Task<int> a_{};
  int x_ = 0;
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_RETURN(base_ + x_);
    DUET_END
  }
};

TEST(DslMachines, StartBuildsAnAggregateMachine) {
  Task<int> t = duet::start<Aggregate>(100, duet::from_result(5));
  EXPECT_EQ(t.result(), 105);
}

// A user type made awaitable through ADL, and configure_await(false).
namespace user {
struct Seconds {
  int n;
};
inline duet::TaskAwaiter<int> get_awaiter(Seconds s) { return duet::from_result(s.n * 1000).get_awaiter(); }
}  // namespace user

template <class T, int N>
Task<T> pick() {
  return duet::from_result(T(N));
}

struct AwaitCustom : duet::AsyncMethod<AwaitCustom, int> {
  int ms_ = 0, v_ = 0, w_ = 0;
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(ms_, user::Seconds{2});
      DUET_AWAIT_INTO(v_, duet::configure_await(duet::from_result(1), false));
      DUET_AWAIT_INTO(w_, pick<int, 10>());  // a top-level comma inside the awaited expression
      DUET_RETURN(ms_ + v_ + w_);
    DUET_END
  }
};

TEST(DslAwaitables, AdlAwaitableAndConfigureAwait) {
  EXPECT_EQ(duet::start<AwaitCustom>().result(), 2011);
}

// ---- run-time misuse ---------------------------------------------------------------------------------

struct BreakOutOfTry : duet::AsyncMethod<BreakOutOfTry, int> {
  int i_ = 0;
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < 3; ++i_) {
        DUET_TRY
          if (i_ == 1) break;  // would skip the rest of the try statement
        DUET_FINALLY
        DUET_END_TRY
      }
      DUET_RETURN(i_);
    DUET_END
  }
};

TEST(DslMisuse, BreakOutOfATryBlockFaultsTheTask) {
  Task<int> t = duet::start<BreakOutOfTry>();
  ASSERT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), duet::InvalidOperationError);
  EXPECT_NE(what_of(t).find("break or continue left a DUET_TRY block"), std::string::npos) << what_of(t);
}

struct ContinueOutOfCatch : duet::AsyncMethod<ContinueOutOfCatch> {
  int i_ = 0;
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < 3; ++i_) {
        DUET_TRY
          throw TestError("x");
        DUET_CATCH(const TestError&, e)
          continue;
        DUET_END_TRY
      }
    DUET_END
  }
};

TEST(DslMisuse, ContinueOutOfACatchBlockFaultsTheTask) {
  Task<> t = duet::start<ContinueOutOfCatch>();
  EXPECT_NE(what_of(t).find("break or continue left a DUET_CATCH block"), std::string::npos) << what_of(t);
}

struct FallsOffTheEnd : duet::AsyncMethod<FallsOffTheEnd, int> {
  bool early_ = false;
  void move_next() {
    DUET_BEGIN
      if (early_) DUET_RETURN(1);
    DUET_END
  }
};

TEST(DslMisuse, FallingOffTheEndOfATaskOfTFaults) {
  Task<int> t = duet::start<FallsOffTheEnd>(FallsOffTheEnd{});
  EXPECT_NE(what_of(t).find("without DUET_RETURN(value)"), std::string::npos) << what_of(t);
  FallsOffTheEnd m;
  m.early_ = true;
  EXPECT_EQ(duet::start<FallsOffTheEnd>(std::move(m)).result(), 1);
}

struct BreakAtTopLevel : duet::AsyncMethod<BreakAtTopLevel> {
  void move_next() {
    DUET_BEGIN
      break;
    DUET_END
  }
};

TEST(DslMisuse, BreakOutOfTheMethodBodyFaults) {
  Task<> t = duet::start<BreakAtTopLevel>();
  EXPECT_NE(what_of(t).find("left a DUET_BEGIN block"), std::string::npos) << what_of(t);
}

// ---- a plain `return` cannot hang the task (DslExitGuard) ----------------------------------------

bool names_the_fix(const std::string& what) {
  return what.find("plain C++ `return`") != std::string::npos &&
         what.find("use DUET_RETURN") != std::string::npos;
}

// PlainReturn — `return;` where DUET_RETURN belongs, at the place `where_` selects:
// 0 the body before any await, 1 the body after a suspension (running in the box),
// 2 a try body, 3 a catch block, 4 a finally block (after an await in it).
struct PlainReturn : duet::AsyncMethod<PlainReturn, int> {
  int where_;
  Task<> gate_;
  std::string* log_;
  PlainReturn(int where, Task<> gate, std::string* log) : where_(where), gate_(std::move(gate)), log_(log) {}
  void move_next() {
    DUET_BEGIN
      if (where_ == 0) return;
      DUET_AWAIT(gate_);
      if (where_ == 1) return;
      DUET_TRY
        if (where_ == 2) return;
        if (where_ == 3) throw TestError("to the catch block");
      DUET_CATCH(const TestError&, e)
        if (where_ == 3) return;
      DUET_FINALLY
        DUET_AWAIT(gate_);
        if (where_ == 4) return;
        *log_ += "finally ";
      DUET_END_TRY
      *log_ += "end";
      DUET_RETURN(7);
    DUET_END
  }
};

TEST(DslMisuse, PlainReturnBeforeAnyAwaitFaultsTheTask) {
  std::string log;
  Task<int> t = duet::start<PlainReturn>(0, duet::completed_task(), &log);
  ASSERT_TRUE(t.is_faulted());
  EXPECT_THROW(t.wait(), duet::InvalidOperationError);
  EXPECT_TRUE(names_the_fix(what_of(t))) << what_of(t);
}

TEST(DslMisuse, PlainReturnAfterASuspensionFaultsTheBoxedTask) {
  std::string log;
  TaskCompletionSource<> gate;
  Task<int> t = duet::start<PlainReturn>(1, gate.task(), &log);
  EXPECT_EQ(t.status(), duet::TaskStatus::pending);
  gate.set_result();  // resumes inline in the box, which then hits the plain return
  ASSERT_TRUE(t.is_faulted());
  EXPECT_TRUE(names_the_fix(what_of(t))) << what_of(t);
}

TEST(DslMisuse, PlainReturnInsideTryCatchOrFinallyFaultsTheTask) {
  for (int where : {2, 3, 4}) {
    std::string log;
    TaskCompletionSource<> gate;
    Task<int> t = duet::start<PlainReturn>(where, gate.task(), &log);
    gate.set_result();
    ASSERT_TRUE(t.is_completed()) << "where " << where;
    EXPECT_TRUE(t.is_faulted()) << "where " << where;
    EXPECT_TRUE(names_the_fix(what_of(t))) << "where " << where << ": " << what_of(t);
    EXPECT_EQ(log, "") << "where " << where;  // the plain return skipped the rest
  }
}

TEST(DslMisuse, GuardLeavesCorrectExitsAlone) {
  std::string log;
  TaskCompletionSource<> gate;
  Task<int> t = duet::start<PlainReturn>(5, gate.task(), &log);  // no plain return taken
  gate.set_result();
  EXPECT_EQ(t.result(), 7);
  EXPECT_EQ(log, "finally end");
}

struct PlainReturnVoid : duet::AsyncMethod<PlainReturnVoid> {
  void move_next() {
    DUET_BEGIN
      return;
    DUET_END
  }
};

TEST(DslMisuse, PlainReturnInATaskOfVoidFaultsToo) {
  // A plain `return` in a Task<> method is the easiest slip of all (it compiles everywhere).
  Task<> t = duet::start<PlainReturnVoid>();
  ASSERT_TRUE(t.is_faulted());
  EXPECT_TRUE(names_the_fix(what_of(t))) << what_of(t);
}

// Completing by hand (explicit style inside a DSL body) is not a hang: the guard stays quiet.
struct CompletesByHand : duet::AsyncMethod<CompletesByHand, int> {
  void move_next() {
    DUET_BEGIN
      state_ = -2;
      builder_.set_result(3);
      return;
    DUET_END
  }
};

TEST(DslMisuse, GuardAcceptsAMethodThatCompletedItsTaskByHand) {
  EXPECT_EQ(duet::start<CompletesByHand>().result(), 3);
}

}  // namespace
