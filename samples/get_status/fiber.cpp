// get_status/fiber.cpp — seed 001's GetStatusAsync in the fiber style:
//
//   async Task<int> GetStatusAsync(HttpClient http, string url)
//   {
//       var response = await http.GetAsync(url); // suspension point: state 0
//       return (int)response.StatusCode;         // resumes here, runs to completion
//   }
//
// The body is the C# body: straight-line code on a fiber, where duet::await suspends the fiber
// instead of returning from move_next(). It behaves exactly like the explicit state machine
// (same output, line for line): the fiber runs synchronously on its caller's thread up to the
// first await whose operand is not complete; there it switches back to the caller, which
// registers the fiber as the continuation and gets an incomplete task. When the simulated
// response arrives on a thread-pool thread, the continuation switches into the fiber there (no
// SynchronizationContext to post back to), await returns the response, and the task completes.
// "State 0" is the first await: a fiber keeps its place on its own stack instead of in a number.
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include "duet/duet.hpp"
#include "duet/fiber/fiber.hpp"
#include "http_client.hpp"

namespace {

const std::thread::id g_main_thread = std::this_thread::get_id();

// where() — a stable name for the calling thread's role (thread ids differ from run to run).
// Not inlined, and opaque to the optimiser: pthread_self() is declared const, so inside one
// function two reads of the thread id may be merged across an await — and after the await the
// fiber runs on another thread (see "Fibers migrate" in duet/fiber/fiber.hpp).
[[gnu::noinline]] const char* where() {
  asm volatile("" ::: "memory");
  if (std::this_thread::get_id() == g_main_thread) return "the main thread";
  if (duet::is_thread_pool_thread()) return "a thread-pool thread";
  return "another thread";
}

// get_status_async(http, url) — the async method, on a fiber.
duet::Task<int> get_status_async(samples::HttpClient& http, std::string url) {
  return duet::fiber::async([&http, url = std::move(url)] {
    std::printf("GetStatusAsync: running synchronously on %s\n", where());
    std::printf("GetStatusAsync: GET %s\n", url.c_str());
    duet::Task<samples::HttpResponse> request = http.get_async(url);
    if (!request.is_completed()) {
      std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
    }
    samples::HttpResponse response = duet::await(request);
    std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
    std::printf("GetStatusAsync: %d %s\n", response.status_code, response.reason_phrase.c_str());
    return response.status_code;
  });
}

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
