// ui_context/dsl.cpp — where an await resumes when the caller runs on a UI loop (seed 004,
// worked example 4; seed 003, "UI Responsiveness"), in the DUET_* macro DSL: the same methods as
// explicit.cpp, the async void handler included (duet::AsyncVoidMethod), with move_next()
// written by the macros — and the handler's try/catch/finally written as one, as in the C#.
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
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/sm/dsl.hpp"

namespace {

using context_sample::thread_role;

// UpdateStatusAsync — parameters and the local that lives across the await are members.
struct UpdateStatusAsync : duet::AsyncMethod<UpdateStatusAsync> {
  duet::Task<int> download_;           // parameter `download`
  bool continue_on_captured_context_;  // parameter `continueOnCapturedContext`
  int bytes_ = 0;                      // local `bytes`

  UpdateStatusAsync(duet::Task<int> download, bool continue_on_captured_context)
      : download_(std::move(download)), continue_on_captured_context_(continue_on_captured_context) {}

  void move_next() {
    DUET_BEGIN
      std::printf("UpdateStatusAsync: started on %s\n", thread_role());
      if (!download_.is_completed()) {
        std::printf("UpdateStatusAsync: download pending, returning to the loop\n");
      }
      DUET_AWAIT_INTO(bytes_, download_.configure_await(continue_on_captured_context_));
      std::printf("UpdateStatusAsync: resumed on %s; status label = \"%d bytes\"\n", thread_role(),
                  bytes_);
    DUET_END
  }
};

void process_large_file(bool fail) {
  std::printf("ProcessLargeFile: crunching on %s\n", thread_role());
  if (fail) throw std::runtime_error("disk full");
}

// OnUploadButtonClick — an async void method: duet::start<OnUploadButtonClick>(fail) returns
// nothing; the UI loop counts it as an outstanding operation until it ends.
struct OnUploadButtonClick : duet::AsyncVoidMethod<OnUploadButtonClick> {
  bool fail_;  // parameter `fail`

  explicit OnUploadButtonClick(bool fail) : fail_(fail) {}

  void move_next() {
    DUET_BEGIN
      std::printf("OnUploadButtonClick: StatusLabel.Text = \"Uploading...\" (on %s)\n",
                  thread_role());
      DUET_TRY
        DUET_AWAIT(duet::run([fail = fail_] { process_large_file(fail); }));
        std::printf("OnUploadButtonClick: StatusLabel.Text = \"Upload Complete!\" (on %s)\n",
                    thread_role());
      DUET_CATCH(const std::exception&, ex)
        std::printf("OnUploadButtonClick: StatusLabel.Text = \"Error: %s\" (on %s)\n", ex.what(),
                    thread_role());
      DUET_FINALLY
        std::printf("OnUploadButtonClick: UploadButton.IsEnabled = true (on %s)\n", thread_role());
      DUET_END_TRY
    DUET_END
  }
};

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
    duet::Task<> t = duet::start<UpdateStatusAsync>(download.task(), true);
    download_completes_on_pool(download, 1024);
    ui.run_until(t);
    t.wait();
  }

  std::printf("\n== 2. configure_await(false): the continuation runs on the pool thread\n");
  {
    duet::TaskCompletionSource<int> download;
    duet::Task<> t = duet::start<UpdateStatusAsync>(download.task(), false);
    download_completes_on_pool(download, 2048);
    ui.run_until(t);
    t.wait();
  }

  std::printf("\n== 3. an async void event handler offloads work with run() and resumes on the UI\n");
  duet::start<OnUploadButtonClick>(false);  // returns at its first await; the loop runs the rest
  ui.run_until_operations_complete();

  std::printf("\n== 4. the same handler when the work fails\n");
  duet::start<OnUploadButtonClick>(true);
  ui.run_until_operations_complete();
  std::printf("main: all handlers finished (outstanding operations: %ld)\n",
              ui.outstanding_operations());
  return 0;
}
