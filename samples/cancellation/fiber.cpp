// cancellation — seed 003, section 12, in the fiber style: cooperative cancellation. DoWorkAsync
// checks its token and passes it down to Task.Delay; Main cancels after 3.5 s, so three steps of
// progress print, the pending delay ends canceled, and the fiber's task ends `canceled` (not
// faulted): the OperationCanceledError that escapes the fiber's function cancels its task, just
// as the builder's set_exception does for a state machine.
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
#include <duet/fiber/fiber.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

samples::VirtualTimeLoop* g_loop = nullptr;

duet::Task<> do_work_async(duet::CancellationToken token) {
  return duet::fiber::async([token = std::move(token)] {
    for (int i = 0; i < 100; ++i) {
      token.throw_if_cancellation_requested();
      duet::await(duet::delay(1000ms, token));
      std::printf("Progress: %d%%\n", i);
    }
  });
}

duet::Task<> main_async() {
  return duet::fiber::async([] {
    duet::CancellationTokenSource cts;
    cts.cancel_after(3500ms);
    duet::Task<> work = do_work_async(cts.token());
    try {
      duet::await(work);
      std::puts("finished");
    } catch (const duet::OperationCanceledError& e) {
      std::printf("Canceled at %lld ms: %s\n", static_cast<long long>(g_loop->elapsed().count()),
                  e.what());
      std::printf("token is the source's token: %s\n", e.token() == cts.token() ? "yes" : "no");
    }
    std::printf("DoWorkAsync status: %s\n", duet::to_string(work.status()));
  });
}

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  g_loop = &loop;
  loop.run([] { return main_async(); });
  return 0;
}
