// test_task_unwrap.cpp — ports of dotnet/runtime's Unwrap tests
// (src/libraries/System.Threading.Tasks/tests/UnwrapTests.cs), one gtest per .NET test method;
// a [Theory]'s data rows run inside the one gtest. duet::unwrap(outer) is .NET's outer.Unwrap().
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using duet::TaskStatus;

class DotnetUnwrap : public duet::testing::DuetTest {};

// AssertTasksAreEqual (the .NET helper): same status; same result, same fault, or both canceled.
template <class T>
void assert_tasks_are_equal(const Task<T>& expected, const Task<T>& actual) {
  ASSERT_TRUE(actual.is_completed());
  ASSERT_EQ(expected.status(), actual.status());
  switch (expected.status()) {
    case TaskStatus::ran_to_completion:
      if constexpr (!std::is_void_v<T>) {
        EXPECT_EQ(expected.result(), actual.result());
      }
      break;
    case TaskStatus::faulted:
      EXPECT_EQ(expected.exception(), actual.exception());
      break;
    default:
      break;
  }
}
template <class T, class U>
void assert_tasks_are_equal_outer(const Task<U>& outer, const Task<T>& actual) {
  ASSERT_TRUE(actual.is_completed());
  ASSERT_EQ(outer.status(), actual.status());
  if (outer.status() == TaskStatus::faulted) {
    EXPECT_EQ(outer.exception(), actual.exception());
  }
}

std::vector<Task<>> completed_non_generic_tasks() {
  return {duet::completed_task(), duet::from_exception(std::make_exception_ptr(std::runtime_error("fault"))),
          duet::from_canceled()};
}
std::vector<Task<std::string>> completed_string_tasks() {
  return {duet::from_result(std::string("Tasks")),
          duet::from_exception<std::string>(std::make_exception_ptr(std::runtime_error("fault"))),
          duet::from_canceled<std::string>()};
}

duet::CancellationToken create_canceled_token() {
  duet::CancellationTokenSource cts;
  cts.cancel();
  return cts.token();
}

// complete_as(tcs, status) — the switch the .NET tests repeat.
template <class T, class V>
void complete_as(TaskCompletionSource<T>& tcs, TaskStatus status, V value, bool with_token = false) {
  switch (status) {
    case TaskStatus::ran_to_completion:
      if constexpr (std::is_void_v<T>) {
        tcs.set_result();
      } else {
        tcs.set_result(value);
      }
      break;
    case TaskStatus::faulted:
      tcs.set_exception(std::make_exception_ptr(duet::InvalidOperationError("inner")));
      break;
    case TaskStatus::canceled:
      if (with_token) {
        tcs.set_canceled(create_canceled_token());
      } else {
        tcs.set_canceled();
      }
      break;
    default:
      break;
  }
}

constexpr TaskStatus k_statuses[] = {TaskStatus::ran_to_completion, TaskStatus::faulted, TaskStatus::canceled};

// UnwrapTests.cs, ArgumentValidation (null outer: an empty handle)
TEST_F(DotnetUnwrap, ArgumentValidation) {
  EXPECT_THROW((void)duet::unwrap(Task<Task<>>()), duet::InvalidOperationError);
  EXPECT_THROW((void)duet::unwrap(Task<Task<int>>()), duet::InvalidOperationError);
  EXPECT_THROW((void)duet::unwrap(Task<Task<std::string>>()), duet::InvalidOperationError);
}

// UnwrapTests.cs, NonGeneric_Completed_Completed
TEST_F(DotnetUnwrap, NonGeneric_Completed_Completed) {
  for (const Task<>& inner : completed_non_generic_tasks()) {
    Task<Task<>> outer = duet::from_result(inner);
    Task<> unwrapped = duet::unwrap(outer);
    EXPECT_TRUE(unwrapped.is_completed());
    assert_tasks_are_equal(inner, unwrapped);
  }
}

// UnwrapTests.cs, Generic_Completed_Completed
TEST_F(DotnetUnwrap, Generic_Completed_Completed) {
  for (const Task<std::string>& inner : completed_string_tasks()) {
    Task<Task<std::string>> outer = duet::from_result(inner);
    Task<std::string> unwrapped = duet::unwrap(outer);
    EXPECT_TRUE(unwrapped.is_completed());
    assert_tasks_are_equal(inner, unwrapped);
  }
}

// UnwrapTests.cs, NonGeneric_NotCompleted_Completed
TEST_F(DotnetUnwrap, NonGeneric_NotCompleted_Completed) {
  for (const Task<>& inner : completed_non_generic_tasks()) {
    TaskCompletionSource<Task<>> outer_tcs;
    Task<> unwrapped = duet::unwrap(outer_tcs.task());
    EXPECT_FALSE(unwrapped.is_completed());
    outer_tcs.set_result(inner);
    assert_tasks_are_equal(inner, unwrapped);
  }
}

// UnwrapTests.cs, Generic_NotCompleted_Completed
TEST_F(DotnetUnwrap, Generic_NotCompleted_Completed) {
  for (const Task<std::string>& inner : completed_string_tasks()) {
    TaskCompletionSource<Task<std::string>> outer_tcs;
    Task<std::string> unwrapped = duet::unwrap(outer_tcs.task());
    EXPECT_FALSE(unwrapped.is_completed());
    outer_tcs.set_result(inner);
    assert_tasks_are_equal(inner, unwrapped);
  }
}

// UnwrapTests.cs, NonGeneric_Completed_NotCompleted
TEST_F(DotnetUnwrap, NonGeneric_Completed_NotCompleted) {
  for (TaskStatus status : k_statuses) {
    TaskCompletionSource<> inner_tcs;
    Task<Task<>> outer = duet::from_result(inner_tcs.task());
    Task<> unwrapped = duet::unwrap(outer);
    EXPECT_FALSE(unwrapped.is_completed());
    complete_as(inner_tcs, status, 0);
    assert_tasks_are_equal(inner_tcs.task(), unwrapped);
  }
}

// UnwrapTests.cs, Generic_Completed_NotCompleted
TEST_F(DotnetUnwrap, Generic_Completed_NotCompleted) {
  for (TaskStatus status : k_statuses) {
    TaskCompletionSource<int> inner_tcs;
    Task<Task<int>> outer = duet::from_result(inner_tcs.task());
    Task<int> unwrapped = duet::unwrap(outer);
    EXPECT_FALSE(unwrapped.is_completed());
    complete_as(inner_tcs, status, 42);
    assert_tasks_are_equal(inner_tcs.task(), unwrapped);
  }
}

// UnwrapTests.cs, NonGeneric_NotCompleted_NotCompleted
TEST_F(DotnetUnwrap, NonGeneric_NotCompleted_NotCompleted) {
  for (bool outer_completes_first : {true, false}) {
    for (TaskStatus status : k_statuses) {
      TaskCompletionSource<> inner_tcs;
      TaskCompletionSource<Task<>> outer_tcs;
      Task<> unwrapped = duet::unwrap(outer_tcs.task());
      EXPECT_FALSE(unwrapped.is_completed());
      if (outer_completes_first) {
        outer_tcs.set_result(inner_tcs.task());
        EXPECT_FALSE(unwrapped.is_completed());
      }
      complete_as(inner_tcs, status, 0, true);
      if (!outer_completes_first) {
        EXPECT_FALSE(unwrapped.is_completed());
        outer_tcs.set_result(inner_tcs.task());
      }
      assert_tasks_are_equal(inner_tcs.task(), unwrapped);
    }
  }
}

// UnwrapTests.cs, Generic_NotCompleted_NotCompleted
TEST_F(DotnetUnwrap, Generic_NotCompleted_NotCompleted) {
  for (bool outer_completes_first : {true, false}) {
    for (TaskStatus status : k_statuses) {
      TaskCompletionSource<int> inner_tcs;
      TaskCompletionSource<Task<int>> outer_tcs;
      Task<int> unwrapped = duet::unwrap(outer_tcs.task());
      EXPECT_FALSE(unwrapped.is_completed());
      if (outer_completes_first) {
        outer_tcs.set_result(inner_tcs.task());
        EXPECT_FALSE(unwrapped.is_completed());
      }
      complete_as(inner_tcs, status, 42, true);
      if (!outer_completes_first) {
        EXPECT_FALSE(unwrapped.is_completed());
        outer_tcs.set_result(inner_tcs.task());
      }
      assert_tasks_are_equal(inner_tcs.task(), unwrapped);
    }
  }
}

// unsuccessful_outer<T>(before, status) — the body of the two *_UnsuccessfulOuter methods.
template <class T>
void unsuccessful_outer(bool outer_completes_before_unwrap, TaskStatus outer_status) {
  TaskCompletionSource<Task<T>> outer_tcs;
  Task<Task<T>> outer = outer_tcs.task();
  Task<T> unwrapped;
  if (!outer_completes_before_unwrap) unwrapped = duet::unwrap(outer);
  switch (outer_status) {
    case TaskStatus::ran_to_completion: outer_tcs.set_result(Task<T>()); break;  // null inner
    case TaskStatus::canceled: outer_tcs.set_canceled(create_canceled_token()); break;
    case TaskStatus::faulted:
      outer_tcs.set_exception(std::make_exception_ptr(std::bad_cast()));
      break;
    default: break;
  }
  if (outer_completes_before_unwrap) unwrapped = duet::unwrap(outer);
  ASSERT_TRUE(unwrapped.is_completed());
  if (outer_status == TaskStatus::ran_to_completion) {
    EXPECT_TRUE(unwrapped.is_canceled());
  } else {
    assert_tasks_are_equal_outer(outer, unwrapped);
  }
}

// UnwrapTests.cs, NonGeneric_UnsuccessfulOuter
TEST_F(DotnetUnwrap, NonGeneric_UnsuccessfulOuter) {
  for (bool before : {true, false}) {
    for (TaskStatus status : k_statuses) unsuccessful_outer<void>(before, status);
  }
}

// UnwrapTests.cs, Generic_UnsuccessfulOuter
TEST_F(DotnetUnwrap, Generic_UnsuccessfulOuter) {
  for (bool before : {true, false}) {
    for (TaskStatus status : k_statuses) unsuccessful_outer<int>(before, status);
  }
}

}  // namespace
