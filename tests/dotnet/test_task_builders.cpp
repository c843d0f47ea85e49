// test_task_builders.cpp — ports of dotnet/runtime's method-builder tests
// (src/libraries/System.Threading.Tasks/tests/System.Runtime.CompilerServices/
// AsyncTaskMethodBuilderTests.cs), one gtest per .NET test method. .NET reads builder.Task before
// completing; duet's task() needs start() or a completion first (README, Differences from .NET),
// so these ports read task() after set_result/set_exception.
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::ArgumentError;
using duet::AsyncTaskMethodBuilder;
using duet::AsyncVoidMethodBuilder;
using duet::InvalidOperationError;
using duet::TaskStatus;

class DotnetBuilders : public duet::testing::DuetTest {};

// TrackOperationsSynchronizationContext (the .NET helper): counts operation_started/completed and
// records the exceptions posted to it (what an async void builder throws asynchronously).
class TrackOperationsContext final : public duet::SynchronizationContext {
 public:
  void operation_started() noexcept override { ++tracked_; }
  void operation_completed() noexcept override { --tracked_; }
  void post(duet::Continuation& c) noexcept override {
    // The posted item rethrows the exception when run: run it here and record what escapes.
    std::lock_guard<std::mutex> lk(m_);
    queue_.push_back(&c);
  }
  // posted_exceptions() — runs what was posted and records each exception it throws.
  std::vector<std::string> run_posted() {
    std::vector<std::string> types;
    std::exception_ptr slot;
    for (;;) {
      duet::Continuation* c;
      {
        std::lock_guard<std::mutex> lk(m_);
        if (queue_.empty()) break;
        c = queue_.front();
        queue_.erase(queue_.begin());
      }
      {
        duet::detail::PostedExceptionSink sink(&slot);
        duet::run_continuation(c);
      }
      if (slot) {
        try {
          std::rethrow_exception(std::exchange(slot, nullptr));
        } catch (const std::exception& e) {
          types.push_back(typeid(e).name());
        }
      }
    }
    return types;
  }
  int tracked() const { return tracked_; }

 private:
  int tracked_ = 0;
  std::mutex m_;
  std::vector<duet::Continuation*> queue_;
};

struct BadCast : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// AsyncTaskMethodBuilderTests.cs, VoidMethodBuilder_TrackedContext
TEST_F(DotnetBuilders, VoidMethodBuilder_TrackedContext) {
  TrackOperationsContext tracked;
  duet::SyncContextScope scope(&tracked);
  {  // completing in opposite order as created
    auto avmb1 = AsyncVoidMethodBuilder::create();
    EXPECT_EQ(tracked.tracked(), 1);
    auto avmb2 = AsyncVoidMethodBuilder::create();
    EXPECT_EQ(tracked.tracked(), 2);
    avmb2.set_result();
    EXPECT_EQ(tracked.tracked(), 1);
    avmb1.set_result();
    EXPECT_EQ(tracked.tracked(), 0);
  }
  {  // completing in the same order as created
    auto avmb1 = AsyncVoidMethodBuilder::create();
    auto avmb2 = AsyncVoidMethodBuilder::create();
    EXPECT_EQ(tracked.tracked(), 2);
    avmb1.set_result();
    EXPECT_EQ(tracked.tracked(), 1);
    avmb2.set_result();
    EXPECT_EQ(tracked.tracked(), 0);
  }
}

// AsyncTaskMethodBuilderTests.cs, VoidMethodBuilder_NoContext
TEST_F(DotnetBuilders, VoidMethodBuilder_NoContext) {
  duet::SyncContextScope scope(nullptr);
  auto avmb = AsyncVoidMethodBuilder::create();
  EXPECT_NO_THROW(avmb.set_result());
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_Basic
TEST_F(DotnetBuilders, TaskMethodBuilder_Basic) {
  auto atmb = AsyncTaskMethodBuilder<>::create();
  atmb.set_result();
  EXPECT_EQ(atmb.task().status(), TaskStatus::ran_to_completion);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_DoesNotTouchSyncContext
TEST_F(DotnetBuilders, TaskMethodBuilder_DoesNotTouchSyncContext) {
  TrackOperationsContext tracked;
  duet::SyncContextScope scope(&tracked);
  auto atmb = AsyncTaskMethodBuilder<>::create();
  EXPECT_EQ(tracked.tracked(), 0);
  atmb.set_result();
  EXPECT_EQ(tracked.tracked(), 0);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_Basic
TEST_F(DotnetBuilders, TaskMethodBuilderT_Basic) {
  auto atmb = AsyncTaskMethodBuilder<int>::create();
  atmb.set_result(43);
  EXPECT_EQ(atmb.task().status(), TaskStatus::ran_to_completion);
  EXPECT_EQ(atmb.task().result(), 43);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_DoesNotTouchSyncContext
TEST_F(DotnetBuilders, TaskMethodBuilderT_DoesNotTouchSyncContext) {
  TrackOperationsContext tracked;
  duet::SyncContextScope scope(&tracked);
  auto atmb = AsyncTaskMethodBuilder<std::string>::create();
  EXPECT_EQ(tracked.tracked(), 0);
  atmb.set_result(std::string("async"));
  EXPECT_EQ(tracked.tracked(), 0);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_IncorrectUsage
TEST_F(DotnetBuilders, TaskMethodBuilder_IncorrectUsage) {
  AsyncTaskMethodBuilder<> atmb;
  EXPECT_THROW(atmb.set_exception(nullptr), ArgumentError);
}

// AsyncTaskMethodBuilderTests.cs, VoidMethodBuilder_IncorrectUsage
TEST_F(DotnetBuilders, VoidMethodBuilder_IncorrectUsage) {
  auto avmb = AsyncVoidMethodBuilder::create();
  EXPECT_THROW(avmb.set_exception(nullptr), ArgumentError);
  avmb.set_result();
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_CantBeReset
TEST_F(DotnetBuilders, TaskMethodBuilder_CantBeReset) {
  auto atmb = AsyncTaskMethodBuilder<>::create();
  atmb.set_result();
  EXPECT_THROW(atmb.set_result(), InvalidOperationError);
  EXPECT_THROW(atmb.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidOperationError);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_IncorrectUsage
TEST_F(DotnetBuilders, TaskMethodBuilderT_IncorrectUsage) {
  AsyncTaskMethodBuilder<int> atmb;
  EXPECT_THROW(atmb.set_exception(nullptr), ArgumentError);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_CantBeReset
TEST_F(DotnetBuilders, TaskMethodBuilderT_CantBeReset) {
  auto atmb = AsyncTaskMethodBuilder<int>::create();
  atmb.set_result(43);
  EXPECT_THROW(atmb.set_result(44), InvalidOperationError);
  EXPECT_THROW(atmb.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidOperationError);
  EXPECT_EQ(atmb.task().result(), 43);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_SetException_CantBeReset1
TEST_F(DotnetBuilders, TaskMethodBuilder_SetException_CantBeReset1) {
  auto atmb = AsyncTaskMethodBuilder<>::create();
  atmb.set_exception(std::make_exception_ptr(BadCast("cast")));
  auto t = atmb.task();
  EXPECT_EQ(t.status(), TaskStatus::faulted);
  EXPECT_THROW(std::rethrow_exception(t.exception()), BadCast);
  EXPECT_THROW(atmb.set_result(), InvalidOperationError);
  EXPECT_THROW(atmb.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidOperationError);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_Cancellation
TEST_F(DotnetBuilders, TaskMethodBuilder_Cancellation) {
  auto atmb = AsyncTaskMethodBuilder<>::create();
  auto oce = std::make_exception_ptr(duet::OperationCanceledError());
  atmb.set_exception(oce);  // a method's OperationCanceledError cancels (rule 7)
  auto t = atmb.task();
  EXPECT_EQ(t.status(), TaskStatus::canceled);
  try {
    duet::get_awaiter(t).get_result();
    ADD_FAILURE() << "no exception";
  } catch (const duet::OperationCanceledError&) {
    EXPECT_EQ(std::current_exception(), oce);  // Assert.Same(oce, caught)
  }
  EXPECT_THROW(atmb.set_result(), InvalidOperationError);
  EXPECT_THROW(atmb.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidOperationError);
}

// AsyncTaskMethodBuilderTests.cs, AsyncMethodBuilderCreate_SetExceptionTest2
TEST_F(DotnetBuilders, AsyncMethodBuilderCreate_SetExceptionTest2) {
  TrackOperationsContext tracked;
  duet::SyncContextScope scope(&tracked);
  auto avmb1 = AsyncVoidMethodBuilder::create();
  EXPECT_EQ(tracked.tracked(), 1);
  auto avmb2 = AsyncVoidMethodBuilder::create();
  EXPECT_EQ(tracked.tracked(), 2);
  avmb2.set_exception(std::make_exception_ptr(InvalidOperationError("uh oh 1")));
  EXPECT_EQ(tracked.tracked(), 1);
  avmb1.set_exception(std::make_exception_ptr(BadCast("uh oh 2")));
  EXPECT_EQ(tracked.tracked(), 0);
  const auto posted = tracked.run_posted();
  ASSERT_EQ(posted.size(), 2u);
  EXPECT_EQ(posted[0], typeid(InvalidOperationError).name());
  EXPECT_EQ(posted[1], typeid(BadCast).name());
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_SetExceptionTest1
TEST_F(DotnetBuilders, TaskMethodBuilderT_SetExceptionTest1) {
  auto atmb = AsyncTaskMethodBuilder<int>::create();
  atmb.set_exception(std::make_exception_ptr(BadCast("cast")));
  auto t = atmb.task();
  EXPECT_EQ(t.status(), TaskStatus::faulted);
  EXPECT_THROW(std::rethrow_exception(t.exception()), BadCast);
  EXPECT_THROW(atmb.set_result(44), InvalidOperationError);
  EXPECT_THROW(atmb.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidOperationError);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilderT_Cancellation
TEST_F(DotnetBuilders, TaskMethodBuilderT_Cancellation) {
  auto atmb = AsyncTaskMethodBuilder<int>::create();
  auto oce = std::make_exception_ptr(duet::OperationCanceledError());
  atmb.set_exception(oce);
  auto t = atmb.task();
  EXPECT_EQ(t.status(), TaskStatus::canceled);
  try {
    (void)duet::get_awaiter(t).get_result();
    ADD_FAILURE() << "no exception";
  } catch (const duet::OperationCanceledError&) {
    EXPECT_EQ(std::current_exception(), oce);
  }
  EXPECT_THROW(atmb.set_result(44), InvalidOperationError);
}

// AsyncTaskMethodBuilderTests.cs, TaskMethodBuilder_UsesCompletedCache
TEST_F(DotnetBuilders, TaskMethodBuilder_UsesCompletedCache) {
  AsyncTaskMethodBuilder<> atmb1;
  AsyncTaskMethodBuilder<> atmb2;
  atmb1.set_result();
  atmb2.set_result();
  EXPECT_TRUE(atmb1.task() == atmb2.task());
}

}  // namespace
