// ui_context — DSL style: the same methods as explicit.cpp, the async void handler included
// (duet::AsyncVoidMethod), with move_next() written by the DUET_* macros — and the handler's
// try/catch/finally written as one, as in the C#. The program is driver.hpp.
#include "driver.hpp"

namespace {

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

duet::Task<> update_status_async(duet::Task<int> download, bool continue_on_captured_context) {
  return duet::start<UpdateStatusAsync>(std::move(download), continue_on_captured_context);
}

void on_upload_button_click(bool fail) { duet::start<OnUploadButtonClick>(fail); }

}  // namespace
