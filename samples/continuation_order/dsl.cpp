// continuation_order — seed 004 in the DUET_* macro DSL: the line after an await is a
// continuation that runs later. Same two methods as explicit.cpp; the macros write move_next().
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
#include <duet/sm/dsl.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

struct PourAsync : duet::AsyncMethod<PourAsync> {
  void move_next() {
    DUET_BEGIN
      std::puts("2. PourAsync: before await");
      DUET_AWAIT(duet::delay(100ms));
      std::puts("4. PourAsync: after await (continuation)");
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  duet::Task<> pour_;  // hoisted local `pour`

  void move_next() {
    DUET_BEGIN
      std::puts("A. before await");
      DUET_AWAIT(duet::delay(100ms));
      std::puts("B. after await (this line is the continuation)");
      std::puts("C. end of part one");

      std::puts("1. start");
      pour_ = duet::start<PourAsync>();  // runs synchronously up to its first await
      std::puts("3. Main keeps going while PourAsync waits");
      DUET_AWAIT(pour_);
      std::puts("5. done");
    DUET_END
  }
};

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return duet::start<MainAsync>(); });
  return 0;
}
