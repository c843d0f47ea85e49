// test_task_completion_source.cpp — ports of dotnet/runtime's TaskCompletionSource tests
// (src/libraries/System.Threading.Tasks/tests/Task/TaskCompletionSourceTests.cs), one gtest per
// .NET test method. A [Theory] over tryMethod runs both forms inside one gtest.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::CancellationTokenSource;
using duet::InvalidOperationError;
using duet::Task;
using duet::TaskCompletionSource;
using duet::TaskStatus;

class DotnetTcs : public duet::testing::DuetTest {};

// AssertCompletedTcsFailsToCompleteAgain (the .NET helper).
void assert_completed_tcs_fails_to_complete_again(TaskCompletionSource<>& tcs) {
  EXPECT_THROW(tcs.set_result(), InvalidOperationError);
  EXPECT_FALSE(tcs.try_set_result());
  EXPECT_THROW(tcs.set_exception(std::runtime_error("again")), InvalidOperationError);
  EXPECT_THROW(tcs.set_exception(std::vector<std::exception_ptr>{std::make_exception_ptr(std::runtime_error("x"))}),
               InvalidOperationError);
  EXPECT_FALSE(tcs.try_set_exception(std::runtime_error("again")));
  EXPECT_FALSE(tcs.try_set_exception(std::vector<std::exception_ptr>{std::make_exception_ptr(std::runtime_error("x"))}));
  EXPECT_THROW(tcs.set_canceled(), InvalidOperationError);
  EXPECT_THROW(tcs.set_canceled(duet::CancellationToken()), InvalidOperationError);
  EXPECT_FALSE(tcs.try_set_canceled());
  EXPECT_FALSE(tcs.try_set_canceled(duet::CancellationToken()));
}

// TaskCompletionSourceTests.cs, Ctor_ArgumentsRoundtrip (the state-object overloads have no duet
// counterpart: a lambda captures what AsyncState carried).
TEST_F(DotnetTcs, Ctor_ArgumentsRoundtrip) {
  TaskCompletionSource<> tcs;
  EXPECT_TRUE(tcs.task().valid());
  EXPECT_TRUE(tcs.task() == tcs.task());
  EXPECT_EQ(tcs.task().status(), TaskStatus::pending);
  TaskCompletionSource<> async_tcs(duet::TaskCreationOptions::run_continuations_asynchronously);
  EXPECT_TRUE(async_tcs.task() == async_tcs.task());
  EXPECT_EQ(async_tcs.task().status(), TaskStatus::pending);
  EXPECT_TRUE(async_tcs.task().state()->run_continuations_asynchronously());
  tcs.set_result();
  async_tcs.set_result();
}

// TaskCompletionSourceTests.cs, SetResult_CompletesSuccessfully
TEST_F(DotnetTcs, SetResult_CompletesSuccessfully) {
  for (bool try_method : {false, true}) {
    TaskCompletionSource<> tcs;
    EXPECT_EQ(tcs.task().status(), TaskStatus::pending);
    if (try_method) {
      EXPECT_TRUE(tcs.try_set_result());
    } else {
      tcs.set_result();
    }
    EXPECT_EQ(tcs.task().status(), TaskStatus::ran_to_completion);
    assert_completed_tcs_fails_to_complete_again(tcs);
  }
}

// TaskCompletionSourceTests.cs, SetCanceled_CompletesSuccessfully
TEST_F(DotnetTcs, SetCanceled_CompletesSuccessfully) {
  for (bool try_method : {false, true}) {
    TaskCompletionSource<> tcs;
    if (try_method) {
      EXPECT_TRUE(tcs.try_set_canceled());
    } else {
      tcs.set_canceled();
    }
    EXPECT_EQ(tcs.task().status(), TaskStatus::canceled);
    EXPECT_EQ(tcs.task().exception(), nullptr);
    try {
      duet::get_awaiter(tcs.task()).get_result();
      ADD_FAILURE() << "no exception";
    } catch (const duet::TaskCanceledError& tce) {
      EXPECT_FALSE(tce.token().can_be_canceled());  // default(CancellationToken)
    }
    assert_completed_tcs_fails_to_complete_again(tcs);
  }
}

// TaskCompletionSourceTests.cs, SetCanceled_Token_CompletesSuccessfully
TEST_F(DotnetTcs, SetCanceled_Token_CompletesSuccessfully) {
  for (bool try_method : {false, true}) {
    TaskCompletionSource<> tcs;
    CancellationTokenSource cts;
    if (try_method) {
      EXPECT_TRUE(tcs.try_set_canceled(cts.token()));
    } else {
      tcs.set_canceled(cts.token());
    }
    EXPECT_EQ(tcs.task().status(), TaskStatus::canceled);
    EXPECT_EQ(tcs.task().exception(), nullptr);
    try {
      duet::get_awaiter(tcs.task()).get_result();
      ADD_FAILURE() << "no exception";
    } catch (const duet::TaskCanceledError& tce) {
      EXPECT_TRUE(tce.token() == cts.token());
    }
    assert_completed_tcs_fails_to_complete_again(tcs);
  }
}

// TaskCompletionSourceTests.cs, SetException_Exception_CompletesSuccessfully. duet's exception()
// is the fault itself, not an AggregateError of one (README, Differences from .NET).
TEST_F(DotnetTcs, SetException_Exception_CompletesSuccessfully) {
  for (bool try_method : {false, true}) {
    auto e = std::make_exception_ptr(std::runtime_error("e"));
    TaskCompletionSource<> tcs;
    if (try_method) {
      EXPECT_TRUE(tcs.try_set_exception(e));
    } else {
      tcs.set_exception(e);
    }
    EXPECT_EQ(tcs.task().status(), TaskStatus::faulted);
    ASSERT_NE(tcs.task().exception(), nullptr);
    EXPECT_EQ(tcs.task().exception(), e);
    assert_completed_tcs_fails_to_complete_again(tcs);
  }
}

// TaskCompletionSourceTests.cs, SetException_Enumerable_CompletesSuccessfully
TEST_F(DotnetTcs, SetException_Enumerable_CompletesSuccessfully) {
  for (bool try_method : {false, true}) {
    std::vector<std::exception_ptr> e{std::make_exception_ptr(std::invalid_argument("format")),
                                      std::make_exception_ptr(InvalidOperationError("op")),
                                      std::make_exception_ptr(duet::ArgumentError("arg"))};
    TaskCompletionSource<> tcs;
    if (try_method) {
      EXPECT_TRUE(tcs.try_set_exception(e));
    } else {
      tcs.set_exception(e);
    }
    EXPECT_EQ(tcs.task().status(), TaskStatus::faulted);
    ASSERT_NE(tcs.task().exception(), nullptr);
    try {
      std::rethrow_exception(tcs.task().exception());
    } catch (const duet::AggregateError& a) {
      EXPECT_EQ(a.inner_exceptions(), e);
    }
    // An await rethrows the first, as .NET's GetResult does.
    EXPECT_THROW(duet::get_awaiter(tcs.task()).get_result(), std::invalid_argument);
    assert_completed_tcs_fails_to_complete_again(tcs);
  }
}

}  // namespace
