// ui_context/fiber.cpp — where an await resumes when the caller runs on a UI loop (seed 004,
// worked example 4; seed 003, "UI Responsiveness"), in the fiber style.
//
//   async Task UpdateStatusAsync(Task<int> download, bool continueOnCapturedContext)
//   {
//       Console.WriteLine($"UpdateStatusAsync: started on {role}");
//       int bytes = await download.ConfigureAwait(continueOnCapturedContext);
//       Console.WriteLine($"UpdateStatusAsync: resumed on {role}");
//   }
//
//   async void OnUploadButtonClick(bool fail)
//   {
//       StatusLabel.Text = "Uploading...";
//       try {
//           await Task.Run(() => ProcessLargeFile(fail));
//           StatusLabel.Text = "Upload Complete!";      // back on the UI thread
//       } catch (Exception ex) {
//           StatusLabel.Text = "Error: " + ex.Message;
//       } finally {
//           UploadButton.IsEnabled = true;
//       }
//   }
//
// The main thread plays the UI thread: it installs a SingleThreadContext and pumps it. The fiber
// captures that context at its await (its switch-out registers the fiber's continuation with the
// context captured), so the fiber is switched back in by the loop, on the UI thread;
// configure_await(false) captures nothing, so the fiber resumes on the pool thread that completed
// the download. The async void handler is duet::fiber::async_void, which reports to the loop's
// operation count as AsyncVoidMethodBuilder does.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/fiber/async_void.hpp"
#include "duet/fiber/fiber.hpp"

namespace {

// role() — context_sample::thread_role() behind a call the optimiser cannot see through: the role
// lives in a thread_local, and after an await the fiber may run on another thread (see "Fibers
// migrate" in duet/fiber/fiber.hpp).
[[gnu::noinline]] const char* role() {
  asm volatile("" ::: "memory");
  return context_sample::thread_role();
}

duet::Task<> update_status_async(duet::Task<int> download, bool continue_on_captured_context) {
  return duet::fiber::async([download = std::move(download), continue_on_captured_context] {
    std::printf("UpdateStatusAsync: started on %s\n", role());
    auto awaitable = download.configure_await(continue_on_captured_context);
    if (!download.is_completed()) {
      std::printf("UpdateStatusAsync: download pending, returning to the loop\n");
    }
    const int bytes = duet::await(awaitable);
    std::printf("UpdateStatusAsync: resumed on %s; status label = \"%d bytes\"\n", role(), bytes);
  });
}

void process_large_file(bool fail) {
  std::printf("ProcessLargeFile: crunching on %s\n", role());
  if (fail) throw std::runtime_error("disk full");
}

void on_upload_button_click(bool fail) {
  duet::fiber::async_void([fail] {
    std::printf("OnUploadButtonClick: StatusLabel.Text = \"Uploading...\" (on %s)\n", role());
    try {
      duet::await(duet::run([fail] { process_large_file(fail); }));
      std::printf("OnUploadButtonClick: StatusLabel.Text = \"Upload Complete!\" (on %s)\n", role());
    } catch (const std::exception& ex) {
      std::printf("OnUploadButtonClick: StatusLabel.Text = \"Error: %s\" (on %s)\n", ex.what(),
                  role());
    }
    // finally
    std::printf("OnUploadButtonClick: UploadButton.IsEnabled = true (on %s)\n", role());
  });
}

// download_completes_on_pool(download, bytes) — the simulated network: a pool thread completes
// the download (only after the awaiting method has suspended, so the output is stable).
void download_completes_on_pool(duet::TaskCompletionSource<int> download, int bytes) {
  duet::run([download, bytes]() mutable {
    std::printf("network: download finished on %s\n", role());
    download.set_result(bytes);
  });
}

}  // namespace

int main() {
  context_sample::set_thread_role("ui thread");
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);

  std::printf("== 1. await captures the UI context: the continuation is posted back to the loop\n");
  {
    duet::TaskCompletionSource<int> download;
    duet::Task<> t = update_status_async(download.task(), true);
    download_completes_on_pool(download, 1024);
    ui.run_until(t);
    t.wait();
  }

  std::printf("\n== 2. configure_await(false): the continuation runs on the pool thread\n");
  {
    duet::TaskCompletionSource<int> download;
    duet::Task<> t = update_status_async(download.task(), false);
    download_completes_on_pool(download, 2048);
    ui.run_until(t);
    t.wait();
  }

  std::printf("\n== 3. an async void event handler offloads work with run() and resumes on the UI\n");
  on_upload_button_click(false);  // returns at its first await; the loop then runs the rest
  ui.run_until_operations_complete();

  std::printf("\n== 4. the same handler when the work fails\n");
  on_upload_button_click(true);
  ui.run_until_operations_complete();
  std::printf("main: all handlers finished (outstanding operations: %ld)\n",
              ui.outstanding_operations());
  return 0;
}
