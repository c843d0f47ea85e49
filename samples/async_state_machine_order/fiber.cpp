// async_state_machine_order — fiber style: FetchDataAsync's body on a fiber. A fiber has no state
// number: it keeps its place as a saved stack and instruction pointer, and a suspended fiber is
// simply switched out in the middle of duet::await. So each line prints the number Roslyn's
// state machine has at the same point: -1 while a segment runs, the await's ordinal while
// suspended there, -2 at the end. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<std::string> fetch_data_async() {
  return duet::fiber::async([] {
    trace(-1, "segment 1: before the first await (runs synchronously, in Main's call)");
    duet::Task<> delay = duet::delay(k_delay);
    if (!delay.is_completed()) {
      trace(0, "suspending at await #1: control returns to the caller");
    }
    duet::await(delay);
    trace(-1, "segment 2: resumed after the first await");
    delay = duet::delay(k_delay);
    if (!delay.is_completed()) {
      trace(1, "suspending at await #2: control returns to the caller");
    }
    duet::await(delay);
    trace(-1, "segment 3: resumed after the second await");
    trace(-2, "done: the task completes with \"data\"");
    return std::string("data");
  });
}

duet::Task<> main_async() {
  return duet::fiber::async([] {
    std::printf("Main: calling FetchDataAsync()\n");
    duet::Task<std::string> fetch = fetch_data_async();
    std::printf("Main: FetchDataAsync returned a %s task; awaiting it\n",
                fetch.is_completed() ? "completed" : "pending");
    const std::string data = duet::await(fetch);
    std::printf("Main: got \"%s\" at %lld ms\n", data.c_str(), now_ms());
  });
}

}  // namespace
