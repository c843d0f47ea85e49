// synchronization_context.cpp — the base SynchronizationContext (.NET's default context) and
// where exceptions from posted callbacks go.
#include "duet/core/synchronization_context.hpp"

#include <memory>
#include <utility>

#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/task.hpp"

namespace duet {

namespace {
// posted_exception_slot() — the calling thread's PostedExceptionSink target, or null.
[[gnu::noinline]] std::exception_ptr*& posted_exception_slot() noexcept {
  thread_local std::exception_ptr* slot = nullptr;
  return slot;
}

// FunctionNode — a heap node that runs a std::function once and frees itself.
struct FunctionNode : Continuation {
  explicit FunctionNode(std::function<void()> f) : fn(std::move(f)) { invoke = &run; }
  static void run(Continuation* c) noexcept {
    std::unique_ptr<FunctionNode> self(static_cast<FunctionNode*>(c));
    try {
      self->fn();
    } catch (...) {
      std::exception_ptr* slot = posted_exception_slot();
      if (slot && !*slot) {
        *slot = std::current_exception();
      } else {
        detail::report_unhandled_exception(std::current_exception());
      }
    }
  }
  std::function<void()> fn;
};
}  // namespace

detail::PostedExceptionSink::PostedExceptionSink(std::exception_ptr* slot) noexcept
    : saved_(std::exchange(posted_exception_slot(), slot)) {}

detail::PostedExceptionSink::~PostedExceptionSink() { posted_exception_slot() = saved_; }

void SynchronizationContext::post(Continuation& c) noexcept { default_scheduler().post(c); }

void SynchronizationContext::post(std::function<void()> fn) {
  auto* node = new FunctionNode(std::move(fn));
  post(*node);
}

void SynchronizationContext::send(const std::function<void()>& fn) { fn(); }

void SynchronizationContext::blocking_wait(detail::TaskStateBase& task) { task.wait_blocking(); }

void SynchronizationContext::blocking_wait_any(detail::TaskStateBase& latch,
                                               const std::vector<detail::TaskStateBase*>& tasks) {
  (void)tasks;
  latch.wait_blocking();
}

}  // namespace duet
