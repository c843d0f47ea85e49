// print_and_wait — explicit style: the state machine Roslyn generates for PrintAndWait (one int
// state, the parameters as fields, one stored awaiter, a builder). The program is driver.hpp.
#include "driver.hpp"

namespace {

struct PrintAndWaitStateMachine {
  int state_ = -1;                              // -1 running, 0/1 suspended at await 0/1, -2 done
  duet::AsyncTaskMethodBuilder<> builder_;
  std::chrono::milliseconds delay_{};           // parameters, hoisted
  int arg2_ = 0;
  duet::TaskAwaiter<void> awaiter_;             // <>u__1

  void move_next() {
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
      std::puts("Before first delay");
      awaiter = duet::delay(delay_).get_awaiter();
      if (!awaiter.is_completed()) {
        state_ = 0;
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter.get_result();
      std::puts("Between delays");
      awaiter = duet::delay(delay_).get_awaiter();
      if (!awaiter.is_completed()) {
        state_ = 1;
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume1:
      awaiter.get_result();
      std::puts("After second delay");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> print_and_wait(std::chrono::milliseconds delay, int arg2) {
  PrintAndWaitStateMachine sm;
  sm.delay_ = delay;
  sm.arg2_ = arg2;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
