// print_and_wait — seed 002's PrintAndWait in the fiber style: the C# body, line for line, on a
// fiber. Where the explicit twin stores state 0/1 and an awaiter field, the fiber keeps its place
// and its locals on its own stack; duet::await suspends the fiber until the delay's timer fires.
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
#include <duet/fiber/fiber.hpp>

#include "virtual_time.hpp"

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

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return print_and_wait(std::chrono::seconds(1), 2); });
  return 0;
}
