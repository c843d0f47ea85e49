// custom_awaiter — explicit style: WaitAsync as the state machine Roslyn generates. The two awaits
// have the same awaiter type, so they share one awaiter field (<>u__1), as in Roslyn; the state
// machine calls get_awaiter, is_completed, await_unsafe_on_completed and get_result itself —
// the steps the awaiter prints. The program is driver.hpp.
#include "driver.hpp"

namespace {

// WaitStateMachine — `<WaitAsync>d__0`.
struct WaitStateMachine {
  int state_ = -1;                          // <>1__state
  duet::AsyncTaskMethodBuilder<> builder_;  // <>t__builder
  seconds_awaiter::SecondsAwaiter awaiter_;  // <>u__1

  void move_next() {
    try {
      seconds_awaiter::SecondsAwaiter awaiter;
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
      say("await 5");
      awaiter = duet::get_awaiter(5);  // an int: awaitable_traits<int>
      if (!awaiter.is_completed()) {
        state_ = 0;
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter.get_result();
      say("resumed after await 5");

      say("await 2_s");
      awaiter = duet::get_awaiter(2_s);  // Seconds: the free get_awaiter, by ADL
      if (!awaiter.is_completed()) {
        state_ = 1;
        awaiter_ = std::move(awaiter);
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume1:
      awaiter.get_result();
      say("resumed after await 2_s");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> wait_async() {
  WaitStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
