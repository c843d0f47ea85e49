// task_run_cpu — DSL style: DeepDiveAsync with move_next() written by the DUET_* macros; the
// tasks started before each await and the results are hoisted into members. The program is
// driver.hpp.
#include "driver.hpp"

namespace {

struct DeepDiveAsync : duet::AsyncMethod<DeepDiveAsync> {
  duet::Task<> timer_;               // hoisted locals
  duet::Task<long long> crunching_;
  long long sum_ = 0;
  duet::Task<int> read_;
  duet::Task<int> wasted_;
  int bytes_ = 0;

  void move_next() {
    DUET_BEGIN
      timer_ = duet::delay(1000ms);
      report("await delay(1000 ms): a timer-based wait");
      DUET_AWAIT(timer_);
      resumed("the timer fired");

      crunching_ = duet::run(cpu_work());
      report("await run(cpu_work()): CPU-bound work offloaded to the pool");
      DUET_AWAIT_INTO(sum_, crunching_);
      resumed("the sum", sum_);

      read_ = read_async();
      report("await read_async(): asynchronous I/O");
      DUET_AWAIT_INTO(bytes_, read_);
      resumed("bytes read:", bytes_);

      wasted_ = duet::run(blocking_read());
      report("await run(blocking_read()): a blocking call wrapped in run()");
      DUET_AWAIT_INTO(bytes_, wasted_);
      resumed("bytes read:", bytes_);
    DUET_END
  }
};

duet::Task<> deep_dive_async() { return duet::start<DeepDiveAsync>(); }

}  // namespace
