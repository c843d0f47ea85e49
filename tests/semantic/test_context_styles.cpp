// tests/semantic/test_context_styles.cpp — the context-flow scenarios (context_styles.hpp), run once
// per registered ContextStyle. The gates are TaskCompletionSources completed on a thread-pool
// thread, so every resumption crosses threads; the UI-style scenarios pump a SingleThreadContext
// on the test thread until the method's task completes (no sleeps).
#include <gtest/gtest.h>

#include "duet_fixture.hpp"

#include <string>

#include "context_styles.hpp"
#include "styles.hpp"

namespace styles {

std::vector<const ContextStyle*>& registered_context_styles() {
  static std::vector<const ContextStyle*> all;
  return all;
}

namespace {

using duet::Task;
using duet::TaskCompletionSource;

// open_on_pool(gate) — completes the gate from a thread-pool thread and waits until it has (the
// awaiting method's continuation runs inline there, or is posted to its captured context).
void open_on_pool(TaskCompletionSource<> gate) {
  duet::run([gate]() mutable { gate.set_result(); }).wait();
}

class ContextStyleTest : public duet::testing::DuetTest, public ::testing::WithParamInterface<const ContextStyle*> {
 protected:
  const ContextStyle& s() const { return *GetParam(); }
};

TEST_P(ContextStyleTest, AsyncLocalFlowsIntoTheMethodAndAcrossItsAwait) {
  duet::AsyncLocal<std::string> local;
  local.set_value("caller");
  TaskCompletionSource<> gate;
  Task<std::string> t = s().local_flows_across_await(local, gate.task());
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(local.value(), "caller");  // the method's set stayed inside the method
  open_on_pool(gate);                  // resumes on a pool thread, in the method's own context
  EXPECT_EQ(t.result(), "caller|caller+callee");
  EXPECT_EQ(local.value(), "caller");
}

TEST_P(ContextStyleTest, AsyncLocalFlowsWhenTheAwaitCompletesSynchronously) {
  duet::AsyncLocal<std::string> local;
  local.set_value("caller");
  Task<std::string> t = s().local_flows_across_await(local, duet::completed_task());
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), "caller|caller+callee");
  EXPECT_EQ(local.value(), "caller");  // restored when the method returned synchronously
}

TEST_P(ContextStyleTest, ChildChangesStayWithTheChild) {
  duet::AsyncLocal<std::string> local;
  TaskCompletionSource<> gate;
  Task<std::string> t = s().child_isolation(local, gate.task());
  EXPECT_EQ(local.value(), "");  // neither the parent's nor the child's value leaked out
  open_on_pool(gate);
  EXPECT_EQ(t.result(), "parent>child|parent");
  EXPECT_EQ(local.value(), "");
}

TEST_P(ContextStyleTest, AwaitResumesOnTheCapturedSynchronizationContext) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<> gate;
  Task<ResumePoint> t = s().resume_where(gate.task(), true);
  EXPECT_FALSE(t.is_completed());
  duet::run([gate]() mutable { gate.set_result(); });  // the continuation is posted to `ui`
  ui.run_until(t);
  const ResumePoint p = t.result();
  EXPECT_EQ(p.thread_before, std::this_thread::get_id());
  EXPECT_EQ(p.context_before, &ui);
  EXPECT_EQ(p.thread_after, std::this_thread::get_id());  // back on the "UI thread"
  EXPECT_EQ(p.context_after, &ui);
}

TEST_P(ContextStyleTest, ConfigureAwaitFalseResumesWhereTheAwaitedTaskCompleted) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  TaskCompletionSource<> gate;
  Task<ResumePoint> t = s().resume_where(gate.task(), false);
  open_on_pool(gate);  // the continuation runs inline on the pool thread: nothing is posted
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(ui.pending_count(), 0u);
  const ResumePoint p = t.result();
  EXPECT_EQ(p.context_before, &ui);
  EXPECT_NE(p.thread_after, std::this_thread::get_id());
  EXPECT_EQ(p.context_after, nullptr);
}

TEST_P(ContextStyleTest, NoContextMeansResumeOnTheCompletingThread) {
  TaskCompletionSource<> gate;
  Task<ResumePoint> t = s().resume_where(gate.task(), true);
  open_on_pool(gate);
  const ResumePoint p = t.result();
  EXPECT_EQ(p.context_before, nullptr);
  EXPECT_NE(p.thread_after, std::this_thread::get_id());
  EXPECT_EQ(p.context_after, nullptr);
}

std::string context_style_name(const ::testing::TestParamInfo<const ContextStyle*>& info) {
  return info.param->name;
}

INSTANTIATE_TEST_SUITE_P(ContextStyles, ContextStyleTest,
                         ::testing::ValuesIn(registered_context_styles()), context_style_name);

// Every style of the semantic suite implements the context scenarios too.
TEST(ContextStyleRegistry, EveryStyleHasItsContextScenarios) {
  ASSERT_FALSE(registered_context_styles().empty());
  for (const Style* style : registered_styles()) {
    bool found = false;
    for (const ContextStyle* c : registered_context_styles()) {
      if (std::string(c->name) == style->name) found = true;
    }
    EXPECT_TRUE(found) << "style '" << style->name << "' has no tests/semantic/context_" << style->name
                       << ".cpp registering its ContextStyle (context_styles.hpp)";
  }
}

}  // namespace
}  // namespace styles
