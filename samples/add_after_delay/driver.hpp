// add_after_delay — seed 004's "resume after await and return a value": an async Task<int>
// method pauses at its await, resumes on the next line (the continuation), and the value it
// returns there becomes the awaited result its caller receives.
//
//   static async Task Main() {
//     int total = await AddAfterDelayAsync(20, 22);
//     Console.WriteLine($"The total is {total}");
//   }
//   static async Task<int> AddAfterDelayAsync(int a, int b) {
//     await Task.Delay(500);
//     return a + b;
//   }
//
// The driver, shared by the three styles: main(), the virtual clock and the trace lines.
// explicit.cpp, dsl.cpp and fiber.cpp define the two async methods, each in its own style. Time
// is virtual (samples/common/virtual_time.hpp): the program ends at once and prints exact times.
#pragma once

#include <chrono>
#include <cstdio>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

// The method's one delay.
constexpr std::chrono::milliseconds k_delay = 500ms;

// AddAfterDelayAsync's trace: before its await, and on the continuation, with the time it runs.
void trace_before_delay(int a, int b) {
  std::printf("AddAfterDelayAsync(%d, %d): awaiting a %lld ms delay at %lld ms\n", a, b,
              static_cast<long long>(k_delay.count()), now_ms());
}
void trace_after_delay(int a, int b) {
  std::printf("AddAfterDelayAsync(%d, %d): resumed at %lld ms; returning %d\n", a, b, now_ms(),
              a + b);
}

duet::Task<int> add_after_delay_async(int a, int b);  // AddAfterDelayAsync; one per style
duet::Task<> main_async();                            // Main; one per style

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  std::printf("main: finished at %lld ms of virtual time\n", now_ms());
  return 0;
}
