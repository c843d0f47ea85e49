// async_stream — explicit style: FetchPagesAsync as the async iterator Roslyn generates (a
// duet::AsyncIterator: state_, builder_, the awaiter field, yield_return, dispose mode, the try
// block's own dispatch and the finally code after it) and ReadUntilAsync as the state machine of
// an `await foreach` (move_next_async in a loop, dispose_async awaited in the finally). The
// program is driver.hpp.
#include "driver.hpp"

#include <optional>

namespace {

struct FetchPagesIterator : duet::AsyncIterator<FetchPagesIterator, std::string> {
  int pages_;                               // parameter
  int page_ = 0;                            // hoisted local
  duet::TaskAwaiter<void> awaiter1_;        // await Task.Delay(100, ct)
  std::exception_ptr pending_;              // the exception parked for the finally block
  explicit FetchPagesIterator(int pages) : pages_(pages) {}

  void move_next() {
    try {
      if (state_ == -1) print_open();
      try {
        switch (state_) {  // the try block's own dispatch
          case 0:
            state_ = -1;
            goto resume0;
          case 1:
            state_ = -1;
            goto resume1;
          default:
            break;
        }
        for (page_ = 1; page_ <= pages_; ++page_) {
          awaiter1_ = duet::delay(100ms, token()).get_awaiter();
          if (!awaiter1_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter1_, *this);
            return;
          }
        resume0:
          awaiter1_.get_result();
          print_fetched(page_);
          state_ = 1;  // yield return $"page {page}";
          yield_return("page " + std::to_string(page_));
          return;
        resume1:
          if (dispose_mode()) break;  // disposed at the yield: leave through the finally
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      print_close();  // finally
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();  // the end of the stream
  }
};

struct ReadUntilStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  std::optional<duet::AsyncStream<std::string>> pages_;  // parameters
  std::string last_;
  std::optional<duet::AsyncEnumerator<std::string>> e_;  // hoisted locals
  int n_ = 0;
  std::exception_ptr pending_;
  duet::ValueTaskAwaiter<bool> awaiter1_;  // await e.MoveNextAsync()
  duet::ValueTaskAwaiter<void> awaiter2_;  // await e.DisposeAsync()

  void move_next() {
    try {
      if (state_ == 1) {
        state_ = -1;
        goto resume1;
      }
      if (state_ == -1) e_.emplace(pages_->get_async_enumerator());
      try {
        if (state_ == 0) {
          state_ = -1;
          goto resume0;
        }
        for (;;) {
          awaiter1_ = e_->move_next_async().get_awaiter();
          if (!awaiter1_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter1_, *this);
            return;
          }
        resume0:
          if (!awaiter1_.get_result()) break;
          print_got(e_->current());
          ++n_;
          if (e_->current() == last_) break;
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      // finally { await e.DisposeAsync(); }
      awaiter2_ = e_->dispose_async().get_awaiter();
      if (!awaiter2_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(awaiter2_, *this);
        return;
      }
    resume1:
      awaiter2_.get_result();
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(n_);
  }
};

duet::AsyncStream<std::string> fetch_pages(int pages) {
  return duet::make_async_stream<FetchPagesIterator>(pages);
}

duet::Task<int> read_until(duet::AsyncStream<std::string> pages, std::string last) {
  ReadUntilStateMachine sm;
  sm.pages_.emplace(std::move(pages));
  sm.last_ = std::move(last);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
