// continuation_order — seed 004: the line after an await is a continuation that runs later.
// Part 1 (the "your turn" exercise) prints A, B, C around one await Task.Delay(100); part 2 (the
// mini-challenge) starts PourAsync() without awaiting it, so the five numbered lines prove the
// order: the caller runs on while PourAsync waits, and PourAsync's tail runs as a continuation.
//
//   static async Task Main() {
//     Console.WriteLine("A. before await");
//     await Task.Delay(100);
//     Console.WriteLine("B. after await (this line is the continuation)");
//     Console.WriteLine("C. end of part one");
//     Console.WriteLine("1. start");
//     Task pour = PourAsync();
//     Console.WriteLine("3. Main keeps going while PourAsync waits");
//     await pour;
//     Console.WriteLine("5. done");
//   }
//   static async Task PourAsync() {
//     Console.WriteLine("2. PourAsync: before await");
//     await Task.Delay(100);
//     Console.WriteLine("4. PourAsync: after await (continuation)");
//   }
//
// The driver, shared by the three styles: main() runs MainAsync on the virtual-time loop
// (samples/common/virtual_time.hpp). explicit.cpp, dsl.cpp and fiber.cpp define the two async
// methods, each in its own style.
#pragma once

#include <chrono>
#include <cstdio>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

duet::Task<> pour_async();  // PourAsync — one per style
duet::Task<> main_async();  // Main — one per style

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  return 0;
}
