// ui_context — fiber style. The fiber captures the UI context at its await (its switch-out
// registers the fiber's continuation with the context captured), so the fiber is switched back in
// by the loop, on the UI thread; configure_await(false) captures nothing, so the fiber resumes on
// the pool thread that completed the download. The async void handler is
// duet::fiber::async_void, which reports to the loop's operation count as AsyncVoidMethodBuilder
// does. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> update_status_async(duet::Task<int> download, bool continue_on_captured_context) {
  return duet::fiber::async([download = std::move(download), continue_on_captured_context] {
    std::printf("UpdateStatusAsync: started on %s\n", thread_role());
    auto awaitable = download.configure_await(continue_on_captured_context);
    if (!download.is_completed()) {
      std::printf("UpdateStatusAsync: download pending, returning to the loop\n");
    }
    const int bytes = duet::await(awaitable);
    std::printf("UpdateStatusAsync: resumed on %s; status label = \"%d bytes\"\n", thread_role(),
                bytes);
  });
}

void on_upload_button_click(bool fail) {
  duet::fiber::async_void([fail] {
    std::printf("OnUploadButtonClick: StatusLabel.Text = \"Uploading...\" (on %s)\n",
                thread_role());
    try {
      duet::await(duet::run([fail] { process_large_file(fail); }));
      std::printf("OnUploadButtonClick: StatusLabel.Text = \"Upload Complete!\" (on %s)\n",
                  thread_role());
    } catch (const std::exception& ex) {
      std::printf("OnUploadButtonClick: StatusLabel.Text = \"Error: %s\" (on %s)\n", ex.what(),
                  thread_role());
    }
    // finally
    std::printf("OnUploadButtonClick: UploadButton.IsEnabled = true (on %s)\n", thread_role());
  });
}

}  // namespace
