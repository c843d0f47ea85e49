// wait.cpp — the non-template half of wait_all / wait_any (compose/wait.hpp).
#include "duet/compose/wait.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include "duet/compose/when_all.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"

namespace duet::detail {

std::vector<std::exception_ptr> gather_failures(const std::vector<TaskStateBase*>& tasks) {
  std::vector<std::exception_ptr> out;
  for (TaskStateBase* t : tasks) {
    if (t->status() != TaskStatus::ran_to_completion) append_failure(*t, out);
  }
  return out;
}

bool wait_all_states(const std::vector<TaskStateBase*>& tasks, std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds::zero()) {
    for (TaskStateBase* t : tasks) t->wait();  // wait()'s deadlock detection, task by task
    return true;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (TaskStateBase* t : tasks) {
    const auto left = std::max(std::chrono::nanoseconds::zero(),
                               std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    if (!t->wait_for(left)) return false;
  }
  return true;
}

namespace {
// AnyLatch — wait_any's latch: a task that completes when the first of the tasks does, with one
// node per task. References: the waiter, and one per node still registered. The nodes have no
// owner: the latch needs any one of them, not each (Continuation::owner's contract).
struct AnyLatch final : TaskState<void> {
  struct Node final : Continuation {
    AnyLatch* parent = nullptr;
    int index = 0;
  };
  explicit AnyLatch(std::size_t n) : TaskState<void>(static_cast<std::uint32_t>(n) + 1), nodes(new Node[n]) {}
  std::unique_ptr<Node[]> nodes;
  std::atomic<int> winner{-1};
  static void fire(Continuation* c) noexcept {
    auto* node = static_cast<Node*>(c);
    AnyLatch* self = node->parent;
    int none = -1;
    if (self->winner.compare_exchange_strong(none, node->index, std::memory_order_acq_rel)) {
      self->try_complete_value();
    }
    self->release();
  }
};
}  // namespace

int wait_any_states(const std::vector<TaskStateBase*>& tasks, std::chrono::nanoseconds timeout) {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i]->is_completed()) {
      (void)tasks[i]->exception();  // observed
      return static_cast<int>(i);
    }
  }
  if (timeout == std::chrono::nanoseconds::zero()) return -1;
  auto* latch = new AnyLatch(tasks.size());
  struct Drop {
    AnyLatch* latch;
    ~Drop() { latch->release(); }  // the waiter's reference, also when DeadlockError is thrown
  } drop{latch};
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    AnyLatch::Node& n = latch->nodes[i];
    n.invoke = &AnyLatch::fire;
    n.run_synchronously = true;
    n.parent = latch;
    n.index = static_cast<int>(i);
    tasks[i]->add_continuation(n);
  }
  if (timeout > std::chrono::nanoseconds::zero()) {
    (void)latch->wait_for(timeout);
  } else if (!latch->is_completed()) {
    // As TaskStateBase::wait: a pool worker hands its queue over; a context may diagnose the
    // deadlock (SingleThreadContext: none of the tasks can complete without its queue).
    BlockingRegion blocking;
    if (auto* ctx = SynchronizationContext::current()) {
      ctx->blocking_wait_any(*latch, tasks);
    } else {
      latch->wait_blocking();
    }
  }
  const int winner = latch->winner.load(std::memory_order_acquire);
  if (winner >= 0) (void)tasks[static_cast<std::size_t>(winner)]->exception();  // observed
  return winner;
}

}  // namespace duet::detail
