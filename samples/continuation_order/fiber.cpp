// continuation_order — fiber style. On a fiber "the rest of the method" is simply the rest of the
// lambda: await switches the fiber out, and the timer's continuation switches it back in at that
// line. PourAsync's fiber runs synchronously up to its first await, then control comes back to
// Main's fiber, which keeps going. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> pour_async() {
  return duet::fiber::async([] {
    std::puts("2. PourAsync: before await");
    duet::await(duet::delay(100ms));
    std::puts("4. PourAsync: after await (continuation)");
  });
}

duet::Task<> main_async() {
  return duet::fiber::async([] {
    std::puts("A. before await");
    duet::await(duet::delay(100ms));
    std::puts("B. after await (this line is the continuation)");
    std::puts("C. end of part one");

    std::puts("1. start");
    duet::Task<> pour = pour_async();  // runs synchronously up to its first await
    std::puts("3. Main keeps going while PourAsync waits");
    duet::await(pour);
    std::puts("5. done");
  });
}

}  // namespace
