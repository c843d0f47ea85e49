// task_run_cpu — seed 004's deep dive, "where threads do (and don't) get used": await by itself
// means "don't block while waiting", not "run on another thread". A timer-based wait and an
// asynchronous read hold no thread while they wait; run() borrows a pool thread for CPU work; and
// a blocking call wrapped in run() holds a pool thread that does nothing at all.
//
//   async Task DeepDiveAsync() {
//     Task timer = Task.Delay(1000);                        // timer-based: NO thread blocked
//     Report("await Task.Delay(1000)"); await timer;
//     Resumed("the timer fired");
//     Task<long> crunch = Task.Run(() => CrunchBigNumbers()); // CPU-bound: uses a pool thread
//     Report("await Task.Run(CrunchBigNumbers)"); long sum = await crunch;
//     Resumed("the sum", sum);
//     Task<int> read = device.ReadAsync();                  // I/O-bound: NO thread blocked
//     Report("await device.ReadAsync()"); int bytes = await read;
//     Resumed("bytes read:", bytes);
//     Task<int> wasted = Task.Run(() => device.Read());      // sync I/O in Task.Run: a parked
//     Report("await Task.Run(device.Read)"); bytes = await wasted;  // pool thread
//     Resumed("bytes read:", bytes);
//   }
//
// Each wait is started first and reported before it is awaited: report() counts the threads that
// are busy for the program at that moment — inside CPU work (running) or inside a blocking call
// (blocked) — after waiting until every work item handed to run() so far has started. The work
// items go on (CPU work keeps crunching, the blocking read keeps waiting) until report() has
// counted them, so the count is the same on every run. The timer runs on the virtual clock
// (samples/common/virtual_time.hpp); the loop thread that drives it is the method's own thread,
// free while the method waits. No thread ids or wall-clock times are printed.
//
// The driver, shared by the three styles: main(), the work, the device and the census.
// explicit.cpp, dsl.cpp and fiber.cpp define deep_dive_async(), each in its own style.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

// The census: work items handed to run() and started so far, the threads inside them now, and
// the number of reports made (a work item created before report n goes on until n is made).
std::atomic<int> g_launched{0};
std::atomic<int> g_started{0};
std::atomic<int> g_running{0};
std::atomic<int> g_blocked{0};
std::atomic<int> g_reports{0};

// crunch(n) — the CPU-bound work: the sum of 1..n, the long way.
long long crunch(long long n) {
  long long sum = 0;
  for (long long i = 1; i <= n; ++i) {
    sum += i;
    asm volatile("" : "+r"(sum));  // keep the loop a loop
  }
  return sum;
}

// cpu_work() — a work item for run(): CrunchBigNumbers. Counted as launched when made; running
// while it runs, and it keeps crunching until the next report has counted it.
auto cpu_work() {
  g_launched.fetch_add(1);
  const int report = g_reports.load();
  return [report] {
    g_running.fetch_add(1);
    g_started.fetch_add(1);
    long long sum = 0;
    do {
      sum = crunch(1'000'000);
    } while (g_reports.load() == report);
    g_running.fetch_sub(1);
    return sum;
  };
}

// The device: a read of 4096 bytes, answered once the next report has been made.
constexpr int k_read_bytes = 4096;
std::vector<duet::TaskCompletionSource<int>> g_pending_reads;

// read_async() — the asynchronous read (device.ReadAsync()): a pending task the device completes
// later; nothing runs, on any thread, until it does.
duet::Task<int> read_async() {
  g_pending_reads.emplace_back();
  return g_pending_reads.back().task();
}

// blocking_read() — a work item for run(): the synchronous device.Read(), which blocks its thread
// until the device answers (after the next report).
auto blocking_read() {
  g_launched.fetch_add(1);
  const int report = g_reports.load();
  return [report] {
    g_blocked.fetch_add(1);
    g_started.fetch_add(1);
    g_reports.wait(report);  // blocked: the thread does nothing until the device answers
    g_blocked.fetch_sub(1);
    return k_read_bytes;
  };
}

// report(what) — prints what is about to be awaited and the threads busy for the program while
// it waits, then lets the device answer.
void report(const char* what) {
  while (g_started.load() < g_launched.load()) std::this_thread::yield();
  const int running = g_running.load();
  const int blocked = g_blocked.load();
  std::printf("%s\n", what);
  std::printf("  threads busy while it waits: %d (running CPU work: %d, blocked in a call: %d)\n",
              running + blocked, running, blocked);
  g_reports.fetch_add(1);
  g_reports.notify_all();
  for (auto& read : g_pending_reads) {
    duet::run([read]() mutable { read.set_result(k_read_bytes); });  // the device's completion
  }
  g_pending_reads.clear();
}

// resumed(result) — the line after each await: when the method resumed, and with what.
void resumed(const char* result) { std::printf("  resumed at %lld ms: %s\n", now_ms(), result); }
void resumed(const char* what, long long value) {
  std::printf("  resumed at %lld ms with %s %lld\n", now_ms(), what, value);
}

// deep_dive_async() — DeepDiveAsync; one per style.
duet::Task<> deep_dive_async();

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return deep_dive_async(); });
  std::printf("A wait holds a thread only when a thread is doing the waiting: CPU work runs on a "
              "pool thread, a blocking call parks one.\n");
  return 0;
}
