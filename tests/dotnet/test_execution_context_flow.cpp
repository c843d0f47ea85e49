// tests/dotnet/test_execution_context_flow.cpp — ports of dotnet/runtime's
// src/libraries/System.Threading/tests/ExecutionContextTests.cs (issue 12 rule 8: ExecutionContext::run
// lifts suppress_flow). One gtest per .NET test method. .NET's "creating a thread flows the
// context" check has no counterpart (a std::thread starts in the default context); the thread-pool
// check uses duet::run.
#include <gtest/gtest.h>

#include <optional>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::AsyncLocal;
using duet::ExecutionContext;

class ExecutionContextTests : public duet::testing::DuetTest {};

// VerifyExecutionContext — the value `al` has inside run(ec); a null ec must throw.
void verify_execution_context(const ExecutionContext& ec, AsyncLocal<int>& al, int expected) {
  int actual = 0;
  if (ec.is_null()) {
    EXPECT_THROW(ExecutionContext::run(ec, [&] { actual = al.value(); }), duet::InvalidOperationError);
  } else {
    ExecutionContext::run(ec, [&] { actual = al.value(); });
  }
  EXPECT_EQ(expected, actual);
}

// VerifyExecutionContextFlow — flow is suppressed iff `expected` is 0; capture() and a pool work
// item see `expected`.
void verify_execution_context_flow(AsyncLocal<int>& al, int expected) {
  EXPECT_EQ(expected == 0, ExecutionContext::is_flow_suppressed());
  if (ExecutionContext::is_flow_suppressed()) {
    EXPECT_TRUE(ExecutionContext::capture().is_null());
  }
  verify_execution_context(ExecutionContext::capture(), al, expected);
  int pool_value = -1;
  duet::run([&] { pool_value = al.value(); }).wait();
  EXPECT_EQ(expected, pool_value) << "a pool work item flows the context iff flow is not suppressed";
}

// ExecutionContextTests.CaptureThenSuppressThenRunFlowTest
TEST_F(ExecutionContextTests, CaptureThenSuppressThenRunFlowTest) {
  AsyncLocal<int> al;
  al.set_value(1);

  ExecutionContext ec = ExecutionContext::capture();
  auto guard = ExecutionContext::suppress_flow();
  ExecutionContext::run(ec, [&] {
    EXPECT_EQ(1, al.value());
    verify_execution_context_flow(al, 1);  // flow is not suppressed inside run
  });
  EXPECT_EQ(1, al.value());
  verify_execution_context_flow(al, 0);  // the caller's suppression is back
  guard.undo();
  verify_execution_context_flow(al, 1);

  ec = ExecutionContext::capture();
  al.set_value(2);
  auto guard2 = ExecutionContext::suppress_flow();
  EXPECT_TRUE(ExecutionContext::is_flow_suppressed());
  ExecutionContext::run(ec, [&] {
    EXPECT_EQ(1, al.value());
    verify_execution_context_flow(al, 1);
  });
  EXPECT_EQ(2, al.value());
  verify_execution_context_flow(al, 0);
  ExecutionContext::restore_flow();
  verify_execution_context_flow(al, 2);
  al.set_value(0);
}

// ExecutionContextTests.FlowTest (the suppress / restore / undo part; AsyncFlowControl equality and
// the .NET Framework notes have no counterpart)
TEST_F(ExecutionContextTests, FlowTest) {
  AsyncLocal<int> al;
  al.set_value(1);
  auto verify_suppress_restore = [&](auto suppress, auto restore) {
    verify_execution_context_flow(al, 1);
    ExecutionContext ec2 = ExecutionContext::capture();
    suppress();
    verify_execution_context_flow(al, 0);
    verify_execution_context(ec2, al, 1);
    ec2 = ExecutionContext::capture();
    restore();
    verify_execution_context_flow(al, 1);
    verify_execution_context(ec2, al, 0);
  };
  std::optional<ExecutionContext::AsyncFlowControl> afc;
  verify_suppress_restore([&] { afc.emplace(ExecutionContext::suppress_flow()); },
                          [&] { afc->undo(); });
  verify_suppress_restore([&] { afc.emplace(ExecutionContext::suppress_flow()); },
                          [&] { afc.reset(); });
  verify_suppress_restore([&] { afc.emplace(ExecutionContext::suppress_flow()); },
                          [] { ExecutionContext::restore_flow(); });
  afc.reset();  // the guard of a flow restored by restore_flow() changes nothing
  EXPECT_FALSE(ExecutionContext::is_flow_suppressed());
  EXPECT_THROW(ExecutionContext::restore_flow(), duet::InvalidOperationError);

  // Changing an AsyncLocal while flow is suppressed does not prevent undoing it.
  afc.emplace(ExecutionContext::suppress_flow());
  al.set_value(2);
  afc->undo();
  verify_execution_context_flow(al, 2);
  afc.reset();
  al.set_value(0);
}

}  // namespace
