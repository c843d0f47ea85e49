// cancellation — seed 003, section 12: cooperative cancellation. DoWorkAsync checks its token
// and passes it down to Task.Delay; Main cancels after 3.5 s, so three steps of progress print,
// the pending delay ends canceled, and the method itself ends `canceled` (not faulted).
// Time is virtual (samples/common/virtual_time.hpp): the output is exact.
//
//   async Task DoWorkAsync(CancellationToken token) {
//     for (int i = 0; i < 100; i++) {
//       token.ThrowIfCancellationRequested();
//       await Task.Delay(1000, token);
//       Console.WriteLine($"Progress: {i}%");
//     }
//   }
//   async Task Main() {
//     using var cts = new CancellationTokenSource();
//     cts.CancelAfter(3500);
//     var work = DoWorkAsync(cts.Token);
//     try { await work; Console.WriteLine("finished"); }
//     catch (OperationCanceledException e) { Console.WriteLine($"Canceled at ...: {e.Message}"); }
//     Console.WriteLine($"DoWorkAsync status: {work.Status}");
//   }
//
// The driver, shared by the three styles: main() and the virtual clock. explicit.cpp, dsl.cpp and
// fiber.cpp define do_work_async() and main_async(), each in its own style.
#pragma once

#include <chrono>
#include <cstdio>
#include <utility>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {


duet::Task<> do_work_async(duet::CancellationToken token);  // DoWorkAsync
duet::Task<> main_async();                                  // Main

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  return 0;
}
