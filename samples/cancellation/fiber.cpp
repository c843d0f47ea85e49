// cancellation — fiber style: the fiber's task ends `canceled` (not faulted): the
// OperationCanceledError that escapes the fiber's function cancels its task, just as the
// builder's set_exception does for a state machine. The program is driver.hpp.
#include "driver.hpp"

namespace {

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
      std::printf("Canceled at %lld ms: %s\n", samples::now_ms(),
                  e.what());
      std::printf("token is the source's token: %s\n", e.token() == cts.token() ? "yes" : "no");
    }
    std::printf("DoWorkAsync status: %s\n", duet::to_string(work.status()));
  });
}

}  // namespace
