// async_state_machine_order — DSL style: the same state machine as explicit.cpp, with move_next()
// written by the DUET_* macros. Its state_ is -1 while a segment runs (printed as it is), but at
// an await the DSL stores a resume label made from __COUNTER__, not the await's ordinal, and it
// does so inside DUET_AWAIT, after the last line of the segment; and DUET_RETURN sets -2 as it
// completes the task. So the suspending and done lines print the number Roslyn gives those
// points — the await's ordinal, and -2. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct FetchDataAsync : duet::AsyncMethod<FetchDataAsync, std::string> {
  duet::Task<> delay_;  // the awaited delay, kept to see whether the await will suspend

  void move_next() {
    DUET_BEGIN
      trace(state_, "segment 1: before the first await (runs synchronously, in Main's call)");
      delay_ = duet::delay(k_delay);
      if (!delay_.is_completed()) {
        trace(0, "suspending at await #1: control returns to the caller");
      }
      DUET_AWAIT(delay_);
      trace(state_, "segment 2: resumed after the first await");
      delay_ = duet::delay(k_delay);
      if (!delay_.is_completed()) {
        trace(1, "suspending at await #2: control returns to the caller");
      }
      DUET_AWAIT(delay_);
      trace(state_, "segment 3: resumed after the second await");
      trace(-2, "done: the task completes with \"data\"");
      DUET_RETURN(std::string("data"));
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  duet::Task<std::string> fetch_;  // hoisted locals
  std::string data_;

  void move_next() {
    DUET_BEGIN
      std::printf("Main: calling FetchDataAsync()\n");
      fetch_ = fetch_data_async();
      std::printf("Main: FetchDataAsync returned a %s task; awaiting it\n",
                  fetch_.is_completed() ? "completed" : "pending");
      DUET_AWAIT_INTO(data_, fetch_);
      std::printf("Main: got \"%s\" at %lld ms\n", data_.c_str(), now_ms());
    DUET_END
  }
};

duet::Task<std::string> fetch_data_async() { return duet::start<FetchDataAsync>(); }

duet::Task<> main_async() { return duet::start<MainAsync>(); }

}  // namespace
