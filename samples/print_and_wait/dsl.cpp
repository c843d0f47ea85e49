// print_and_wait — DSL style: the same state machine as explicit.cpp (state_, builder_, the
// parameters as members, the stored awaiter), but move_next() is written as the C# body and the
// DUET_* macros generate the switch and the awaiter bookkeeping. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct PrintAndWait : duet::AsyncMethod<PrintAndWait> {
  std::chrono::milliseconds delay_;  // parameters, hoisted
  int arg2_;

  PrintAndWait(std::chrono::milliseconds delay, int arg2) : delay_(delay), arg2_(arg2) {}

  void move_next() {
    DUET_BEGIN
      std::puts("Before first delay");
      DUET_AWAIT(duet::delay(delay_));
      std::puts("Between delays");
      DUET_AWAIT(duet::delay(delay_));
      std::puts("After second delay");
    DUET_END
  }
};

duet::Task<> print_and_wait(std::chrono::milliseconds delay, int arg2) {
  return duet::start<PrintAndWait>(delay, arg2);
}

}  // namespace
