// duet/detail/fault_point.hpp — out-of-memory injection where the library hands out memory it
// pooled itself, without calling operator new (which a test replaces to inject failures): a
// fiber control block from the per-thread block cache, a fiber stack from the stack pool. Each
// such acquisition asks fault_point(site); a test's hook (tests/support: FailAt) counts it as an
// allocation point and may answer "fail", and the acquisition then fails exactly as if the
// memory were exhausted (std::bad_alloc, FiberStackError). No hook installed: one relaxed load
// and a predictable branch per fiber start (which costs far more).
//
// Thread-safety: set_fault_hook() and fault_point() may be called from any thread.
#pragma once

#include <atomic>

namespace duet::detail {

// FaultSite — which pooled acquisition asks.
enum class FaultSite : unsigned char {
  fiber_control_block,  // a fiber's control block taken from the per-thread cache
  fiber_stack,          // a fiber's stack taken from the stack pool (cached or newly carved)
};

// FaultHook — answers true when the acquisition at `site` must fail. Must not throw or allocate.
using FaultHook = bool (*)(FaultSite site) noexcept;

// g_fault_hook — the installed hook, or null (the default).
extern std::atomic<FaultHook> g_fault_hook;

// set_fault_hook(hook) — installs `hook` (null: none). For tests.
inline void set_fault_hook(FaultHook hook) noexcept {
  g_fault_hook.store(hook, std::memory_order_release);
}

// fault_point(site) — whether the acquisition at `site` must fail now.
inline bool fault_point(FaultSite site) noexcept {
  const FaultHook hook = g_fault_hook.load(std::memory_order_acquire);
  return hook != nullptr && hook(site);
}

}  // namespace duet::detail
