// print_and_wait — seed 002's PrintAndWait: three lines with an awaited delay between each pair.
//
//   public async Task PrintAndWait(TimeSpan delay, int arg2) {
//     Console.WriteLine("Before first delay");
//     await Task.Delay(delay);
//     Console.WriteLine("Between delays");
//     await Task.Delay(delay);
//     Console.WriteLine("After second delay");
//   }
//
// The driver, shared by the three styles: main() runs the method on the virtual-time loop
// (samples/common/virtual_time.hpp), so the program ends at once and prints the same every run.
// explicit.cpp, dsl.cpp and fiber.cpp each include this file and define print_and_wait() — the
// async method — in their own style; nothing else differs between them.
#pragma once

#include <chrono>
#include <cstdio>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

namespace {

// print_and_wait(delay, arg2) — PrintAndWait (arg2 is unused, as in the seed); one per style.
duet::Task<> print_and_wait(std::chrono::milliseconds delay, int arg2);

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return print_and_wait(std::chrono::seconds(1), 2); });
  return 0;
}
