// async_stream — fiber style: FetchPagesAsync as a fiber generator (yield(v) is `yield return`,
// the catch-and-rethrow plus the line after the try is the finally block) and ReadUntilAsync as
// straight-line code on a fiber. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::AsyncStream<std::string> fetch_pages(int pages) {
  return duet::fiber::async_stream<std::string>([pages](duet::fiber::StreamYield<std::string>& yield) {
    print_open();
    try {
      for (int page = 1; page <= pages; ++page) {
        duet::await(duet::delay(100ms, yield.token()));
        print_fetched(page);
        yield("page " + std::to_string(page));
      }
    } catch (...) {  // finally (on an exception, and on early dispose: StreamDisposed)
      print_close();
      throw;
    }
    print_close();  // finally
  });
}

duet::Task<int> read_until(duet::AsyncStream<std::string> pages, std::string last) {
  return duet::fiber::async([pages = std::move(pages), last = std::move(last)] {
    int n = 0;
    auto e = pages.get_async_enumerator();
    try {
      while (duet::await(e.move_next_async())) {
        print_got(e.current());
        ++n;
        if (e.current() == last) break;
      }
    } catch (...) {
      duet::await(e.dispose_async());
      throw;
    }
    duet::await(e.dispose_async());  // await foreach's finally
    return n;
  });
}

}  // namespace
