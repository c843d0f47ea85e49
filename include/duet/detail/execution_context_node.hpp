// duet/detail/execution_context_node.hpp — the immutable map behind ExecutionContext.
//
// A node is created by AsyncLocal<T>::set_value (copy-on-write) and never modified afterwards,
// so any number of threads may read it. `refs` counts ExecutionContext handles, captured
// continuations and the threads that have it installed.
#pragma once

#include <atomic>
#include <cstdint>

namespace duet::detail {

struct ExecutionContextNode {
  std::atomic<std::uint32_t> refs{1};
  virtual ~ExecutionContextNode() = default;
};

// ec_notify_changes(from, to) — runs the AsyncLocal change callbacks for values that differ
// between `from` and `to` (thread_context_changed = true). Called by ec_set_current.
void ec_notify_changes(ExecutionContextNode* from, ExecutionContextNode* to) noexcept;

}  // namespace duet::detail
