// get_status — seed 001's GetStatusAsync (seed 002 shows the shape Roslyn compiles it to):
//
//   async Task<int> GetStatusAsync(HttpClient http, string url)
//   {
//       var response = await http.GetAsync(url); // suspension point: state 0
//       return (int)response.StatusCode;         // resumes here, runs to completion
//   }
//
// What the output shows: the method runs synchronously on its caller's thread up to the first
// await whose operand is not complete; there it suspends ("await 0") and returns an incomplete
// task to the caller. When the simulated response arrives on a thread-pool thread, the
// continuation resumes the method there (there is no SynchronizationContext to post back to),
// which reads the result and completes the task.
//
// The driver, shared by the three styles: main(), the simulated HTTP client and the thread names.
// explicit.cpp, dsl.cpp and fiber.cpp define get_status_async(), each in its own style.
#pragma once

#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include <duet/duet.hpp>

#include "where.hpp"

#include "http_client.hpp"

namespace {

using samples::where;  // samples/common/where.hpp

// get_status_async(http, url) — GetStatusAsync; one per style.
duet::Task<int> get_status_async(samples::HttpClient& http, std::string url);

void call(samples::HttpClient& http, const std::string& url) {
  std::printf("main: calling GetStatusAsync(\"%s\")\n", url.c_str());
  duet::Task<int> task = get_status_async(http, url);
  std::printf("main: GetStatusAsync returned a task; status: %s\n", duet::to_string(task.status()));
  std::printf("main: letting the response arrive\n");
  http.release_responses();
  const int status = task.result();
  std::printf("main: status code %d (task %s)\n", status, duet::to_string(task.status()));
}

}  // namespace

int main() {
  samples::HttpClient http;
  http.add_route("https://example.com/status", 200, "OK");
  call(http, "https://example.com/status");
  std::printf("\n");
  call(http, "https://example.com/missing");
  return 0;
}
