// async_state_machine_order — explicit style: FetchDataAsync as the state machine Roslyn
// generates, printing its own state_ field at every trace point. The two awaits have one
// awaiter type, so they share one awaiter field (<>u__1). The program is driver.hpp.
#include "driver.hpp"

namespace {

// FetchDataStateMachine — `<FetchDataAsync>d__0`.
struct FetchDataStateMachine {
  int state_ = -1;                                       // <>1__state
  duet::AsyncTaskMethodBuilder<std::string> builder_;   // <>t__builder
  duet::TaskAwaiter<void> awaiter_;                      // <>u__1

  void move_next() {
    std::string result;
    try {
      duet::TaskAwaiter<void> awaiter;
      switch (state_) {
        case 0:
          awaiter = std::move(awaiter_);
          awaiter_ = {};
          state_ = -1;
          goto resume0;
        case 1:
          awaiter = std::move(awaiter_);
          awaiter_ = {};
          state_ = -1;
          goto resume1;
        default:
          break;
      }
      trace(state_, "segment 1: before the first await (runs synchronously, in Main's call)");
      awaiter = duet::delay(k_delay).get_awaiter();
      if (!awaiter.is_completed()) {
        state_ = 0;
        trace(state_, "suspending at await #1: control returns to the caller");
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter.get_result();
      trace(state_, "segment 2: resumed after the first await");
      awaiter = duet::delay(k_delay).get_awaiter();
      if (!awaiter.is_completed()) {
        state_ = 1;
        trace(state_, "suspending at await #2: control returns to the caller");
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume1:
      awaiter.get_result();
      trace(state_, "segment 3: resumed after the second await");
      result = "data";
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    trace(state_, "done: the task completes with \"data\"");
    builder_.set_result(std::move(result));
  }
};

duet::Task<std::string> fetch_data_async() {
  FetchDataStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// MainStateMachine — `<Main>d__1`.
struct MainStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::Task<std::string> fetch_;                // hoisted local `fetch`
  duet::TaskAwaiter<std::string> awaiter_;

  void move_next() {
    try {
      if (state_ != 0) {
        std::printf("Main: calling FetchDataAsync()\n");
        fetch_ = fetch_data_async();
        std::printf("Main: FetchDataAsync returned a %s task; awaiting it\n",
                    fetch_.is_completed() ? "completed" : "pending");
        awaiter_ = fetch_.get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      const std::string data = awaiter_.get_result();
      awaiter_ = {};
      std::printf("Main: got \"%s\" at %lld ms\n", data.c_str(), now_ms());
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
