// deadlock — fiber style. GetValueAsync's fiber suspends with the UI context captured, so its
// continuation is posted to the UI loop — whose only thread is the one blocking. The fiber's
// continuation names the fiber's task as its owner, exactly as a state-machine box does, so duet
// follows the same chain (continuation -> GetValueAsync's task, the one being waited for) and
// throws DeadlockError. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<int> get_value_async(duet::Task<int> io, bool continue_on_captured_context) {
  return duet::fiber::async([io = std::move(io), continue_on_captured_context] {
    std::printf("GetValueAsync: awaiting the I/O on %s (configure_await(%s))\n", thread_role(),
                continue_on_captured_context ? "true" : "false");
    const int v = duet::await(io.configure_await(continue_on_captured_context));
    std::printf("GetValueAsync: resumed on %s\n", thread_role());
    return v + 1;
  });
}

// button_click_async(io) — Button_ClickAsync, an async void handler that awaits.
void button_click_async(duet::Task<int> io) {
  duet::fiber::async_void([io = std::move(io)] {
    const int v = duet::await(get_value_async(io, true));
    std::printf("Button_ClickAsync: got %d on %s\n", v, thread_role());
  });
}

}  // namespace
