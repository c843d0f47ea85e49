// custom_awaiter — fiber style: WaitAsync's body on a fiber. duet::await(5) looks the awaiter up
// as the state machines do, checks is_completed(), switches the fiber out and registers its
// continuation with unsafe_on_completed(), then returns get_result() once the delay resumes the
// fiber. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> wait_async() {
  return duet::fiber::async([] {
    say("await 5");
    duet::await(5);
    say("resumed after await 5");

    say("await 2_s");
    duet::await(2_s);
    say("resumed after await 2_s");
  });
}

}  // namespace
