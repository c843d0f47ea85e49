// get_status/dsl.cpp — seed 001's GetStatusAsync in the DUET_* macro DSL: the same state machine
// as explicit.cpp (same struct shape, builder, box and behaviour), but move_next() is written as
// straight-line code and the macros generate the switch, the label and the awaiter bookkeeping:
//
//   async Task<int> GetStatusAsync(HttpClient http, string url)
//   {
//       var response = await http.GetAsync(url); // the one await ("await 0")
//       return (int)response.StatusCode;
//   }
//
// The printing mirrors explicit.cpp line for line so the two programs' outputs can be compared:
// where the explicit machine prints from inside its suspend and resume branches, this method
// checks the awaited task itself before the await and remembers that it suspended. (The DSL's
// internal state_ value is a __COUNTER__-based label, not 0; "await 0" names the await by its
// position in the method, as the explicit sample's state number does.)
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include "duet/duet.hpp"
#include "duet/sm/dsl.hpp"
#include "http_client.hpp"

namespace {

const std::thread::id g_main_thread = std::this_thread::get_id();

// where() — a stable name for the calling thread's role (thread ids differ from run to run).
const char* where() {
  if (std::this_thread::get_id() == g_main_thread) return "the main thread";
  if (duet::is_thread_pool_thread()) return "a thread-pool thread";
  return "another thread";
}

// GetStatusAsync — parameters and the locals that live across the await are members; the base
// declares state_, builder_, the awaiter storage and the DSL's bookkeeping.
struct GetStatusAsync : duet::AsyncMethod<GetStatusAsync, int> {
  samples::HttpClient* http_;                    // parameter `http`
  std::string url_;                              // parameter `url`
  duet::Task<samples::HttpResponse> request_;    // the awaited task
  samples::HttpResponse response_;               // local `response`
  bool suspended_ = false;                       // for the printing only

  GetStatusAsync(samples::HttpClient& http, std::string url) : http_(&http), url_(std::move(url)) {}

  void move_next() {
    DUET_BEGIN
      std::printf("GetStatusAsync: running synchronously on %s\n", where());
      std::printf("GetStatusAsync: GET %s\n", url_.c_str());
      request_ = http_->get_async(url_);
      suspended_ = !request_.is_completed();
      if (suspended_) std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
      DUET_AWAIT_INTO(response_, request_);
      if (suspended_) std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
      std::printf("GetStatusAsync: %d %s\n", response_.status_code, response_.reason_phrase.c_str());
      DUET_RETURN(response_.status_code);
    DUET_END
  }
};

void call(samples::HttpClient& http, const std::string& url) {
  std::printf("main: calling GetStatusAsync(\"%s\")\n", url.c_str());
  duet::Task<int> task = duet::start<GetStatusAsync>(http, url);
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
