// execution_context.cpp — flow suppression (ExecutionContext::suppress_flow and its guard) and the
// report of an AsyncLocal change handler that threw on a context switch. The
// thread's current context lives with the await protocol (core/continuation.hpp), the map in
// detail/execution_context_node.hpp.
#include "duet/context/execution_context.hpp"

#include "duet/context/async_local.hpp"
#include "duet/core/errors.hpp"

namespace duet {
namespace detail {

void report_change_handler_threw(std::exception_ptr e) noexcept {
  std::exception_ptr named;
  try {
    named = std::make_exception_ptr(InvalidOperationError(
        "an AsyncLocal change handler threw during an ExecutionContext switch: no caller can "
        "receive it there, so a change handler must not throw when the thread's context changes "
        "(catch inside the handler). This local's switch notifications are now off. The "
        "handler threw: " + describe(e)));
  } catch (...) {
    named = std::current_exception();  // out of memory: report the std::bad_alloc
  }
  report_unhandled_exception(std::move(named));
}

}  // namespace detail

void ExecutionContext::throw_run_null() {
  throw InvalidOperationError(
      "ExecutionContext::run: the context is null (it was captured while flow was suppressed); "
      "capture it while flow is not suppressed, or call the function directly");
}

ExecutionContext::AsyncFlowControl ExecutionContext::suppress_flow() {
  if (detail::ec_flow_suppressed()) {
    throw InvalidOperationError(
        "ExecutionContext::suppress_flow: flow is already suppressed on this thread; call "
        "restore_flow() (or let the AsyncFlowControl go out of scope) before suppressing again");
  }
  detail::ec_set_flow_suppressed(true);
  return AsyncFlowControl();
}

void ExecutionContext::restore_flow() {
  if (!detail::ec_flow_suppressed()) {
    throw InvalidOperationError(
        "ExecutionContext::restore_flow: flow is not suppressed on this thread; call it only "
        "after suppress_flow()");
  }
  detail::ec_set_flow_suppressed(false);
}

ExecutionContext::AsyncFlowControl::~AsyncFlowControl() {
  if (active_) detail::ec_set_flow_suppressed(false);
}

void ExecutionContext::AsyncFlowControl::undo() {
  if (!active_) {
    throw InvalidOperationError("AsyncFlowControl::undo: flow was already restored by this guard");
  }
  active_ = false;
  ExecutionContext::restore_flow();
}

}  // namespace duet
