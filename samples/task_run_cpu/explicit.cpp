// task_run_cpu — explicit style: DeepDiveAsync as the state machine Roslyn generates: the tasks
// started before each await are hoisted locals, and one awaiter field per awaiter type (<>u__1
// for Task, <>u__2 for Task<long>, <>u__3 shared by the two Task<int> awaits). While the method
// waits, all of it is in this object; no thread holds it. The program is driver.hpp.
#include "driver.hpp"

namespace {

// DeepDiveStateMachine — `<DeepDiveAsync>d__0`.
struct DeepDiveStateMachine {
  int state_ = -1;                          // <>1__state
  duet::AsyncTaskMethodBuilder<> builder_;  // <>t__builder
  duet::Task<> timer_;                      // hoisted locals
  duet::Task<long long> crunching_;
  duet::Task<int> read_;
  duet::Task<int> wasted_;
  duet::TaskAwaiter<void> awaiter1_;        // <>u__1
  duet::TaskAwaiter<long long> awaiter2_;   // <>u__2
  duet::TaskAwaiter<int> awaiter3_;         // <>u__3

  void move_next() {
    try {
      switch (state_) {
        case 0: state_ = -1; goto resume0;
        case 1: state_ = -1; goto resume1;
        case 2: state_ = -1; goto resume2;
        case 3: state_ = -1; goto resume3;
        default: break;
      }
      timer_ = duet::delay(1000ms);
      report("await delay(1000 ms): a timer-based wait");
      awaiter1_ = timer_.get_awaiter();
      if (!awaiter1_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter1_, *this);
        return;
      }
    resume0:
      awaiter1_.get_result();
      awaiter1_ = {};
      resumed("the timer fired");

      crunching_ = duet::run(cpu_work());
      report("await run(cpu_work()): CPU-bound work offloaded to the pool");
      awaiter2_ = crunching_.get_awaiter();
      if (!awaiter2_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(awaiter2_, *this);
        return;
      }
    resume1:
      {
        const long long sum = awaiter2_.get_result();
        awaiter2_ = {};
        resumed("the sum", sum);
      }

      read_ = read_async();
      report("await read_async(): asynchronous I/O");
      awaiter3_ = read_.get_awaiter();
      if (!awaiter3_.is_completed()) {
        state_ = 2;
        builder_.await_unsafe_on_completed(awaiter3_, *this);
        return;
      }
    resume2:
      resumed("bytes read:", awaiter3_.get_result());
      awaiter3_ = {};

      wasted_ = duet::run(blocking_read());
      report("await run(blocking_read()): a blocking call wrapped in run()");
      awaiter3_ = wasted_.get_awaiter();
      if (!awaiter3_.is_completed()) {
        state_ = 3;
        builder_.await_unsafe_on_completed(awaiter3_, *this);
        return;
      }
    resume3:
      resumed("bytes read:", awaiter3_.get_result());
      awaiter3_ = {};
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> deep_dive_async() {
  DeepDiveStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
