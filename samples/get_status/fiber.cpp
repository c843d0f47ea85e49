// get_status — fiber style: the C# body, straight-line code on a fiber, where duet::await
// suspends the fiber instead of returning from move_next(). The fiber runs synchronously on its
// caller's thread up to the first await whose operand is not complete; there it switches back to
// the caller, which registers the fiber as the continuation and gets an incomplete task. "State 0"
// is the first await: a fiber keeps its place on its own stack instead of in a number. The
// program is driver.hpp.
#include "driver.hpp"

namespace {

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

}  // namespace
