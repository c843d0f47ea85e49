// continuation_order — seed 004 in the fiber style: the line after an await is a continuation
// that runs later. On a fiber "the rest of the method" is simply the rest of the lambda: await
// switches the fiber out, and the timer's continuation switches it back in at that line.
// Part 2 starts PourAsync() without awaiting it: PourAsync's fiber runs synchronously up to its
// first await, then control comes back to Main's fiber, which keeps going.
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
#include <chrono>
#include <cstdio>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

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

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  return 0;
}
