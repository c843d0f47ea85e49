// deadlock — the classic sync-over-async deadlock (seed 004 "Common Errors"; seed 003 §8),
// detected instead of hanging, then both fixes.
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
//
// The driver, shared by the three styles: main(), the simulated device and the thread names.
// explicit.cpp, dsl.cpp and fiber.cpp define the two async methods, each in its own style.
#pragma once

#include <cstdio>
#include <thread>
#include <utility>

#include <duet/duet.hpp>

#include "context_roles.hpp"

namespace {

using context_sample::thread_role;

// get_value_async(io, continue_on_captured_context) — GetValueAsync; one per style.
duet::Task<int> get_value_async(duet::Task<int> io, bool continue_on_captured_context);
// button_click_async(io) — Button_ClickAsync, an async void handler that awaits; one per style.
void button_click_async(duet::Task<int> io);

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
    duet::Task<int> t = get_value_async(io.task(), true);
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
    button_click_async(io.task());
    io_finishes_on_pool(io, ui, false);
    ui.run_until_operations_complete();
  }

  std::printf("\n== 3. fix 2: configure_await(false) down the chain; blocking now returns\n");
  {
    duet::TaskCompletionSource<int> io;
    duet::Task<int> t = get_value_async(io.task(), false);
    io_finishes_on_pool(io, ui, true);
    std::printf("Button_Click: blocking in result() on %s\n", thread_role());
    std::printf("Button_Click: got %d on %s\n", t.result(), thread_role());
  }
  return 0;
}
