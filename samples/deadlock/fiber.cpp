// deadlock/fiber.cpp — the classic sync-over-async deadlock (seed 004 "Common Errors"; seed 003
// §8), detected instead of hanging, then both fixes. Fiber style.
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
// The UI thread blocks in .Result; GetValueAsync's fiber suspended with the UI context captured,
// so its continuation is posted to the UI loop — whose only thread is the one blocking. The
// fiber's continuation names the fiber's task as its owner, exactly as a state-machine box does,
// so duet follows the same chain (continuation -> GetValueAsync's task, the one being waited for)
// and throws DeadlockError. The continuation stays queued, so pumping afterwards still completes
// the task.
#include <cstdio>
#include <thread>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/fiber/async_void.hpp"
#include "duet/fiber/fiber.hpp"

namespace {

// role() — context_sample::thread_role() behind a call the optimiser cannot see through (the role
// is thread-local and a fiber may resume on another thread; see duet/fiber/fiber.hpp).
[[gnu::noinline]] const char* role() {
  asm volatile("" ::: "memory");
  return context_sample::thread_role();
}

duet::Task<int> get_value_async(duet::Task<int> io, bool continue_on_captured_context) {
  return duet::fiber::async([io = std::move(io), continue_on_captured_context] {
    std::printf("GetValueAsync: awaiting the I/O on %s (configure_await(%s))\n", role(),
                continue_on_captured_context ? "true" : "false");
    const int v = duet::await(io.configure_await(continue_on_captured_context));
    std::printf("GetValueAsync: resumed on %s\n", role());
    return v + 1;
  });
}

// button_click_async(io) — Button_ClickAsync, an async void handler that awaits.
void button_click_async(duet::Task<int> io) {
  duet::fiber::async_void([io = std::move(io)] {
    const int v = duet::await(get_value_async(io, true));
    std::printf("Button_ClickAsync: got %d on %s\n", v, role());
  });
}

// io_finishes_on_pool(io, ui, when_ui_blocks) — the simulated device: a pool thread completes
// the I/O; with when_ui_blocks, only once the UI thread is blocked in wait()/result().
void io_finishes_on_pool(duet::TaskCompletionSource<int> io, duet::SingleThreadContext& ui,
                         bool when_ui_blocks) {
  duet::run([io, &ui, when_ui_blocks]() mutable {
    while (when_ui_blocks && !ui.is_owner_blocked()) std::this_thread::yield();
    std::printf("device: I/O finished on %s\n", role());
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
    std::printf("Button_Click: blocking in result() on %s\n", role());
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
    std::printf("Button_Click: blocking in result() on %s\n", role());
    std::printf("Button_Click: got %d on %s\n", t.result(), role());
  }
  return 0;
}
