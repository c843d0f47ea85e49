// get_status/explicit.cpp — seed 001's GetStatusAsync, written as the explicit state machine Roslyn
// generates for it (seed 002 shows the shape):
//
//   async Task<int> GetStatusAsync(HttpClient http, string url)
//   {
//       var response = await http.GetAsync(url); // suspension point: state 0
//       return (int)response.StatusCode;         // resumes here, runs to completion
//   }
//
// What the output shows: the method runs synchronously on its caller's thread up to the first
// await whose operand is not complete; there it stores its awaiter, sets state 0, registers
// itself as the continuation and returns an incomplete task to the caller. When the simulated
// response arrives on a thread-pool thread, the continuation runs move_next() again (there is no
// SynchronizationContext to post back to, so it resumes on that pool thread), which jumps to
// state 0, reads the result and completes the task.
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include "duet/duet.hpp"
#include "http_client.hpp"

namespace {

const std::thread::id g_main_thread = std::this_thread::get_id();

// where() — a stable name for the calling thread's role (thread ids differ from run to run).
const char* where() {
  if (std::this_thread::get_id() == g_main_thread) return "the main thread";
  if (duet::is_thread_pool_thread()) return "a thread-pool thread";
  return "another thread";
}

// GetStatusStateMachine — `<GetStatusAsync>d__0`: parameters as fields, one awaiter field per
// awaiter type (`<>u__1`), the builder, and the state (-1 running, 0 suspended at the await,
// -2 done).
struct GetStatusStateMachine {
  int state_ = -1;                                  // <>1__state
  duet::AsyncTaskMethodBuilder<int> builder_;       // <>t__builder
  samples::HttpClient* http_ = nullptr;             // parameter `http`
  std::string url_;                                 // parameter `url`
  duet::TaskAwaiter<samples::HttpResponse> awaiter_;  // <>u__1

  void move_next() {
    int num = state_;
    int result = 0;
    try {
      duet::TaskAwaiter<samples::HttpResponse> awaiter;
      if (num != 0) {
        std::printf("GetStatusAsync: running synchronously on %s\n", where());
        std::printf("GetStatusAsync: GET %s\n", url_.c_str());
        awaiter = http_->get_async(url_).get_awaiter();
        if (!awaiter.is_completed()) {
          std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
          num = state_ = 0;
          awaiter_ = awaiter;
          // Roslyn passes a local copy; the builder boxes *this on this first suspension.
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;  // *this is moved-from now: touch nothing
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        num = state_ = -1;
        std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
      }
      samples::HttpResponse response = awaiter.get_result();
      std::printf("GetStatusAsync: %d %s\n", response.status_code, response.reason_phrase.c_str());
      result = response.status_code;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

// get_status_async(http, url) — the stub Roslyn leaves in place of the async method's body.
duet::Task<int> get_status_async(samples::HttpClient& http, std::string url) {
  GetStatusStateMachine sm{.state_ = -1,
                           .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                           .http_ = &http,
                           .url_ = std::move(url),
                           .awaiter_ = {}};
  sm.builder_.start(sm);
  return sm.builder_.task();
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
