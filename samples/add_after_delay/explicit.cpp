// add_after_delay — explicit style: AddAfterDelayAsync and Main as the state machines Roslyn
// generates. AddAfterDelayAsync's return value goes to builder_.set_result(); Main's awaiter
// hands it back through get_result(). The program is driver.hpp.
#include "driver.hpp"

namespace {

// AddAfterDelayStateMachine — `<AddAfterDelayAsync>d__1`.
struct AddAfterDelayStateMachine {
  int state_ = -1;                             // <>1__state
  duet::AsyncTaskMethodBuilder<int> builder_;  // <>t__builder
  int a_ = 0;                                  // parameters, hoisted
  int b_ = 0;
  duet::TaskAwaiter<void> awaiter_;            // <>u__1

  void move_next() {
    int result = 0;
    try {
      duet::TaskAwaiter<void> awaiter;
      if (state_ != 0) {
        trace_before_delay(a_, b_);
        awaiter = duet::delay(k_delay).get_awaiter();
        if (!awaiter.is_completed()) {
          state_ = 0;
          awaiter_ = std::move(awaiter);
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        state_ = -1;
      }
      awaiter.get_result();
      trace_after_delay(a_, b_);
      result = a_ + b_;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

duet::Task<int> add_after_delay_async(int a, int b) {
  AddAfterDelayStateMachine sm;
  sm.a_ = a;
  sm.b_ = b;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// MainStateMachine — `<Main>d__0`.
struct MainStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    try {
      duet::TaskAwaiter<int> awaiter;
      if (state_ != 0) {
        awaiter = add_after_delay_async(20, 22).get_awaiter();
        if (!awaiter.is_completed()) {
          state_ = 0;
          awaiter_ = std::move(awaiter);
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        state_ = -1;
      }
      const int total = awaiter.get_result();
      std::printf("The total is %d\n", total);
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
