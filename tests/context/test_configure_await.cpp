// test_configure_await.cpp — where each continuation resumes (seed 004, worked example 4):
// with a UI context an await resumes on the UI loop; with configure_await(false) it resumes on
// the thread that completed the awaited task (a pool thread); without any context, likewise.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include <duet/duet.hpp>

#include "context_machines.hpp"

using ctx_test::async_await;
using ctx_test::Nothing;

namespace {

enum class Where { unknown, ui, pool, other };

struct ConfigureAwaitTest : ::testing::Test {
  duet::SingleThreadContext ui;
  std::thread::id ui_id = std::this_thread::get_id();

  Where where() const {
    if (std::this_thread::get_id() == ui_id) return Where::ui;
    if (duet::is_thread_pool_thread()) return Where::pool;
    return Where::other;
  }

  // resume_of(make_awaitable) — starts a method on the UI loop that awaits what
  // make_awaitable(tcs_task) returns, completes the task from a pool thread *after* the method
  // suspended, pumps until the method ends, and reports where its continuation ran.
  template <class MakeAwaitable>
  Where resume_of(MakeAwaitable make_awaitable) {
    duet::SyncContextScope scope(&ui);
    duet::TaskCompletionSource<> tcs;
    Where resumed = Where::unknown;
    auto t = async_await(Nothing{}, [&] { return make_awaitable(tcs.task()); },
                         [&] { resumed = where(); });
    EXPECT_FALSE(t.is_completed());
    auto completer = duet::run([&] { tcs.set_result(); });
    ui.run_until(t);
    t.wait();
    completer.wait();
    return resumed;
  }
};

TEST_F(ConfigureAwaitTest, DefaultAwaitResumesOnTheUiLoop) {
  EXPECT_EQ(resume_of([](duet::Task<> t) { return t; }), Where::ui);
}

TEST_F(ConfigureAwaitTest, ConfigureAwaitTrueIsTheDefault) {
  EXPECT_EQ(resume_of([](duet::Task<> t) { return t.configure_await(true); }), Where::ui);
}

TEST_F(ConfigureAwaitTest, MemberConfigureAwaitFalseResumesOnThePool) {
  EXPECT_EQ(resume_of([](duet::Task<> t) { return t.configure_await(false); }), Where::pool);
}

TEST_F(ConfigureAwaitTest, FreeConfigureAwaitFalseResumesOnThePool) {
  EXPECT_EQ(resume_of([](duet::Task<> t) { return duet::configure_await(std::move(t), false); }),
            Where::pool);
}

TEST_F(ConfigureAwaitTest, GenericConfigureAwaitFalseHidesTheContextFromAnyAwaitable) {
  // yield() has no member configure_await: the generic wrapper hides the current context, so
  // the continuation goes to the pool instead of the loop.
  duet::SyncContextScope scope(&ui);
  Where resumed = Where::unknown;
  auto t = async_await(Nothing{}, [] { return duet::configure_await(duet::yield(), false); },
                       [&] { resumed = where(); });
  ui.run_until(t);
  EXPECT_EQ(resumed, Where::pool);
  EXPECT_EQ(ui.pending_count(), 0u);
}

TEST_F(ConfigureAwaitTest, WithoutAContextTheContinuationRunsWhereTheTaskCompleted) {
  duet::TaskCompletionSource<> tcs;
  Where resumed = Where::unknown;
  auto t = async_await(Nothing{}, [&] { return tcs.task(); }, [&] { resumed = where(); });
  duet::run([&] { tcs.set_result(); }).wait();
  t.wait();
  EXPECT_EQ(resumed, Where::pool);  // inline on the completing pool thread
}

TEST_F(ConfigureAwaitTest, AlreadyCompletedTaskNeverSwitchesThreads) {
  duet::SyncContextScope scope(&ui);
  Where resumed = Where::unknown;
  auto t = async_await(Nothing{}, [] { return duet::completed_task().configure_await(false); },
                       [&] { resumed = where(); });
  EXPECT_TRUE(t.is_completed());  // the fast path: no suspension at all
  EXPECT_EQ(resumed, Where::ui);
}

TEST_F(ConfigureAwaitTest, CompletingOnTheUiThreadResumesInline) {
  // The captured context is the completing thread's own context: no post needed.
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<> tcs;
  Where resumed = Where::unknown;
  auto t = async_await(Nothing{}, [&] { return tcs.task(); }, [&] { resumed = where(); });
  tcs.set_result();
  EXPECT_TRUE(t.is_completed());
  EXPECT_EQ(resumed, Where::ui);
  EXPECT_EQ(ui.pending_count(), 0u);
}

TEST_F(ConfigureAwaitTest, LibraryUsesConfigureAwaitFalseAndTheUiCodeStillResumesOnTheUi) {
  // The seed's advice: the library's continuation runs on the pool, the UI method's on the UI.
  duet::SyncContextScope scope(&ui);
  duet::TaskCompletionSource<> io;
  Where library_resumed = Where::unknown, ui_resumed = Where::unknown;
  auto library = [&] {
    return async_await(Nothing{}, [&] { return io.task().configure_await(false); },
                       [&] { library_resumed = where(); });
  };
  auto handler = async_await(Nothing{}, library, [&] { ui_resumed = where(); });
  auto completer = duet::run([&] { io.set_result(); });
  ui.run_until(handler);
  completer.wait();
  EXPECT_EQ(library_resumed, Where::pool);
  EXPECT_EQ(ui_resumed, Where::ui);
}

}  // namespace
