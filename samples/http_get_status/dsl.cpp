// http_get_status — DSL style: the same machine as explicit.cpp, with move_next() written as
// straight-line code by the DUET_* macros. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct GetStatusAsync : duet::AsyncMethod<GetStatusAsync, int> {
  duet::net::HttpClient* http_;                        // parameter `http`
  std::string base_;                                   // parameter `base`
  std::string path_;                                   // parameter `path`
  duet::Task<duet::net::HttpResponseMessage> request_;  // the awaited task
  duet::net::HttpResponseMessage response_;            // local `response`
  bool suspended_ = false;                             // for the printing only

  GetStatusAsync(duet::net::HttpClient& http, std::string base, std::string path)
      : http_(&http), base_(std::move(base)), path_(std::move(path)) {}

  void move_next() {
    DUET_BEGIN
      std::printf("GetStatusAsync: running synchronously on %s\n", where());
      std::printf("GetStatusAsync: GET %s\n", path_.c_str());
      request_ = http_->get_async(base_ + path_);
      suspended_ = !request_.is_completed();
      if (suspended_) std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
      DUET_AWAIT_INTO(response_, request_);
      if (suspended_) std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
      std::printf("GetStatusAsync: %d %s\n", response_.status_code, response_.reason_phrase.c_str());
      DUET_RETURN(response_.status_code);
    DUET_END
  }
};


duet::Task<int> get_status_async(duet::net::HttpClient& http, std::string base, std::string path) {
  return duet::start<GetStatusAsync>(http, std::move(base), std::move(path));
}

}  // namespace
