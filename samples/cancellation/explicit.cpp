// cancellation — explicit style: DoWorkAsync and Main as the state machines Roslyn generates.
// The program is driver.hpp.
#include "driver.hpp"

namespace {

struct DoWorkStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::CancellationToken token_;   // parameter
  int i_ = 0;                       // hoisted loop variable
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
        goto resume0;
      }
      for (i_ = 0; i_ < 100; ++i_) {
        token_.throw_if_cancellation_requested();
        awaiter_ = duet::delay(1000ms, token_).get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      resume0:
        awaiter_.get_result();
        std::printf("Progress: %d%%\n", i_);
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());  // OperationCanceledError: canceled
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> do_work_async(duet::CancellationToken token) {
  DoWorkStateMachine sm;
  sm.token_ = std::move(token);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

struct MainStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::CancellationTokenSource cts_;
  duet::Task<> work_;
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
        goto resume0;
      }
      cts_.cancel_after(3500ms);
      work_ = do_work_async(cts_.token());
      awaiter_ = work_.get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      try {  // the C# try around `await work` (a goto may not enter a try block, so it wraps
             // the resumption half: get_result is where the exception surfaces)
        awaiter_.get_result();
        std::puts("finished");
      } catch (const duet::OperationCanceledError& e) {
        std::printf("Canceled at %lld ms: %s\n",
                    samples::now_ms(), e.what());
        std::printf("token is the source's token: %s\n", e.token() == cts_.token() ? "yes" : "no");
      }
      std::printf("DoWorkAsync status: %s\n", duet::to_string(work_.status()));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> main_async() {
  MainStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
