// deadlock/dsl.cpp — the classic sync-over-async deadlock (seed 004 "Common Errors"; seed 003
// §8), detected instead of hanging, then both fixes. The same methods as explicit.cpp in the
// DUET_* macro DSL (Button_ClickAsync is an async void method: duet::AsyncVoidMethod).
//
//   async Task<int> GetValueAsync(Task<int> io, bool continueOnCapturedContext)
//   {
//       int v = await io.ConfigureAwait(continueOnCapturedContext);
//       return v + 1;
//   }
//
//   void Button_Click()              { int v = GetValueAsync(io, true).Result; }   // deadlock
//   async void Button_ClickAsync()   { int v = await GetValueAsync(io, true); }    // fix 1
//   void Button_Click_Library()      { int v = GetValueAsync(io, false).Result; }  // fix 2
//
// The UI thread blocks in .Result; GetValueAsync's continuation was captured with the UI context,
// so it is posted to the UI loop — whose only thread is the one blocking. .NET hangs forever;
// duet sees the continuation arrive for the task the owner is blocked on and throws
// DeadlockError. The continuation stays queued, so pumping afterwards still completes the task.
#include <cstdio>
#include <thread>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/sm/dsl.hpp"

namespace {

using context_sample::thread_role;

// GetValueAsync — `async Task<int> GetValueAsync(Task<int> io, bool continueOnCapturedContext)`.
struct GetValueAsync : duet::AsyncMethod<GetValueAsync, int> {
  duet::Task<int> io_;                 // parameter `io`
  bool continue_on_captured_context_;  // parameter `continueOnCapturedContext`
  int v_ = 0;                          // local `v`

  GetValueAsync(duet::Task<int> io, bool continue_on_captured_context)
      : io_(std::move(io)), continue_on_captured_context_(continue_on_captured_context) {}

  void move_next() {
    DUET_BEGIN
      std::printf("GetValueAsync: awaiting the I/O on %s (configure_await(%s))\n", thread_role(),
                  continue_on_captured_context_ ? "true" : "false");
      DUET_AWAIT_INTO(v_, io_.configure_await(continue_on_captured_context_));
      std::printf("GetValueAsync: resumed on %s\n", thread_role());
      DUET_RETURN(v_ + 1);
    DUET_END
  }
};

// ButtonClickAsync — `async void Button_ClickAsync()`, the handler that awaits.
struct ButtonClickAsync : duet::AsyncVoidMethod<ButtonClickAsync> {
  duet::Task<int> io_;
  int v_ = 0;

  explicit ButtonClickAsync(duet::Task<int> io) : io_(std::move(io)) {}

  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(v_, duet::start<GetValueAsync>(io_, true));
      std::printf("Button_ClickAsync: got %d on %s\n", v_, thread_role());
    DUET_END
  }
};

// io_finishes_on_pool(io, ui, when_ui_blocks) — the simulated device: a pool thread completes
// the I/O; with when_ui_blocks, only once the UI thread is blocked in wait()/result().
void io_finishes_on_pool(duet::TaskCompletionSource<int> io, duet::SingleThreadContext& ui,
                         bool when_ui_blocks) {
  duet::run([io, &ui, when_ui_blocks]() mutable {
    while (when_ui_blocks && !ui.is_owner_blocked()) std::this_thread::yield();
    std::printf("device: I/O finished on %s\n", thread_role());
    io.set_result(41);
  });
}

}  // namespace

int main() {
  context_sample::set_thread_role("ui thread");
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);

  std::printf("== 1. Button_Click blocks the UI thread with result()\n");
  {
    duet::TaskCompletionSource<int> io;
    duet::Task<int> t = duet::start<GetValueAsync>(io.task(), true);
    io_finishes_on_pool(io, ui, true);
    std::printf("Button_Click: blocking in result() on %s\n", thread_role());
    try {
      const int v = t.result();
      std::printf("Button_Click: got %d (no deadlock?)\n", v);
    } catch (const duet::DeadlockError& e) {
      std::printf("DeadlockError: %s\n", e.what());
    }
    std::printf("Button_Click: %zu continuation still queued on the UI loop; pumping it\n",
                ui.pending_count());
    ui.run_until(t);
    std::printf("Button_Click: the task completed after all: %d\n", t.result());
  }

  std::printf("\n== 2. fix 1: await instead of blocking (async all the way up)\n");
  {
    duet::TaskCompletionSource<int> io;
    duet::start<ButtonClickAsync>(io.task());
    io_finishes_on_pool(io, ui, false);
    ui.run_until_operations_complete();
  }

  std::printf("\n== 3. fix 2: configure_await(false) down the chain; blocking now returns\n");
  {
    duet::TaskCompletionSource<int> io;
    duet::Task<int> t = duet::start<GetValueAsync>(io.task(), false);
    io_finishes_on_pool(io, ui, true);
    std::printf("Button_Click: blocking in result() on %s\n", thread_role());
    std::printf("Button_Click: got %d on %s\n", t.result(), thread_role());
  }
  return 0;
}
