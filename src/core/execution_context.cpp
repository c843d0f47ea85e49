// execution_context.cpp — the thread's current ExecutionContext and flow suppression.
#include "duet/execution_context.hpp"

#include "duet/detail/execution_context_node.hpp"
#include "duet/errors.hpp"

namespace duet {
namespace detail {

namespace {
struct ThreadEc {
  ExecutionContextNode* current = nullptr;  // one reference owned
  bool flow_suppressed = false;
};
// thread_ec() — the calling thread's record. Not inlined: a migrating fiber must never keep
// another thread's address (DESIGN.md, "Threads, memory, errors").
[[gnu::noinline]] ThreadEc& thread_ec() noexcept {
  thread_local ThreadEc t;
  return t;
}
}  // namespace

void ec_add_ref(ExecutionContextNode* n) noexcept {
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
}

void ec_release(ExecutionContextNode* n) noexcept {
  if (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
}

ExecutionContextNode* ec_current() noexcept { return thread_ec().current; }

void ec_set_current(ExecutionContextNode* n) noexcept {
  ThreadEc& t = thread_ec();
  ExecutionContextNode* old = t.current;
  if (old == n) return;
  ec_add_ref(n);
  t.current = n;
  ec_notify_changes(old, n);
  ec_release(old);
}

bool ec_flow_suppressed() noexcept { return thread_ec().flow_suppressed; }

}  // namespace detail

ExecutionContext::AsyncFlowControl ExecutionContext::suppress_flow() {
  auto& t = detail::thread_ec();
  if (t.flow_suppressed) {
    throw InvalidOperationError(
        "ExecutionContext::suppress_flow: flow is already suppressed on this thread; call "
        "restore_flow() (or let the AsyncFlowControl go out of scope) before suppressing again");
  }
  t.flow_suppressed = true;
  return AsyncFlowControl();
}

void ExecutionContext::restore_flow() {
  auto& t = detail::thread_ec();
  if (!t.flow_suppressed) {
    throw InvalidOperationError(
        "ExecutionContext::restore_flow: flow is not suppressed on this thread; call it only "
        "after suppress_flow()");
  }
  t.flow_suppressed = false;
}

ExecutionContext::AsyncFlowControl::~AsyncFlowControl() {
  if (active_) detail::thread_ec().flow_suppressed = false;
}

void ExecutionContext::AsyncFlowControl::undo() {
  if (!active_) {
    throw InvalidOperationError("AsyncFlowControl::undo: flow was already restored by this guard");
  }
  active_ = false;
  ExecutionContext::restore_flow();
}

}  // namespace duet

namespace duet::detail {
// No AsyncLocal registers change callbacks yet: AsyncLocal<T> lands with the context-flow issue.
void ec_notify_changes(ExecutionContextNode*, ExecutionContextNode*) noexcept {}
}  // namespace duet::detail
