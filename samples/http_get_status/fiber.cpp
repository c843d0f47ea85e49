// http_get_status — fiber style: the C# body as straight-line code on a fiber; duet::await
// suspends the fiber, not the thread. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<int> get_status_async(duet::net::HttpClient& http, std::string base, std::string path) {
  return duet::fiber::async([&http, base = std::move(base), path = std::move(path)] {
    std::printf("GetStatusAsync: running synchronously on %s\n", where());
    std::printf("GetStatusAsync: GET %s\n", path.c_str());
    duet::Task<duet::net::HttpResponseMessage> request = http.get_async(base + path);
    if (!request.is_completed()) std::printf("GetStatusAsync: response not ready, suspending at await 0\n");
    duet::net::HttpResponseMessage response = duet::await(request);
    std::printf("GetStatusAsync: resumed in state 0 on %s\n", where());
    std::printf("GetStatusAsync: %d %s\n", response.status_code, response.reason_phrase.c_str());
    return response.status_code;
  });
}

}  // namespace
