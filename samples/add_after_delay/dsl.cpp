// add_after_delay — DSL style: the same two state machines as explicit.cpp, with move_next()
// written by the DUET_* macros: DUET_RETURN(a_ + b_) is `return a + b;`, DUET_AWAIT_INTO is
// `int total = await ...` (the local hoisted into a member). The program is driver.hpp.
#include "driver.hpp"

namespace {

struct AddAfterDelayAsync : duet::AsyncMethod<AddAfterDelayAsync, int> {
  int a_;  // parameters, hoisted
  int b_;

  AddAfterDelayAsync(int a, int b) : a_(a), b_(b) {}

  void move_next() {
    DUET_BEGIN
      trace_before_delay(a_, b_);
      DUET_AWAIT(duet::delay(k_delay));
      trace_after_delay(a_, b_);
      DUET_RETURN(a_ + b_);
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  int total_ = 0;  // local `total`, hoisted

  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(total_, add_after_delay_async(20, 22));
      std::printf("The total is %d\n", total_);
    DUET_END
  }
};

duet::Task<int> add_after_delay_async(int a, int b) {
  return duet::start<AddAfterDelayAsync>(a, b);
}

duet::Task<> main_async() { return duet::start<MainAsync>(); }

}  // namespace
