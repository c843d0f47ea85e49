// scheduler.cpp — TaskScheduler's statics: the thread's current scheduler (set while a
// start_new work item runs) and the SynchronizationContext-backed scheduler.
#include <memory>
#include <utility>

#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"

namespace duet {

namespace {

thread_local Scheduler* t_current_scheduler = nullptr;

// SyncContextScheduler — posts every item to one SynchronizationContext.
class SyncContextScheduler final : public Scheduler {
 public:
  explicit SyncContextScheduler(SynchronizationContext& ctx) noexcept : ctx_(ctx) {}
  void post(Continuation& c) noexcept override { ctx_.post(c); }

 private:
  SynchronizationContext& ctx_;
};

}  // namespace

namespace detail {
CurrentSchedulerScope::CurrentSchedulerScope(Scheduler* s) noexcept
    : saved_(std::exchange(t_current_scheduler, s)) {}
CurrentSchedulerScope::~CurrentSchedulerScope() { t_current_scheduler = saved_; }
}  // namespace detail

Scheduler& TaskScheduler::current() noexcept {
  Scheduler* s = t_current_scheduler;
  return s ? *s : duet::default_scheduler();
}

Scheduler& TaskScheduler::default_scheduler() noexcept { return duet::default_scheduler(); }

std::unique_ptr<Scheduler> TaskScheduler::from_current_synchronization_context() {
  SynchronizationContext* ctx = SynchronizationContext::current();
  if (!ctx) {
    throw InvalidOperationError(
        "TaskScheduler::from_current_synchronization_context: this thread has no "
        "SynchronizationContext; call it on the context's own thread (e.g. inside "
        "SingleThreadContext::run) or set one with SyncContextScope first");
  }
  return std::make_unique<SyncContextScheduler>(*ctx);
}

}  // namespace duet
