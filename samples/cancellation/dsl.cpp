// cancellation — seed 003, section 12, in the DUET_* macro DSL: cooperative cancellation.
// DoWorkAsync checks its token and passes it down to Task.Delay; Main cancels after 3.5 s, so
// three steps of progress print, the pending delay ends canceled, and the method itself ends
// `canceled` (not faulted). Unlike explicit.cpp, whose C++ try can only wrap the resumption half
// of `await work`, the DSL's DUET_TRY wraps the whole await, as the C# does.
// Time is virtual (samples/common/virtual_time.hpp): the output is exact.
//
//   async Task DoWorkAsync(CancellationToken token) {
//     for (int i = 0; i < 100; i++) {
//       token.ThrowIfCancellationRequested();
//       await Task.Delay(1000, token);
//       Console.WriteLine($"Progress: {i}%");
//     }
//   }
//   async Task Main() {
//     using var cts = new CancellationTokenSource();
//     cts.CancelAfter(3500);
//     var work = DoWorkAsync(cts.Token);
//     try { await work; Console.WriteLine("finished"); }
//     catch (OperationCanceledException e) { Console.WriteLine($"Canceled at ...: {e.Message}"); }
//     Console.WriteLine($"DoWorkAsync status: {work.Status}");
//   }
#include <chrono>
#include <cstdio>
#include <utility>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

samples::VirtualTimeLoop* g_loop = nullptr;

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
      work_ = duet::start<DoWorkAsync>(cts_.token());
      DUET_TRY
        DUET_AWAIT(work_);
        std::puts("finished");
      DUET_CATCH(const duet::OperationCanceledError&, e)
        std::printf("Canceled at %lld ms: %s\n",
                    static_cast<long long>(g_loop->elapsed().count()), e.what());
        std::printf("token is the source's token: %s\n", e.token() == cts_.token() ? "yes" : "no");
      DUET_END_TRY
      std::printf("DoWorkAsync status: %s\n", duet::to_string(work_.status()));
    DUET_END
  }
};

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  g_loop = &loop;
  loop.run([] { return duet::start<MainAsync>(); });
  return 0;
}
