// ui_context/explicit.cpp — where an await resumes when the caller runs on a UI loop (seed 004,
// worked example 4; seed 003, "UI Responsiveness"), written as explicit state machines.
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
#include <stdexcept>
#include <string>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"

namespace {

using context_sample::thread_role;

// UpdateStatusStateMachine — `<UpdateStatusAsync>d__0`.
struct UpdateStatusStateMachine {
  int state_ = -1;                           // <>1__state
  duet::AsyncTaskMethodBuilder<> builder_;   // <>t__builder
  duet::Task<int> download_;                 // parameter `download`
  bool continue_on_captured_context_ = true;  // parameter `continueOnCapturedContext`
  duet::TaskAwaiter<int> awaiter_;           // <>u__1

  void move_next() {
    int num = state_;
    try {
      duet::TaskAwaiter<int> awaiter;
      if (num != 0) {
        std::printf("UpdateStatusAsync: started on %s\n", thread_role());
        awaiter = download_.configure_await(continue_on_captured_context_).get_awaiter();
        if (!awaiter.is_completed()) {
          std::printf("UpdateStatusAsync: download pending, returning to the loop\n");
          num = state_ = 0;
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        num = state_ = -1;
      }
      const int bytes = awaiter.get_result();
      std::printf("UpdateStatusAsync: resumed on %s; status label = \"%d bytes\"\n", thread_role(),
                  bytes);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> update_status_async(duet::Task<int> download, bool continue_on_captured_context) {
  UpdateStatusStateMachine sm;  // builder_ starts as AsyncTaskMethodBuilder<>::create() would
  sm.download_ = std::move(download);
  sm.continue_on_captured_context_ = continue_on_captured_context;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

void process_large_file(bool fail) {
  std::printf("ProcessLargeFile: crunching on %s\n", thread_role());
  if (fail) throw std::runtime_error("disk full");
}

// OnUploadButtonClickStateMachine — `<OnUploadButtonClick>d__1`, an async void method.
struct OnUploadButtonClickStateMachine {
  int state_ = -1;
  duet::AsyncVoidMethodBuilder builder_;
  bool fail_ = false;
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    int num = state_;
    try {
      if (num != 0) {
        std::printf("OnUploadButtonClick: StatusLabel.Text = \"Uploading...\" (on %s)\n",
                    thread_role());
      }
      try {
        duet::TaskAwaiter<void> awaiter;
        if (num != 0) {
          const bool fail = fail_;
          awaiter = duet::run([fail] { process_large_file(fail); }).get_awaiter();
          if (!awaiter.is_completed()) {
            num = state_ = 0;
            awaiter_ = awaiter;
            builder_.await_unsafe_on_completed(awaiter, *this);
            return;  // leaves the try block without running the `finally` below
          }
        } else {
          awaiter = std::move(awaiter_);
          awaiter_ = {};
          num = state_ = -1;
        }
        awaiter.get_result();
        std::printf("OnUploadButtonClick: StatusLabel.Text = \"Upload Complete!\" (on %s)\n",
                    thread_role());
      } catch (const std::exception& ex) {
        std::printf("OnUploadButtonClick: StatusLabel.Text = \"Error: %s\" (on %s)\n", ex.what(),
                    thread_role());
      }
      // finally (reached only when the method is not suspending: num < 0)
      std::printf("OnUploadButtonClick: UploadButton.IsEnabled = true (on %s)\n", thread_role());
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

void on_upload_button_click(bool fail) {
  OnUploadButtonClickStateMachine sm;
  sm.fail_ = fail;
  sm.builder_.start(sm);
}

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
