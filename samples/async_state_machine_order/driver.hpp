// async_state_machine_order — seed 004's worked example "three states, two awaits": the compiler
// cuts an async method at its awaits into segments, and an int state field records where to go
// on. Roslyn numbers the field: -1 while the method runs (and before it starts), 0 and 1 while it
// is suspended at its first and second await, -2 once it has finished.
//
//   static async Task<string> FetchDataAsync() {
//     Console.WriteLine("State 0: before first await (sync)");
//     await Task.Delay(80);                 // suspension point #1: state = 0
//     Console.WriteLine("State 1: resumed after first await");
//     await Task.Delay(80);                 // suspension point #2: state = 1
//     Console.WriteLine("State 2: resumed after second await");
//     return "data";                        // state = -2
//   }
//   static async Task Main() {
//     Task<string> fetch = FetchDataAsync();  // runs segment 1, returns at await #1
//     Console.WriteLine("Main: FetchDataAsync returned a pending task; awaiting it");
//     string data = await fetch;
//     Console.WriteLine($"Main: got \"{data}\"");
//   }
//
// Each line FetchDataAsync prints carries the state its state machine is in at that point, in
// Roslyn's numbering: "segment" lines run with state -1, a "suspending" line is printed after the
// await's state is stored and before the method returns to its caller, and the last line after
// the state became -2. The explicit style prints its own state_ field; the other two have no such
// field to print (see dsl.cpp and fiber.cpp) and print the number the same point has in Roslyn's
// machine. Time is virtual (samples/common/virtual_time.hpp): the output is exact.
//
// The driver, shared by the three styles: main(), the clock and the trace. explicit.cpp, dsl.cpp
// and fiber.cpp define the two async methods, each in its own style.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

// The delay of each of FetchDataAsync's two awaits.
constexpr std::chrono::milliseconds k_delay = 80ms;

// trace(state, what) — one line of FetchDataAsync: its state, the virtual time, what happens.
void trace(int state, const char* what) {
  std::printf("  [state %2d] %4lld ms  %s\n", state, now_ms(), what);
}

duet::Task<std::string> fetch_data_async();  // FetchDataAsync; one per style
duet::Task<> main_async();                   // Main; one per style

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  return 0;
}
