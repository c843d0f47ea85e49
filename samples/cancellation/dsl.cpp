// cancellation — DSL style: the same two methods as explicit.cpp; the DUET_* macros write
// move_next(). Unlike explicit.cpp, whose C++ try can only wrap the resumption half of
// `await work`, the DSL's DUET_TRY wraps the whole await, as the C# does. The program is
// driver.hpp.
#include "driver.hpp"

namespace {

struct DoWorkAsync : duet::AsyncMethod<DoWorkAsync> {
  duet::CancellationToken token_;  // parameter
  int i_ = 0;                      // hoisted loop variable

  explicit DoWorkAsync(duet::CancellationToken token) : token_(std::move(token)) {}

  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < 100; ++i_) {
        token_.throw_if_cancellation_requested();
        DUET_AWAIT(duet::delay(1000ms, token_));
        std::printf("Progress: %d%%\n", i_);
      }
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  duet::CancellationTokenSource cts_;
  duet::Task<> work_;

  void move_next() {
    DUET_BEGIN
      cts_.cancel_after(3500ms);
      work_ = do_work_async(cts_.token());
      DUET_TRY
        DUET_AWAIT(work_);
        std::puts("finished");
      DUET_CATCH(const duet::OperationCanceledError&, e)
        std::printf("Canceled at %lld ms: %s\n",
                    samples::now_ms(), e.what());
        std::printf("token is the source's token: %s\n", e.token() == cts_.token() ? "yes" : "no");
      DUET_END_TRY
      std::printf("DoWorkAsync status: %s\n", duet::to_string(work_.status()));
    DUET_END
  }
};


duet::Task<> do_work_async(duet::CancellationToken token) {
  return duet::start<DoWorkAsync>(std::move(token));
}

duet::Task<> main_async() { return duet::start<MainAsync>(); }

}  // namespace
