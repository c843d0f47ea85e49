// tests/dsl/test_dsl_async_void.cpp — DSL `async void` methods (duet::AsyncVoidMethod, i.e.
// AsyncMethod with AsyncVoidMethodBuilder): duet::start returns nothing, the captured
// SynchronizationContext counts the method as an outstanding operation until it ends, an
// escaping exception is thrown asynchronously on that context, try/finally with awaits works as
// in any DSL method, and a plain `return` is still caught by the exit guard (reported, not hung).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

namespace {

using duet::Task;
using duet::TaskCompletionSource;

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Handler — `async void Handler(Task input, string* log, bool fail)`: awaits, then logs or throws.
struct Handler : duet::AsyncVoidMethod<Handler> {
  Task<> input_;
  std::string* log_;
  bool fail_;
  Handler(Task<> input, std::string* log, bool fail) : input_(std::move(input)), log_(log), fail_(fail) {}
  void move_next() {
    DUET_BEGIN
      *log_ += "start ";
      DUET_TRY
        DUET_AWAIT(input_);
        if (fail_) throw TestError("handler failed");
        *log_ += "done ";
      DUET_FINALLY
        *log_ += "finally";
      DUET_END_TRY
    DUET_END
  }
};

static_assert(std::is_void_v<decltype(duet::start<Handler>(Task<>(), nullptr, false))>,
              "duet::start of an async void method returns nothing");

// PlainReturnVoid — a plain `return` in an async void method: the exit guard completes it with an
// InvalidOperationError, which (as any escaping exception of async void) surfaces on the context.
struct PlainReturnVoid : duet::AsyncVoidMethod<PlainReturnVoid> {
  void move_next() {
    DUET_BEGIN
      return;
    DUET_END
  }
};

TEST(DslAsyncVoid, PlainReturnIsReportedOnTheContextInsteadOfHanging) {
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);
  duet::start<PlainReturnVoid>();
  try {
    ui.run_until_operations_complete();
    FAIL() << "no exception surfaced";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("use DUET_RETURN"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ui.outstanding_operations(), 0);
}

}  // namespace
