// test_single_thread_context.cpp — the message loop: post/send, the pumping calls, ownership,
// exceptions escaping the pump, operation counting, awaits resuming on the loop.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

namespace {

TEST(SingleThreadContext, RunsPostedItemsInOrderOnThePumpingThread) {
  duet::SingleThreadContext ui;
  std::vector<int> order;
  std::vector<duet::SynchronizationContext*> seen_ctx;
  for (int i = 0; i < 3; ++i) {
    ui.post([&, i] {
      order.push_back(i);
      seen_ctx.push_back(duet::SynchronizationContext::current());
    });
  }
  EXPECT_EQ(ui.pending_count(), 3u);
  EXPECT_TRUE(order.empty());  // nothing runs until someone pumps
  EXPECT_TRUE(ui.run_one());
  EXPECT_EQ(order, std::vector<int>{0});
  EXPECT_EQ(ui.run_until_empty(), 2u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(seen_ctx, std::vector<duet::SynchronizationContext*>(3, &ui));
  EXPECT_FALSE(ui.run_one());
  EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);  // restored after pumping
}

TEST(SingleThreadContext, RunUntilEmptyRunsItemsPostedByItems) {
  duet::SingleThreadContext ui;
  int ran = 0;
  ui.post([&] {
    ++ran;
    ui.post([&] { ++ran; });
  });
  EXPECT_EQ(ui.run_until_empty(), 2u);
  EXPECT_EQ(ran, 2);
}

TEST(SingleThreadContext, PumpingFromASecondThreadThrows) {
  duet::SingleThreadContext ui;
  ui.run_until_empty();  // binds this thread
  EXPECT_TRUE(ui.is_owner_thread());
  std::string message;
  std::thread([&] {
    try {
      ui.run_one();
    } catch (const duet::InvalidOperationError& e) {
      message = e.what();
    }
  }).join();
  EXPECT_NE(message.find("another thread"), std::string::npos) << message;
}

TEST(SingleThreadContext, RunUntilOnACompletedTaskReturnsAtOnce) {
  duet::SingleThreadContext ui;
  ui.post([] {});
  ui.run_until(duet::completed_task());
  EXPECT_EQ(ui.pending_count(), 1u);
}

TEST(SingleThreadContext, RunUntilCompletionInsideAnItem) {
  duet::SingleThreadContext ui;
  duet::TaskCompletionSource<> tcs;
  ui.post([&] { tcs.set_result(); });
  ui.run_until(tcs.task());
  EXPECT_TRUE(tcs.task().is_completed());
}

TEST(SingleThreadContext, RunStopsAfterCompleteAndDrains) {
  duet::SingleThreadContext ui;
  int ran = 0;
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) ui.post([&] { ++ran; });
    ui.complete();
  });
  ui.run();
  producer.join();
  EXPECT_EQ(ran, 100);
}

TEST(SingleThreadContext, SendRunsOnTheOwnerAndPropagatesExceptions) {
  duet::SingleThreadContext ui;
  ui.run_until_empty();  // this thread owns it
  const auto ui_id = std::this_thread::get_id();
  std::thread::id ran_on;
  std::string error;
  std::thread other([&] {
    ui.send([&] { ran_on = std::this_thread::get_id(); });
    try {
      ui.send([] { throw std::runtime_error("from send"); });
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    ui.complete();
  });
  ui.run();
  other.join();
  EXPECT_EQ(ran_on, ui_id);
  EXPECT_EQ(error, "from send");
  // On the owner itself send runs inline.
  bool inline_ran = false;
  ui.send([&] { inline_ran = true; });
  EXPECT_TRUE(inline_ran);
}

TEST(SingleThreadContext, ExceptionFromAPostedCallbackEscapesThePump) {
  duet::SingleThreadContext ui;
  int after = 0;
  ui.post([] { throw std::logic_error("handler failed"); });
  ui.post([&] { ++after; });
  EXPECT_THROW(ui.run_until_empty(), std::logic_error);
  EXPECT_EQ(after, 0);  // the pump stopped at the exception, as a UI loop does
  EXPECT_EQ(ui.run_until_empty(), 1u);  // pumping again continues with the rest
  EXPECT_EQ(after, 1);
}

TEST(SingleThreadContext, OperationCountingWakesTheLoop) {
  duet::SingleThreadContext ui;
  ui.operation_started();
  ui.operation_started();
  EXPECT_EQ(ui.outstanding_operations(), 2);
  std::thread other([&] {
    ui.operation_completed();
    ui.post([&] { ui.operation_completed(); });
  });
  ui.run_until_operations_complete();
  other.join();
  EXPECT_EQ(ui.outstanding_operations(), 0);
}

TEST(SingleThreadContext, DestructorRunsWhatIsStillQueued) {
  int ran = 0;
  {
    duet::SingleThreadContext ui;
    ui.post([&] { ++ran; });
  }
  EXPECT_EQ(ran, 1);
}

}  // namespace
