// deadlock — explicit style: GetValueAsync and the async void Button_ClickAsync as the state
// machines Roslyn generates. The program is driver.hpp.
#include "driver.hpp"

namespace {

// GetValueStateMachine — `<GetValueAsync>d__0`.
struct GetValueStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  duet::Task<int> io_;
  bool continue_on_captured_context_ = true;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    int num = state_;
    int result = 0;
    try {
      duet::TaskAwaiter<int> awaiter;
      if (num != 0) {
        std::printf("GetValueAsync: awaiting the I/O on %s (configure_await(%s))\n", thread_role(),
                    continue_on_captured_context_ ? "true" : "false");
        awaiter = io_.configure_await(continue_on_captured_context_).get_awaiter();
        if (!awaiter.is_completed()) {
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
      const int v = awaiter.get_result();
      std::printf("GetValueAsync: resumed on %s\n", thread_role());
      result = v + 1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

duet::Task<int> get_value_async(duet::Task<int> io, bool continue_on_captured_context) {
  GetValueStateMachine sm;
  sm.io_ = std::move(io);
  sm.continue_on_captured_context_ = continue_on_captured_context;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// ButtonClickAsyncStateMachine — `<Button_ClickAsync>d__1`, an async void handler that awaits.
struct ButtonClickAsyncStateMachine {
  int state_ = -1;
  duet::AsyncVoidMethodBuilder builder_;
  duet::Task<int> io_;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    int num = state_;
    try {
      duet::TaskAwaiter<int> awaiter;
      if (num != 0) {
        awaiter = get_value_async(io_, true).get_awaiter();
        if (!awaiter.is_completed()) {
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
      const int v = awaiter.get_result();
      std::printf("Button_ClickAsync: got %d on %s\n", v, thread_role());
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

void button_click_async(duet::Task<int> io) {
  ButtonClickAsyncStateMachine sm;
  sm.io_ = std::move(io);
  sm.builder_.start(sm);
}

}  // namespace
