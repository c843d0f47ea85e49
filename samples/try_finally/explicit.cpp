// try_finally — explicit style: OnUploadButtonClick as the state machine Roslyn generates for an
// async void method (AsyncVoidMethodBuilder). C++ has no `finally`, so the finally block is
// written out on the two ways out of the try: after it (the normal path) and in a catch-all that
// rethrows (an exception the catch block did not take, or threw). Suspending is `return` from
// move_next() inside the try, which skips both — as Roslyn's `finally { if (num < 0) ... }` does.
// The program is driver.hpp.
#include "driver.hpp"

namespace {

// OnUploadButtonClickStateMachine — `<OnUploadButtonClick>d__0`.
struct OnUploadButtonClickStateMachine {
  int state_ = -1;                       // <>1__state
  duet::AsyncVoidMethodBuilder builder_;  // <>t__builder
  std::string file_;                     // parameter `file`
  duet::TaskAwaiter<void> awaiter_;      // <>u__1

  void move_next() {
    int num = state_;
    try {
      if (num != 0) {
        set_status_label("Uploading " + file_ + "...");
        set_upload_button_enabled(false);
      }
      try {  // try { ... } finally { ... }
        try {  // try { ... } catch (Exception ex) { ... }
          duet::TaskAwaiter<void> awaiter;
          if (num != 0) {
            awaiter = duet::run([file = file_] { process_large_file(file); }).get_awaiter();
            if (!awaiter.is_completed()) {
              num = state_ = 0;
              awaiter_ = awaiter;
              builder_.await_unsafe_on_completed(awaiter_, *this);
              return;  // suspends: leaves the try blocks without running the finally block
            }
          } else {
            awaiter = std::move(awaiter_);
            awaiter_ = {};
            num = state_ = -1;
          }
          awaiter.get_result();
          set_status_label("Upload Complete!");
        } catch (const std::exception& ex) {
          set_status_label(std::string("Error: ") + ex.what());
        }
      } catch (...) {
        set_upload_button_enabled(true);  // finally, on the way out with an exception
        throw;
      }
      set_upload_button_enabled(true);  // finally, on the normal way out
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

void on_upload_button_click(std::string file) {
  OnUploadButtonClickStateMachine sm;
  sm.file_ = std::move(file);
  sm.builder_.start(sm);
}

}  // namespace
