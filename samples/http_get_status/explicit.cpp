// http_get_status — explicit style: GetStatusAsync as the state machine Roslyn generates for it
// (see samples/get_status/explicit.cpp for the shape, step by step). The program is driver.hpp.
#include "driver.hpp"

namespace {

// GetStatusStateMachine — `<GetStatusAsync>d__0`: parameters as fields, the awaiter field
// (`<>u__1`), the builder, and the state (-1 running, 0 suspended at the await, -2 done).
struct GetStatusStateMachine {
  int state_ = -1;                                                // <>1__state
  duet::AsyncTaskMethodBuilder<int> builder_;                     // <>t__builder
  duet::net::HttpClient* http_ = nullptr;                         // parameter `http`
  std::string base_;                                              // parameter `base`
  std::string path_;                                              // parameter `path`
  duet::TaskAwaiter<duet::net::HttpResponseMessage> awaiter_;     // <>u__1

  void move_next() {
    int num = state_;
    int result = 0;
    try {
      duet::TaskAwaiter<duet::net::HttpResponseMessage> awaiter;
      if (num != 0) {
        std::printf("GetStatusAsync: running synchronously on %s\n", where());
        std::printf("GetStatusAsync: GET %s\n", path_.c_str());
        awaiter = http_->get_async(base_ + path_).get_awaiter();
        if (!awaiter.is_completed()) {
          std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
          num = state_ = 0;
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;  // *this is moved-from now: touch nothing
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        num = state_ = -1;
        std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
      }
      duet::net::HttpResponseMessage response = awaiter.get_result();
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


// get_status_async(http, base, path) — the stub Roslyn leaves in place of the method's body.
duet::Task<int> get_status_async(duet::net::HttpClient& http, std::string base, std::string path) {
  GetStatusStateMachine sm{.state_ = -1,
                           .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                           .http_ = &http,
                           .base_ = std::move(base),
                           .path_ = std::move(path),
                           .awaiter_ = {}};
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
