// task_run_cpu — fiber style: DeepDiveAsync's body on a fiber. While the fiber waits it holds no
// thread either: its stack is parked, and the thread that ran it goes back to the loop. The
// program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> deep_dive_async() {
  return duet::fiber::async([] {
    duet::Task<> timer = duet::delay(1000ms);
    report("await delay(1000 ms): a timer-based wait");
    duet::await(timer);
    resumed("the timer fired");

    duet::Task<long long> crunching = duet::run(cpu_work());
    report("await run(cpu_work()): CPU-bound work offloaded to the pool");
    const long long sum = duet::await(crunching);
    resumed("the sum", sum);

    duet::Task<int> read = read_async();
    report("await read_async(): asynchronous I/O");
    int bytes = duet::await(read);
    resumed("bytes read:", bytes);

    duet::Task<int> wasted = duet::run(blocking_read());
    report("await run(blocking_read()): a blocking call wrapped in run()");
    bytes = duet::await(wasted);
    resumed("bytes read:", bytes);
  });
}

}  // namespace
