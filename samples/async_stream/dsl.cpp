// async_stream — DSL style: FetchPagesAsync as a duet::AsyncIterator written with DUET_TRY,
// DUET_YIELD_RETURN and DUET_FINALLY; ReadUntilAsync as a duet::AsyncMethod whose DUET_FINALLY
// awaits the enumerator's dispose_async (what `await foreach` expands to). The program is
// driver.hpp.
#include "driver.hpp"

#include <optional>

namespace {

struct FetchPages : duet::AsyncIterator<FetchPages, std::string> {
  int pages_;
  int page_ = 0;
  explicit FetchPages(int pages) : pages_(pages) {}

  void move_next() {
    DUET_BEGIN
      print_open();
      DUET_TRY
        for (page_ = 1; page_ <= pages_; ++page_) {
          DUET_AWAIT(duet::delay(100ms, token()));
          print_fetched(page_);
          DUET_YIELD_RETURN("page " + std::to_string(page_));
        }
      DUET_FINALLY
        print_close();
      DUET_END_TRY
    DUET_END
  }
};

struct ReadUntil : duet::AsyncMethod<ReadUntil, int> {
  duet::AsyncStream<std::string> pages_;
  std::string last_;
  std::optional<duet::AsyncEnumerator<std::string>> e_;
  bool more_ = false;
  int n_ = 0;
  ReadUntil(duet::AsyncStream<std::string> pages, std::string last)
      : pages_(std::move(pages)), last_(std::move(last)) {}

  void move_next() {
    DUET_BEGIN
      e_.emplace(pages_.get_async_enumerator());
      DUET_TRY
        for (;;) {
          DUET_AWAIT_INTO(more_, e_->move_next_async());
          if (!more_) break;
          print_got(e_->current());
          ++n_;
          if (e_->current() == last_) break;
        }
      DUET_FINALLY
        DUET_AWAIT(e_->dispose_async());
      DUET_END_TRY
      DUET_RETURN(n_);
    DUET_END
  }
};

duet::AsyncStream<std::string> fetch_pages(int pages) { return duet::make_async_stream<FetchPages>(pages); }

duet::Task<int> read_until(duet::AsyncStream<std::string> pages, std::string last) {
  return duet::start<ReadUntil>(std::move(pages), std::move(last));
}

}  // namespace
