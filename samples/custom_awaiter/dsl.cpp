// custom_awaiter — DSL style: WaitAsync with move_next() written by the DUET_* macros.
// DUET_AWAIT(5) and DUET_AWAIT(2_s) look the awaiter up exactly as the explicit machine's
// duet::get_awaiter calls do, and make the same calls on it. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct WaitAsync : duet::AsyncMethod<WaitAsync> {
  void move_next() {
    DUET_BEGIN
      say("await 5");
      DUET_AWAIT(5);
      say("resumed after await 5");

      say("await 2_s");
      DUET_AWAIT(2_s);
      say("resumed after await 2_s");
    DUET_END
  }
};

duet::Task<> wait_async() { return duet::start<WaitAsync>(); }

}  // namespace
