// duet/compose/yield.hpp — yield(): Task.Yield, an awaitable that always suspends.
#pragma once

#include "duet/core/continuation.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"

namespace duet {

// YieldAwaitable — the result of yield() (.NET's Task.Yield()): never completed, so the awaiting
// method always suspends; the continuation is posted to the current SynchronizationContext if
// there is one, else queued to the thread pool.
class YieldAwaitable {
 public:
  struct YieldAwaiter {
    bool is_completed() const noexcept { return false; }
    void on_completed(Continuation& c) noexcept {
      detail::capture_execution_context(c);
      unsafe_on_completed(c);
    }
    void unsafe_on_completed(Continuation& c) noexcept {
      c.context = nullptr;
      if (auto* ctx = SynchronizationContext::current()) {
        ctx->post(c);
      } else {
        default_scheduler().post(c);
      }
    }
    void get_result() const noexcept {}
  };
  YieldAwaiter get_awaiter() const noexcept { return {}; }
};

// yield() — see YieldAwaitable. No allocation.
inline YieldAwaitable yield() noexcept { return {}; }

}  // namespace duet
