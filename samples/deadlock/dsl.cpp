// deadlock — DSL style: the same methods as explicit.cpp in the DUET_* macro DSL
// (Button_ClickAsync is an async void method: duet::AsyncVoidMethod). The program is driver.hpp.
#include "driver.hpp"

namespace {

// GetValueAsync — `async Task<int> GetValueAsync(Task<int> io, bool continueOnCapturedContext)`.
struct GetValueAsync : duet::AsyncMethod<GetValueAsync, int> {
  duet::Task<int> io_;                 // parameter `io`
  bool continue_on_captured_context_;  // parameter `continueOnCapturedContext`
  int v_ = 0;                          // local `v`

  GetValueAsync(duet::Task<int> io, bool continue_on_captured_context)
      : io_(std::move(io)), continue_on_captured_context_(continue_on_captured_context) {}

  void move_next() {
    DUET_BEGIN
      std::printf("GetValueAsync: awaiting the I/O on %s (configure_await(%s))\n", thread_role(),
                  continue_on_captured_context_ ? "true" : "false");
      DUET_AWAIT_INTO(v_, io_.configure_await(continue_on_captured_context_));
      std::printf("GetValueAsync: resumed on %s\n", thread_role());
      DUET_RETURN(v_ + 1);
    DUET_END
  }
};

// ButtonClickAsync — `async void Button_ClickAsync()`, the handler that awaits.
struct ButtonClickAsync : duet::AsyncVoidMethod<ButtonClickAsync> {
  duet::Task<int> io_;
  int v_ = 0;

  explicit ButtonClickAsync(duet::Task<int> io) : io_(std::move(io)) {}

  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(v_, get_value_async(io_, true));
      std::printf("Button_ClickAsync: got %d on %s\n", v_, thread_role());
    DUET_END
  }
};

duet::Task<int> get_value_async(duet::Task<int> io, bool continue_on_captured_context) {
  return duet::start<GetValueAsync>(std::move(io), continue_on_captured_context);
}

void button_click_async(duet::Task<int> io) { duet::start<ButtonClickAsync>(std::move(io)); }

}  // namespace
