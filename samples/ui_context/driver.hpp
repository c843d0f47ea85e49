// ui_context — where an await resumes when the caller runs on a UI loop (seed 004, worked
// example 4; seed 003, "UI Responsiveness").
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
// The main thread plays the UI thread: it installs a SingleThreadContext and pumps it. An await
// captures that context, so the continuation is posted back to the loop; configure_await(false)
// captures nothing, so the continuation runs on the pool thread that completed the download.
//
// The driver, shared by the three styles: main(), the simulated network and the thread names.
// explicit.cpp, dsl.cpp and fiber.cpp define the two async methods, each in its own style.
#pragma once

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <utility>

#include <duet/duet.hpp>

#include "context_roles.hpp"

namespace {

using context_sample::thread_role;

void process_large_file(bool fail) {
  std::printf("ProcessLargeFile: crunching on %s\n", thread_role());
  if (fail) throw std::runtime_error("disk full");
}

// update_status_async(download, continue_on_captured_context) — UpdateStatusAsync; per style.
duet::Task<> update_status_async(duet::Task<int> download, bool continue_on_captured_context);
// on_upload_button_click(fail) — OnUploadButtonClick, an async void method; per style.
void on_upload_button_click(bool fail);

// download_completes_on_pool(download, bytes) — the simulated network: a pool thread completes
// the download (only after the awaiting method has suspended, so the output is stable).
void download_completes_on_pool(duet::TaskCompletionSource<int> download, int bytes) {
  duet::run([download, bytes]() mutable {
    std::printf("network: download finished on %s\n", thread_role());
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
