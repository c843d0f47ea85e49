// compile_fail.cpp — misuse that must not compile, each case behind its own macro, and the message
// the compiler must print for it (checked by expect_compile_error.py). With no macro defined the
// file compiles: that control proves each failure comes from the misuse line, not the setup.
#include <duet/duet.hpp>

#include <string>

namespace {

struct ReturnsNonAwaiter {
  int get_awaiter() const { return 0; }
};

struct Machine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_{};
  void move_next() {
#if defined(DUET_CASE_BUILDER_NEEDS_AWAITER)
    int not_an_awaiter = 0;
    builder_.await_unsafe_on_completed(not_an_awaiter, *this);
    return;
#endif
    builder_.set_result();
  }
};

[[maybe_unused]] void use() {
  Machine sm;
  sm.builder_.start(sm);
  (void)duet::get_awaiter(duet::completed_task());
#if defined(DUET_CASE_NOT_AWAITABLE)
  (void)duet::get_awaiter(std::string("not awaitable"));
#endif
#if defined(DUET_CASE_NOT_AN_AWAITER)
  duet::require_awaitable<ReturnsNonAwaiter>();
#endif
#if defined(DUET_CASE_CONFIGURE_NOT_AWAITABLE)
  (void)duet::configure_await(3.5, false);
#endif
}

}  // namespace
