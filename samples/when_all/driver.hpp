// when_all — seeds 001/003: "compose; don't await sequentially". Two independent operations
// (1 s and 2 s) awaited one after the other take 3 s; started together and awaited through
// when_all they take 2 s. Time is virtual (samples/common/virtual_time.hpp), so the printed
// elapsed times are exact.
//
//   async Task<int> DoWorkA() { await Task.Delay(1000); return 1; }
//   async Task<int> DoWorkB() { await Task.Delay(2000); return 2; }
//   async Task Main() {
//     var start = now;
//     int a = await DoWorkA(); int b = await DoWorkB();            // sequential
//     print(a + b, now - start);
//     start = now;
//     var (x, y) = await Task.WhenAll(DoWorkA(), DoWorkB());      // concurrent
//     print(x + y, now - start);
//   }
//
// The driver, shared by the three styles: main() and the virtual clock. explicit.cpp, dsl.cpp and
// fiber.cpp define do_work() and main_async(), each in its own style.
#pragma once

#include <chrono>
#include <cstdio>
#include <tuple>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

// do_work(name, delay, value) — awaits a delay, reports when it finished, returns value.
duet::Task<int> do_work(const char* name, std::chrono::milliseconds delay, int value);
// main_async() — Main.
duet::Task<> main_async();

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return main_async(); });
  return 0;
}
