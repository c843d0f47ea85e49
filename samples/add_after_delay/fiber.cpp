// add_after_delay — fiber style: the C# bodies, line for line, each on its own fiber. The
// lambda's return value completes the fiber's Task<int>; duet::await in Main hands it back.
// The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<int> add_after_delay_async(int a, int b) {
  return duet::fiber::async([a, b] {
    trace_before_delay(a, b);
    duet::await(duet::delay(k_delay));
    trace_after_delay(a, b);
    return a + b;
  });
}

duet::Task<> main_async() {
  return duet::fiber::async([] {
    const int total = duet::await(add_after_delay_async(20, 22));
    std::printf("The total is %d\n", total);
  });
}

}  // namespace
