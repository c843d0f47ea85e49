// test_unobserved.cpp — TaskScheduler.UnobservedTaskException: a faulted task whose exception
// nobody observed is reported once, when its last handle goes; observed or canceled ones are not.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <duet/duet.hpp>

namespace {

std::vector<std::string> g_reported;
void record(std::exception_ptr e) { g_reported.push_back(duet::describe(e)); }

class UnobservedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_reported.clear();
    previous_ = duet::set_unobserved_task_exception_handler(&record);
  }
  void TearDown() override { duet::set_unobserved_task_exception_handler(previous_); }

  static duet::Task<int> faulted(const char* what) {
    duet::TaskCompletionSource<int> tcs;
    tcs.set_exception(std::runtime_error(what));
    return tcs.task();
  }

  duet::UnobservedTaskExceptionHandler previous_ = nullptr;
};

TEST_F(UnobservedTest, UnobservedFaultIsReportedOnceWhenTheLastHandleGoes) {
  {
    auto t = faulted("lost");
    auto copy = t;
    EXPECT_TRUE(copy.is_faulted());  // status queries do not observe
  }
  EXPECT_EQ(g_reported, std::vector<std::string>{"lost"});
}

TEST_F(UnobservedTest, ResultObserves) {
  {
    auto t = faulted("x");
    EXPECT_THROW((void)t.result(), std::runtime_error);
  }
  EXPECT_TRUE(g_reported.empty());
}

TEST_F(UnobservedTest, WaitObserves) {
  {
    auto t = faulted("x");
    EXPECT_THROW(t.wait(), std::runtime_error);
  }
  EXPECT_TRUE(g_reported.empty());
}

TEST_F(UnobservedTest, ExceptionAccessorObserves) {
  {
    auto t = faulted("x");
    EXPECT_NE(t.exception(), nullptr);
  }
  EXPECT_TRUE(g_reported.empty());
}

TEST_F(UnobservedTest, CanceledIsNotReported) {
  {
    auto t = duet::from_canceled<int>();
    duet::TaskCompletionSource<> tcs;
    tcs.set_canceled();
    EXPECT_TRUE(tcs.task().is_canceled());
  }
  EXPECT_TRUE(g_reported.empty());
}

TEST_F(UnobservedTest, DefaultHandlerIgnores) {
  duet::set_unobserved_task_exception_handler(nullptr);
  { auto t = faulted("ignored by default"); }  // must not terminate
  SUCCEED();
}

}  // namespace
