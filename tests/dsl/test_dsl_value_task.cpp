// tests/dsl/test_dsl_value_task.cpp — DSL methods that return ValueTask<T> (through
// AsyncValueTaskMethodBuilder and PoolingAsyncValueTaskMethodBuilder, selected with
// duet::AsyncValueTaskMethod / duet::PoolingAsyncValueTaskMethod) and DSL methods that await
// ValueTasks: the exit guard and the allocation counts the builders promise. The behaviour shared with every style is in
// tests/semantic/test_value_task_methods.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "alloc_counter.hpp"

namespace {

using duet::Task;
using duet::ValueTask;
using duet::testing::AllocScope;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Gate — an awaitable that never completes up front; open() resumes the one waiter inline on
// the calling thread. Awaiting it allocates nothing. Single-threaded.
class Gate {
 public:
  class Awaiter {
   public:
    explicit Awaiter(Gate* g) noexcept : g_(g) {}
    bool is_completed() const noexcept { return false; }
    void on_completed(duet::Continuation& c) noexcept {
      duet::detail::capture_execution_context(c);
      unsafe_on_completed(c);
    }
    void unsafe_on_completed(duet::Continuation& c) noexcept { g_->waiter_ = &c; }
    void get_result() const noexcept {}

   private:
    Gate* g_;
  };
  Awaiter get_awaiter() noexcept { return Awaiter(this); }

  // open() — resumes the one waiter, inline.
  void open() {
    ASSERT_NE(waiter_, nullptr) << "nobody waits at the gate";
    duet::run_continuation(std::exchange(waiter_, nullptr));
  }

 private:
  duet::Continuation* waiter_ = nullptr;
};

// Add — `async ValueTask<int> Add(int x, Gate? gate) { if (gate) await gate; return x + 1; }`,
// for either ValueTask builder.
template <template <class, class, class> class Method>
struct Add : Method<Add<Method>, int, duet::DslLimits<>> {
  int x_;
  Gate* gate_;
  bool throw_ = false;
  Add(int x, Gate* gate, bool fail = false) : x_(x), gate_(gate), throw_(fail) {}
  void move_next() {
    DUET_BEGIN
      if (throw_ && !gate_) throw TestError("synchronous failure");
      if (gate_) DUET_AWAIT(*gate_);
      if (throw_) throw TestError("asynchronous failure");
      DUET_RETURN(x_ + 1);
    DUET_END
  }
};
using PlainAdd = Add<duet::AsyncValueTaskMethod>;
using PooledAdd = Add<duet::PoolingAsyncValueTaskMethod>;

template <class T>
std::string what_of(ValueTask<T> vt) {
  try {
    vt.result();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// ---- ValueTask-returning DSL methods ------------------------------------------------------------

TEST(DslValueTask, SynchronousCompletionAllocatesNothingWithEitherBuilder) {
  AllocScope scope;
  ValueTask<int> a = duet::start<PlainAdd>(1, nullptr);
  ValueTask<int> b = duet::start<PooledAdd>(2, nullptr);
  EXPECT_EQ(a.kind(), ValueTask<int>::Kind::value);
  EXPECT_EQ(b.kind(), ValueTask<int>::Kind::value);
  EXPECT_EQ(a.result(), 2);
  EXPECT_EQ(b.result(), 3);
  EXPECT_EQ(scope.allocations(), 0u);
}

TEST(DslValueTask, TaskBuilderAllocatesForTheSameSynchronousCall) {
  // The baseline the ValueTask builders beat: the same body with a Task<int> builder.
  struct AddTask : duet::AsyncMethod<AddTask, int> {
    int x_ = 0;
    void move_next() {
      DUET_BEGIN
        DUET_RETURN(x_ + 1);
      DUET_END
    }
  };
  AllocScope scope;
  Task<int> t = duet::start<AddTask>(AddTask{});
  EXPECT_EQ(t.result(), 1);
  EXPECT_EQ(scope.allocations(), 1u);
}

TEST(DslValueTask, PlainBuilderSuspendsIntoOneBox) {
  Gate gate;
  std::uint64_t allocations = 0;
  ValueTask<int> vt;
  {
    AllocScope scope;
    vt = duet::start<PlainAdd>(41, &gate);
    allocations = scope.allocations();
  }
  EXPECT_EQ(allocations, 1u);
  EXPECT_EQ(vt.kind(), ValueTask<int>::Kind::task);
  EXPECT_FALSE(vt.is_completed());
  gate.open();
  EXPECT_TRUE(vt.is_completed_successfully());
  EXPECT_EQ(vt.result(), 42);
}

TEST(DslValueTask, PoolingBuilderReusesItsBoxInSteadyState) {
  Gate gate;
  {  // warm-up: this machine type's first suspension on this thread rents a new box
    ValueTask<int> vt = duet::start<PooledAdd>(0, &gate);
    gate.open();
    EXPECT_EQ(vt.result(), 1);
  }
  for (int i = 0; i < 50; ++i) {
    AllocScope scope;
    ValueTask<int> vt = duet::start<PooledAdd>(i, &gate);
    EXPECT_EQ(vt.kind(), ValueTask<int>::Kind::source);
    EXPECT_FALSE(vt.is_completed());
    gate.open();
    EXPECT_EQ(vt.result(), i + 1);
    EXPECT_EQ(scope.allocations(), 0u) << "call " << i;
  }
}

// Cancelable — throws OperationCanceledError after an await: the ValueTask ends canceled.
struct Cancelable : duet::PoolingAsyncValueTaskMethod<Cancelable, int> {
  duet::CancellationToken token_;
  Gate* gate_;
  Cancelable(duet::CancellationToken token, Gate* gate) : token_(std::move(token)), gate_(gate) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(*gate_);
      token_.throw_if_cancellation_requested();
      DUET_RETURN(1);
    DUET_END
  }
};

// PlainReturnVt — a plain `return;` in a ValueTask method: the exit guard faults it (no hang).
template <template <class, class, class> class Method>
struct PlainReturnVt : Method<PlainReturnVt<Method>, int, duet::DslLimits<>> {
  Gate* gate_;
  explicit PlainReturnVt(Gate* gate) : gate_(gate) {}
  void move_next() {
    DUET_BEGIN
      if (gate_) DUET_AWAIT(*gate_);
      return;
    DUET_END
  }
};

TEST(DslValueTask, PlainReturnFaultsTheValueTaskWithEitherBuilder) {
  const std::string fix = "use DUET_RETURN";
  EXPECT_NE(what_of(duet::start<PlainReturnVt<duet::AsyncValueTaskMethod>>(nullptr)).find(fix),
            std::string::npos);
  EXPECT_NE(what_of(duet::start<PlainReturnVt<duet::PoolingAsyncValueTaskMethod>>(nullptr)).find(fix),
            std::string::npos);
  Gate gate;
  ValueTask<int> plain = duet::start<PlainReturnVt<duet::AsyncValueTaskMethod>>(&gate);
  gate.open();
  EXPECT_TRUE(plain.is_faulted());
  EXPECT_NE(what_of(std::move(plain)).find(fix), std::string::npos);
  ValueTask<int> pooled = duet::start<PlainReturnVt<duet::PoolingAsyncValueTaskMethod>>(&gate);
  gate.open();
  EXPECT_TRUE(pooled.is_faulted());
  EXPECT_NE(what_of(std::move(pooled)).find(fix), std::string::npos);
}

// ---- DSL methods awaiting ValueTasks ------------------------------------------------------------

// SumOfValueTasks — a Task<int> method awaiting ValueTasks from both builders, synchronous and
// suspended, one of them held in a member.
struct SumOfValueTasks : duet::AsyncMethod<SumOfValueTasks, int> {
  Gate* gate_;
  ValueTask<int> held_;
  int a_ = 0, b_ = 0, c_ = 0;
  explicit SumOfValueTasks(Gate* gate) : gate_(gate) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(a_, duet::start<PlainAdd>(10, nullptr));  // completes synchronously
      held_ = duet::start<PooledAdd>(20, gate_);                 // suspends on the gate
      DUET_AWAIT_INTO(b_, held_);
      DUET_AWAIT_INTO(c_, duet::start<PlainAdd>(30, gate_));
      DUET_RETURN(a_ + b_ + c_);
    DUET_END
  }
};

// Chain — a pooled ValueTask method awaiting a pooled ValueTask method (ValueTask all the way).
struct Chain : duet::PoolingAsyncValueTaskMethod<Chain, int> {
  Gate* gate_;
  int v_ = 0;
  explicit Chain(Gate* gate) : gate_(gate) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(v_, duet::start<PooledAdd>(1, gate_));
      DUET_AWAIT_INTO(v_, duet::start<PooledAdd>(v_, gate_));
      DUET_RETURN(v_ * 10);
    DUET_END
  }
};

TEST(DslValueTask, PooledChainRunsWithoutAllocatingInSteadyState) {
  Gate gate;
  for (int warm = 0; warm < 2; ++warm) {  // warm-up: one box per machine type and nesting
    ValueTask<int> vt = duet::start<Chain>(&gate);
    gate.open();
    gate.open();
    EXPECT_EQ(vt.result(), 30);
  }
  AllocScope scope;
  for (int i = 0; i < 20; ++i) {
    ValueTask<int> vt = duet::start<Chain>(&gate);
    gate.open();
    gate.open();
    EXPECT_EQ(vt.result(), 30);
  }
  EXPECT_EQ(scope.allocations(), 0u);
}

// AwaitTwice — awaits one ValueTask member twice: the second await breaks the await-once rule.
struct AwaitTwice : duet::AsyncMethod<AwaitTwice, int> {
  ValueTask<int> vt_;
  int x_ = 0, y_ = 0;
  explicit AwaitTwice(ValueTask<int> vt) : vt_(std::move(vt)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, vt_);
      DUET_AWAIT_INTO(y_, vt_);
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

}  // namespace
