// continuation_order — explicit style: PourAsync and Main as the state machines Roslyn generates.
// The program is driver.hpp.
#include "driver.hpp"

namespace {

struct PourAsyncStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
        goto resume0;
      }
      std::puts("2. PourAsync: before await");
      awaiter_ = duet::delay(100ms).get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter_.get_result();
      std::puts("4. PourAsync: after await (continuation)");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> pour_async() {
  PourAsyncStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

struct MainStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::Task<> pour_;                 // hoisted local `pour`
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    try {
      switch (state_) {
        case 0: state_ = -1; goto resume0;
        case 1: state_ = -1; goto resume1;
        default: break;
      }
      std::puts("A. before await");
      awaiter_ = duet::delay(100ms).get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter_.get_result();
      std::puts("B. after await (this line is the continuation)");
      std::puts("C. end of part one");

      std::puts("1. start");
      pour_ = pour_async();           // runs synchronously up to its first await
      std::puts("3. Main keeps going while PourAsync waits");
      awaiter_ = pour_.get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume1:
      awaiter_.get_result();
      std::puts("5. done");
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
