// test_task_awaiter.cpp — ports of dotnet/runtime's TaskAwaiter tests
// (src/libraries/System.Threading.Tasks/tests/System.Runtime.CompilerServices/TaskAwaiterTests.cs),
// one gtest per .NET test method; a [Theory]'s rows run inside the one gtest. An `Action`
// callback handed to OnCompleted is a CallbackNode (a Continuation running a std::function).
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"

namespace {

using duet::Task;
using duet::TaskCompletionSource;

class DotnetTaskAwaiter : public duet::testing::DuetTest {};

// CallbackNode — OnCompleted(Action): runs `fn`, then signals `done`.
struct CallbackNode : duet::Continuation {
  explicit CallbackNode(std::function<void()> f) : fn(std::move(f)) {
    invoke = [](duet::Continuation* c) noexcept {
      auto* self = static_cast<CallbackNode*>(c);
      self->fn();
      self->done.store(1);
      self->done.notify_all();
    };
  }
  void wait() {
    while (done.load() == 0) done.wait(0);
  }
  std::function<void()> fn;
  std::atomic<int> done{0};
};

// ValidateCorrectContextSynchronizationContext (the .NET helper): posts to the pool and marks the
// callbacks it runs.
thread_local bool t_is_posted_in_context = false;
class ValidateCorrectContext final : public duet::SynchronizationContext {
 public:
  void post(duet::Continuation& c) noexcept override {
    post_count.fetch_add(1);
    item_.target = &c;
    item_.owner = this;
    item_.invoke = [](duet::Continuation* n) noexcept {
      auto* item = static_cast<Item*>(n);
      duet::SyncContextScope scope(item->owner);
      t_is_posted_in_context = true;
      duet::run_continuation(item->target);
      t_is_posted_in_context = false;
    };
    duet::default_scheduler().post(item_);
  }
  std::atomic<int> post_count{0};

 private:
  struct Item : duet::Continuation {
    duet::Continuation* target = nullptr;
    ValidateCorrectContext* owner = nullptr;
  };
  Item item_;  // one post at a time in these tests
};

// TaskAwaiterTests.cs, OnCompleted_CompletesInAnotherSynchronizationContext
TEST_F(DotnetTaskAwaiter, OnCompleted_CompletesInAnotherSynchronizationContext) {
  for (int mode = 0; mode < 3; ++mode) {  // continueOnCapturedContext: false, true, null (default)
    ValidateCorrectContext validate;
    bool posted_in_context = false;
    TaskCompletionSource<int> tcs;
    CallbackNode callback([&] { posted_in_context = t_is_posted_in_context; });
    {
      duet::SyncContextScope scope(&validate);
      if (mode == 2) {
        tcs.task().get_awaiter().on_completed(callback);
      } else {
        duet::get_awaiter(tcs.task().configure_await(mode == 1)).on_completed(callback);
      }
    }
    EXPECT_EQ(callback.done.load(), 0) << "Callback should not yet have run.";
    auto completer = duet::run([&] { tcs.set_result(0); });
    callback.wait();
    completer.wait();
    const bool should_have_posted = mode != 0;
    EXPECT_EQ(validate.post_count.load(), should_have_posted ? 1 : 0);
    EXPECT_EQ(posted_in_context, should_have_posted);
  }
}

// TaskAwaiterTests.cs, Await_TaskCompletesOnNonDefaultSyncCtx_ContinuesOnDefaultSyncCtx (rule 1)
TEST_F(DotnetTaskAwaiter, Await_TaskCompletesOnNonDefaultSyncCtx_ContinuesOnDefaultSyncCtx) {
  duet::run([] {
    EXPECT_EQ(duet::SynchronizationContext::current(), nullptr);
    ValidateCorrectContext ctx;
    TaskCompletionSource<> tcs;
    duet::SynchronizationContext* seen = &ctx;
    CallbackNode callback([&] { seen = duet::SynchronizationContext::current(); });
    tcs.task().get_awaiter().on_completed(callback);  // no context current: none captured
    std::thread([&] {
      duet::SyncContextScope scope(&ctx);  // the completer has a context of its own
      tcs.set_result();
    }).join();
    callback.wait();
    EXPECT_EQ(seen, nullptr);
    EXPECT_EQ(ctx.post_count.load(), 0);
  }).wait();
}

// TaskAwaiterTests.cs, Await_MultipleAwaits_FirstCompletesAccordingToOptions_RestCompleteAsynchronously
// (the rows without a TaskScheduler; ValueTask rows await a ValueTask wrapping the task)
TEST_F(DotnetTaskAwaiter, Await_MultipleAwaits_FirstCompletesAccordingToOptions_RestCompleteAsynchronously) {
  static thread_local int tl = 0;
  for (int num_continuations : {1, 2, 5}) {
    for (bool run_async : {false, true}) {
      for (bool value_task : {false, true}) {
        TaskCompletionSource<> tcs(run_async ? duet::TaskCreationOptions::run_continuations_asynchronously
                                             : duet::TaskCreationOptions::none);
        std::vector<std::unique_ptr<CallbackNode>> nodes;
        std::vector<duet::ValueTaskAwaiter<void>> vt_awaiters;
        vt_awaiters.reserve(static_cast<std::size_t>(num_continuations));
        std::vector<int> seen(static_cast<std::size_t>(num_continuations), -1);
        for (int i = 0; i < num_continuations; ++i) {
          nodes.push_back(std::make_unique<CallbackNode>([&seen, i] { seen[static_cast<std::size_t>(i)] = tl; }));
          if (value_task) {
            vt_awaiters.push_back(duet::get_awaiter(duet::ValueTask<>(tcs.task())));
            vt_awaiters.back().unsafe_on_completed(*nodes.back());
          } else {
            tcs.task().get_awaiter().unsafe_on_completed(*nodes.back());
          }
        }
        tl = 42;
        tcs.set_result();
        tl = 0;
        for (auto& n : nodes) n->wait();
        for (int i = 0; i < num_continuations; ++i) {
          const bool expected_sync = i == 0 && !run_async;
          EXPECT_EQ(seen[static_cast<std::size_t>(i)], expected_sync ? 42 : 0)
              << "continuation " << i << " of " << num_continuations << (run_async ? " async" : "")
              << (value_task ? " valuetask" : "");
        }
      }
    }
  }
}

// TaskAwaiterTests.cs, GetResult_Completed_Success
TEST_F(DotnetTaskAwaiter, GetResult_Completed_Success) {
  Task<> task = duet::completed_task();
  task.get_awaiter().get_result();
  duet::get_awaiter(task.configure_await(false)).get_result();
  duet::get_awaiter(task.configure_await(true)).get_result();
  Task<std::string> of_string = duet::from_result(std::string("42"));
  EXPECT_EQ(of_string.get_awaiter().get_result(), "42");
  EXPECT_EQ(duet::get_awaiter(of_string.configure_await(false)).get_result(), "42");
  EXPECT_EQ(duet::get_awaiter(of_string.configure_await(true)).get_result(), "42");
}

// TaskAwaiterTests.cs, GetResult_CanceledTask_ThrowsCancellationException
TEST_F(DotnetTaskAwaiter, GetResult_CanceledTask_ThrowsCancellationException) {
  Task<std::string> canceled = duet::from_canceled<std::string>();
  EXPECT_THROW((void)canceled.get_awaiter().get_result(), duet::TaskCanceledError);
  EXPECT_THROW((void)duet::get_awaiter(canceled.configure_await(false)).get_result(), duet::TaskCanceledError);
  EXPECT_THROW((void)duet::get_awaiter(canceled.configure_await(true)).get_result(), duet::TaskCanceledError);
}

// TaskAwaiterTests.cs, GetResult_FaultedTask_OneException_ThrowsOriginalException
TEST_F(DotnetTaskAwaiter, GetResult_FaultedTask_OneException_ThrowsOriginalException) {
  auto exception = std::make_exception_ptr(duet::ArgumentError("uh oh"));
  Task<std::string> task = duet::from_exception<std::string>(exception);
  for (int form = 0; form < 3; ++form) {
    try {
      if (form == 0) (void)task.get_awaiter().get_result();
      if (form == 1) (void)duet::get_awaiter(task.configure_await(false)).get_result();
      if (form == 2) (void)duet::get_awaiter(task.configure_await(true)).get_result();
      ADD_FAILURE() << "no exception";
    } catch (const duet::ArgumentError&) {
      EXPECT_EQ(std::current_exception(), exception);  // Assert.Same
    }
  }
}

// TaskAwaiterTests.cs, GetResult_FaultedTask_MultipleExceptions_ThrowsFirstException
TEST_F(DotnetTaskAwaiter, GetResult_FaultedTask_MultipleExceptions_ThrowsFirstException) {
  auto exception = std::make_exception_ptr(duet::ArgumentError("uh oh"));
  TaskCompletionSource<std::string> tcs;
  tcs.set_exception(std::vector<std::exception_ptr>{exception, std::make_exception_ptr(duet::InvalidOperationError("uh oh"))});
  Task<std::string> task = tcs.task();
  for (int form = 0; form < 3; ++form) {
    try {
      if (form == 0) (void)task.get_awaiter().get_result();
      if (form == 1) (void)duet::get_awaiter(task.configure_await(false)).get_result();
      if (form == 2) (void)duet::get_awaiter(task.configure_await(true)).get_result();
      ADD_FAILURE() << "no exception";
    } catch (const duet::ArgumentError&) {
      EXPECT_EQ(std::current_exception(), exception);
    }
  }
}

}  // namespace
