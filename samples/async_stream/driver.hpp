// async_stream — `yield return` of pages from a simulated paged API on virtual time, consumed with
// `await foreach`:
//
//   static async IAsyncEnumerable<string> FetchPagesAsync(int pages,
//           [EnumeratorCancellation] CancellationToken ct = default) {
//       Console.WriteLine($"[{now}] open connection");
//       try {
//           for (int page = 1; page <= pages; page++) {
//               await Task.Delay(100, ct);                 // the paged API: 100 ms per page
//               Console.WriteLine($"[{now}] fetched page {page}");
//               yield return $"page {page}";
//           }
//       } finally {
//           Console.WriteLine($"[{now}] close connection");
//       }
//   }
//   static async Task<int> ReadUntilAsync(IAsyncEnumerable<string> pages, string last) {
//       int n = 0;
//       await foreach (var page in pages) {
//           Console.WriteLine($"[{now}]   consumer got {page}");
//           n++;
//           if (page == last) break;   // early break: the enumerator is disposed, the finally runs
//       }
//       return n;
//   }
//
// Main reads FetchPagesAsync(5) until "page 3" (the break runs the producer's finally block at
// once, and pages 4 and 5 are never fetched), then FetchPagesAsync(2) to its end, then
// FetchPagesAsync(5) through for_each_async with a token canceled after 250 ms (the third page's
// delay is canceled; the finally block still runs).
//
// Every continuation runs on the main thread's virtual-time loop (common/virtual_time.hpp), so
// the output is the same on every run and in every style. explicit.cpp, dsl.cpp and fiber.cpp
// define fetch_pages() and read_until().
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

duet::AsyncStream<std::string> fetch_pages(int pages);
duet::Task<int> read_until(duet::AsyncStream<std::string> pages, std::string last);

void print_open() { std::printf("[%4lld ms] open connection\n", now_ms()); }
void print_fetched(int page) { std::printf("[%4lld ms] fetched page %d\n", now_ms(), page); }
void print_close() { std::printf("[%4lld ms] close connection\n", now_ms()); }
void print_got(const std::string& page) { std::printf("[%4lld ms]   consumer got %s\n", now_ms(), page.c_str()); }

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  std::printf("== read FetchPagesAsync(5) until page 3\n");
  int n = loop.run([] { return read_until(fetch_pages(5), "page 3"); });
  std::printf("read %d pages\n\n", n);

  std::printf("== read FetchPagesAsync(2) to the end\n");
  n = loop.run([] { return read_until(fetch_pages(2), "none"); });
  std::printf("read %d pages\n\n", n);

  std::printf("== for_each_async over FetchPagesAsync(5), canceled after 250 ms\n");
  duet::CancellationTokenSource cts;
  cts.cancel_after(250ms);
  int seen = 0;
  try {
    loop.run([&] {
      return duet::for_each_async(
          fetch_pages(5),
          [&seen](std::string& page) {
            print_got(page);
            ++seen;
          },
          cts.token());
    });
  } catch (const duet::OperationCanceledError&) {
    std::printf("[%4lld ms] canceled after %d pages\n", now_ms(), seen);
  }
  return 0;
}
