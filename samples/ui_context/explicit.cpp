// ui_context — explicit style: UpdateStatusAsync and the async void OnUploadButtonClick as the
// state machines Roslyn generates. The program is driver.hpp.
#include "driver.hpp"

namespace {

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

}  // namespace
