// print_and_wait — seed 002's PrintAndWait in the DUET_* macro DSL: the same state machine as
// explicit.cpp (state_, builder_, the parameters as members, the stored awaiter), but move_next()
// is written as the C# body and the macros generate the switch and the awaiter bookkeeping.
//
//   public async Task PrintAndWait(TimeSpan delay, int arg2) {
//     Console.WriteLine("Before first delay");
//     await Task.Delay(delay);
//     Console.WriteLine("Between delays");
//     await Task.Delay(delay);
//     Console.WriteLine("After second delay");
//   }
#include <chrono>
#include <cstdio>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "virtual_time.hpp"

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

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return duet::start<PrintAndWait>(std::chrono::seconds(1), 2); });
  return 0;
}
