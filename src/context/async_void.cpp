// async_void.cpp — the async-void policy (context/async_void.hpp).
#include "duet/context/async_void.hpp"

#include <utility>

#include "duet/core/errors.hpp"

namespace duet::detail {

void async_void_throw(SynchronizationContext* context, std::exception_ptr e) noexcept {
  if (context) {
    try {
      context->post([e] { std::rethrow_exception(e); });
      return;
    } catch (...) {  // could not even queue it: nothing else can report it
    }
  }
  report_unhandled_exception(std::move(e));
}

void async_void_end(SynchronizationContext* context, TaskStateBase& task) noexcept {
  if (task.status() != TaskStatus::ran_to_completion) async_void_throw(context, task.exception());
  if (context) context->operation_completed();
}

}  // namespace duet::detail
