// test_task_aggregate.cpp — ports of dotnet/runtime's AggregateException tests
// (src/libraries/System.Threading.Tasks/tests/AggregateExceptionTests.cs), one gtest per .NET
// test method.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <duet/duet.hpp>

namespace {

using duet::AggregateError;

std::exception_ptr make(const char* what) { return std::make_exception_ptr(std::runtime_error(what)); }
std::exception_ptr arg() { return std::make_exception_ptr(duet::ArgumentError("arg")); }

bool is_argument(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const duet::ArgumentError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// AggregateExceptionTests.cs, Handle
TEST(DotnetAggregate, Handle) {
  AggregateError ex({arg(), arg(), arg()});
  int handled_count = 0;
  ex.handle([&](const std::exception_ptr& e) {
    if (is_argument(e)) {
      ++handled_count;
      return true;
    }
    return false;
  });
  EXPECT_EQ(handled_count, static_cast<int>(ex.inner_exceptions().size()));
}

// AggregateExceptionTests.cs, HandleInvalidCases (a null predicate cannot be passed to a
// template; the unhandled case is the one that remains).
TEST(DotnetAggregate, HandleInvalidCases) {
  std::exception_ptr plain = make("plain");
  AggregateError ex({plain, arg(), arg()});
  int handled_count = 0;
  try {
    ex.handle([&](const std::exception_ptr& e) {
      if (is_argument(e)) {
        ++handled_count;
        return true;
      }
      return false;
    });
    ADD_FAILURE() << "handle() returned with an unhandled exception";
  } catch (const AggregateError& rest) {
    ASSERT_EQ(rest.inner_exceptions().size(), 1u);
    EXPECT_EQ(rest.inner_exceptions()[0], plain);
  }
  EXPECT_EQ(handled_count, 2);
}

// AggregateExceptionTests.cs, Flatten
TEST(DotnetAggregate, Flatten) {
  std::exception_ptr a = make("A"), b = make("B"), c = make("C");
  AggregateError base("message", {a, b, c});
  AggregateError flattened1 = base.flatten();
  EXPECT_EQ(flattened1.inner_exceptions(), (std::vector<std::exception_ptr>{a, b, c}));
  EXPECT_EQ(std::string(flattened1.what()), "message");

  auto base_ptr = std::make_exception_ptr(base);
  AggregateError recurse("message", {base_ptr, base_ptr});
  AggregateError flattened2 = recurse.flatten();
  EXPECT_EQ(flattened2.inner_exceptions(), (std::vector<std::exception_ptr>{a, b, c, a, b, c}));
}

}  // namespace
