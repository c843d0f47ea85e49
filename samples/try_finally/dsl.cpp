// try_finally — DSL style: OnUploadButtonClick as a duet::AsyncVoidMethod, with move_next()
// written by the DUET_* macros — the try/catch/finally written as one, as in the C#:
// DUET_FINALLY's block runs on every way out of the try (the success line, the catch block, an
// exception nobody caught), never because the method merely suspended. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct OnUploadButtonClick : duet::AsyncVoidMethod<OnUploadButtonClick> {
  std::string file_;  // parameter `file`

  explicit OnUploadButtonClick(std::string file) : file_(std::move(file)) {}

  void move_next() {
    DUET_BEGIN
      set_status_label("Uploading " + file_ + "...");
      set_upload_button_enabled(false);
      DUET_TRY
        DUET_AWAIT(duet::run([file = file_] { process_large_file(file); }));
        set_status_label("Upload Complete!");
      DUET_CATCH(const std::exception&, ex)
        set_status_label(std::string("Error: ") + ex.what());
      DUET_FINALLY
        set_upload_button_enabled(true);
      DUET_END_TRY
    DUET_END
  }
};

void on_upload_button_click(std::string file) {
  duet::start<OnUploadButtonClick>(std::move(file));
}

}  // namespace
