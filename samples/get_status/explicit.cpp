// get_status — explicit style: GetStatusAsync written as the state machine Roslyn generates for
// it: it stores its awaiter, sets state 0, registers itself as the continuation and returns; the
// continuation runs move_next() again, which jumps to state 0. The program is driver.hpp.
#include "driver.hpp"

namespace {

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

}  // namespace
