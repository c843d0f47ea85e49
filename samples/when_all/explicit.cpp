// when_all — explicit style: DoWork and Main as the state machines Roslyn generates. The
// program is driver.hpp.
#include "driver.hpp"

namespace {

// DoWork(name, delay, value) — awaits a delay, reports when it finished, returns value.
struct DoWorkStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  const char* name_ = nullptr;
  std::chrono::milliseconds delay_{};
  int value_ = 0;
  long long started_ = 0;
  duet::TaskAwaiter<void> awaiter_;

  void move_next() {
    try {
      if (state_ == 0) {
        state_ = -1;
        goto resume0;
      }
      started_ = now_ms();
      awaiter_ = duet::delay(delay_).get_awaiter();
      if (!awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter_, *this);
        return;
      }
    resume0:
      awaiter_.get_result();
      std::printf("  %s finished at %lld ms\n", name_, now_ms());
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(value_);
  }
};

duet::Task<int> do_work(const char* name, std::chrono::milliseconds delay, int value) {
  DoWorkStateMachine sm;
  sm.name_ = name;
  sm.delay_ = delay;
  sm.value_ = value;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

struct MainStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  long long start_ = 0;
  int a_ = 0;
  int b_ = 0;
  duet::TaskAwaiter<int> int_awaiter_;
  duet::TaskAwaiter<std::tuple<int, int>> all_awaiter_;

  void move_next() {
    try {
      switch (state_) {
        case 0: state_ = -1; goto resume0;
        case 1: state_ = -1; goto resume1;
        case 2: state_ = -1; goto resume2;
        default: break;
      }
      std::puts("Sequential awaits:");
      start_ = now_ms();
      int_awaiter_ = do_work("DoWorkA", 1000ms, 1).get_awaiter();
      if (!int_awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(int_awaiter_, *this);
        return;
      }
    resume0:
      a_ = int_awaiter_.get_result();
      int_awaiter_ = do_work("DoWorkB", 2000ms, 2).get_awaiter();
      if (!int_awaiter_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(int_awaiter_, *this);
        return;
      }
    resume1:
      b_ = int_awaiter_.get_result();
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);

      std::puts("when_all:");
      start_ = now_ms();
      all_awaiter_ = duet::when_all(do_work("DoWorkA", 1000ms, 1), do_work("DoWorkB", 2000ms, 2))
                         .get_awaiter();
      if (!all_awaiter_.is_completed()) {
        state_ = 2;
        builder_.await_unsafe_on_completed(all_awaiter_, *this);
        return;
      }
    resume2:
      std::tie(a_, b_) = all_awaiter_.get_result();
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);
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
