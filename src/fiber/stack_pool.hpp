// stack_pool.hpp — fixed-size fiber stacks: mapped with mmap, guarded with mprotect, pooled.
//
// The one place that knows how a fiber stack is made; fiber.cpp hands the stacks to Boost.Context's
// make_fcontext and gives them back here when the fiber ends.
//
// Layout of one stack (addresses grow to the right):
//
//   [ guard page, PROT_NONE ][ usable stack: `size` bytes ......................... ] sp
//   ^ mapping base            ^ stack_low                                             ^ top
//
// Pool. Stacks are keyed by (usable size, guarded). A released stack goes to the releasing
// thread's cache (LIFO, k_thread_cache entries: hot pages, no lock), overflowing into a shared
// list under a mutex (at most k_shared_cap entries), beyond which it is unmapped. A thread's
// cache is flushed to the shared list when the thread exits. Stacks migrate with their fibers,
// so a stack is often released on another thread than the one that acquired it; that is fine.
// Pooled stacks keep the pages they touched resident (that is the point: no page faults on
// reuse); trim_stack_pool() gives them back.
#pragma once

#include <cstddef>

#include <boost/context/stack_context.hpp>

namespace duet::fiber::detail {

// page_size() — the system page size.
std::size_t page_size() noexcept;

// StackPool — the process-wide pool. All members are thread-safe.
struct StackPool {
  // acquire(size, guard) — a stack with `size` usable bytes (a page multiple). Throws
  // FiberStackError when the kernel refuses the mapping.
  static boost::context::stack_context acquire(std::size_t size, bool guard);
  // release(sctx, guard) — gives a stack back (to a cache, or unmaps it). Any thread.
  static void release(const boost::context::stack_context& sctx, bool guard) noexcept;
};

}  // namespace duet::fiber::detail
