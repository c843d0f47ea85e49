// get_status — DSL style: the same state machine as explicit.cpp (same struct shape, builder, box
// and behaviour), but move_next() is written as straight-line code and the DUET_* macros generate
// the switch, the label and the awaiter bookkeeping. Where the explicit machine prints from inside
// its suspend and resume branches, this method checks the awaited task itself before the await
// and remembers that it suspended. (The DSL's internal state_ value is a __COUNTER__-based label,
// not 0; "await 0" names the await by its position in the method, as the explicit sample's state
// number does.) The program is driver.hpp.
#include "driver.hpp"

namespace {

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

duet::Task<int> get_status_async(samples::HttpClient& http, std::string url) {
  return duet::start<GetStatusAsync>(http, std::move(url));
}

}  // namespace
