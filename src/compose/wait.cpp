// wait.cpp — the non-template half of wait_all / wait_any (compose/wait.hpp).
#include "duet/compose/wait.hpp"

#include <algorithm>

#include "duet/core/scheduler.hpp"

namespace duet::detail {

std::vector<std::exception_ptr> gather_failures(const std::vector<TaskStateBase*>& tasks) {
  std::vector<std::exception_ptr> out;
  for (TaskStateBase* t : tasks) {
    if (t->status() == TaskStatus::ran_to_completion) continue;
    std::exception_ptr e = t->exception();
    if (t->rethrows_first_inner()) {
      try {
        std::rethrow_exception(e);
      } catch (const AggregateError& a) {
        out.insert(out.end(), a.inner_exceptions().begin(), a.inner_exceptions().end());
        continue;
      } catch (...) {
      }
    }
    out.push_back(std::move(e));
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
// AnyWaiter — one node per task, all signalling one latch. References: the waiter, and one per
// node still registered.
struct AnyWaiter {
  struct Node final : Continuation {
    AnyWaiter* parent = nullptr;
    int index = 0;
  };
  explicit AnyWaiter(std::size_t n) : nodes(new Node[n]), refs(static_cast<int>(n) + 1) {}
  std::unique_ptr<Node[]> nodes;
  std::mutex m;
  std::condition_variable cv;
  int winner = -1;  // Guarded by m.
  std::atomic<int> refs;
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  static void fire(Continuation* c) noexcept {
    auto* node = static_cast<Node*>(c);
    AnyWaiter* self = node->parent;
    {
      std::lock_guard<std::mutex> lk(self->m);
      if (self->winner < 0) self->winner = node->index;
    }
    self->cv.notify_all();
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
  auto* w = new AnyWaiter(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    AnyWaiter::Node& n = w->nodes[i];
    n.invoke = &AnyWaiter::fire;
    n.run_synchronously = true;
    n.parent = w;
    n.index = static_cast<int>(i);
    tasks[i]->add_continuation(n);
  }
  int winner;
  {
    BlockingRegion blocking;
    std::unique_lock<std::mutex> lk(w->m);
    if (timeout < std::chrono::nanoseconds::zero()) {
      w->cv.wait(lk, [w] { return w->winner >= 0; });
    } else {
      w->cv.wait_for(lk, timeout, [w] { return w->winner >= 0; });
    }
    winner = w->winner;
  }
  w->release();
  if (winner >= 0) (void)tasks[static_cast<std::size_t>(winner)]->exception();  // observed
  return winner;
}

}  // namespace duet::detail
