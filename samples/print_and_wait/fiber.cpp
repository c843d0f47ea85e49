// print_and_wait — fiber style: the C# body, line for line, on a fiber. Where the explicit twin
// stores state 0/1 and an awaiter field, the fiber keeps its place and its locals on its own
// stack; duet::await suspends the fiber until the delay's timer fires. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> print_and_wait(std::chrono::milliseconds delay, int arg2) {
  return duet::fiber::async([delay, arg2] {
    (void)arg2;  // unused in the seed too
    std::puts("Before first delay");
    duet::await(duet::delay(delay));
    std::puts("Between delays");
    duet::await(duet::delay(delay));
    std::puts("After second delay");
  });
}

}  // namespace
