// duet/compose/when_any.hpp — when_any(tasks...): Task.WhenAny, a task that completes with the
// first task to complete (how it waits: compose/when_all.hpp).
//
// Outcome: always ran_to_completion with {index, task} of the first child to complete, whatever
// that child's status; await the returned task to observe it.
//
// Over tasks of different result types (.NET's Task.WhenAny(params Task[]), where every Task<T>
// is a Task), the result is a WhenAnyResult<void>: the winner's index and a Task<> with the
// winner's outcome (success, its fault, its cancellation) and without its value; read the value
// from the original task, which `index` names. The Task<> is a new handle, not the winner itself
// (a Task<T> is not a Task<> here: README, Differences from .NET).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

#include "duet/compose/when_all.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"

namespace duet {

// WhenAnyResult<T> — which task completed first: its position among the arguments and the task.
template <class T>
struct WhenAnyResult {
  std::size_t index = 0;
  Task<T> task;
};

namespace detail {

// WhenAnyState<T> — refs: 1 handle + 1 per child node (each node releases its own when its
// child completes, so late children never touch a freed state).
// ErasedTask — a counted reference to a task of any result type, seen as a Task<>: when_any over
// mixed result types holds its children as these.
class ErasedTask {
 public:
  template <class T>
  explicit ErasedTask(const Task<T>& t) : state_(t.state()) {
    if (!state_) throw_invalid_task();
    state_->add_ref();
  }
  ErasedTask(ErasedTask&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  ErasedTask(const ErasedTask&) = delete;
  ErasedTask& operator=(const ErasedTask&) = delete;
  ErasedTask& operator=(ErasedTask&&) = delete;
  ~ErasedTask() {
    if (state_) state_->release();
  }
  bool valid() const noexcept { return state_ != nullptr; }
  TaskStateBase* state() const noexcept { return state_; }

 private:
  TaskStateBase* state_;
};

// as_result(child) — what WhenAnyResult::task holds for a completed child: the child itself, or
// for an ErasedTask a Task<> with its outcome (mirror_outcome).
template <class T>
const Task<T>& as_result(const Task<T>& child) noexcept {
  return child;
}
// mirror_outcome(done) — a new Task<> completed as `done` (which has completed): its success,
// its fault (an AggregateError that rethrows its first inner stays so) or its cancellation.
Task<> mirror_outcome(TaskStateBase& done);
inline Task<> as_result(const ErasedTask& child) { return mirror_outcome(*child.state()); }

template <class T, class Child = Task<T>>
class WhenAnyState final : public TaskState<WhenAnyResult<T>> {
 public:
  explicit WhenAnyState(std::vector<Child> children)
      : TaskState<WhenAnyResult<T>>(static_cast<std::uint32_t>(1 + children.size())),
        children_(std::move(children)),
        nodes_(new Node[children_.size()]) {}

  void start() noexcept {
    for (std::size_t i = 0; i < children_.size(); ++i) {
      nodes_[i].invoke = &WhenAnyState::on_child;
      // No owner: when_any completes through any one child, so it does not need this node to
      // run (Continuation::owner's contract; deadlock detection would report a false cycle).
      nodes_[i].owner = nullptr;
      nodes_[i].parent = this;
      nodes_[i].index = i;
      nodes_[i].run_synchronously = true;  // a completion action, not an await
      children_[i].state()->add_continuation(nodes_[i]);
    }
  }


  // diag_describe(out) — "when_any (n tasks)" (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    char text[diagnostics::Awaited::k_label];
    std::snprintf(text, sizeof text, "when_any (%zu tasks)", children_.size());
    out.set(diagnostics::AwaitKind::when_all, static_cast<const TaskStateBase*>(this), text);
  }

 private:
  struct Node : Continuation {
    WhenAnyState* parent = nullptr;
    std::size_t index = 0;
  };

  static void on_child(Continuation* c) noexcept {
    Node* node = &static_cast<Node&>(*c);
    WhenAnyState* self = node->parent;
    if (!self->decided_.exchange(true, std::memory_order_acq_rel)) {
      try {
        self->try_complete_value(WhenAnyResult<T>{node->index, as_result(self->children_[node->index])});
      } catch (...) {
        self->try_complete_exception(std::current_exception());
      }
    }
    self->release();
  }

  std::vector<Child> children_;
  std::unique_ptr<Node[]> nodes_;
  std::atomic<bool> decided_{false};
};

template <class T, class Child = Task<T>>
Task<WhenAnyResult<T>> start_when_any(std::vector<Child> children) {
  if (children.empty()) {
    throw ArgumentError("when_any needs at least one task: with none, nothing could ever complete "
                        "first (.NET throws ArgumentException too)");
  }
  for (const auto& t : children) {
    if (!t.valid()) throw_invalid_task();
  }
  auto* s = new WhenAnyState<T, Child>(std::move(children));
  Task<WhenAnyResult<T>> task = adopt_task(static_cast<TaskState<WhenAnyResult<T>>*>(s));
  s->start();
  return task;
}

}  // namespace detail

// when_any(tasks...) — Task<WhenAnyResult<T>> naming the first of `tasks` to complete. All
// arguments must be Task<T> of one T. Two allocations.
template <class T, class... Rest>
  requires(std::is_same_v<Rest, T> && ...)
Task<WhenAnyResult<T>> when_any(const Task<T>& first, const Task<Rest>&... rest) {
  return detail::start_when_any<T>(std::vector<Task<T>>{first, rest...});
}

// when_any(tasks...) — over tasks of different result types: Task<WhenAnyResult<void>> naming
// the first to complete, its `task` a Task<> with that task's outcome (see the header). Three
// allocations (the third when the winner is known).
template <class T0, class T1, class... Rest>
  requires(!(std::is_same_v<T0, T1> && (std::is_same_v<Rest, T0> && ...)))
Task<WhenAnyResult<void>> when_any(const Task<T0>& first, const Task<T1>& second, const Task<Rest>&... rest) {
  std::vector<detail::ErasedTask> children;
  children.reserve(2 + sizeof...(Rest));
  children.emplace_back(first);
  children.emplace_back(second);
  (children.emplace_back(rest), ...);
  return detail::start_when_any<void, detail::ErasedTask>(std::move(children));
}

// when_any(range) — over a range of Task<T>. An empty range throws ArgumentError.
template <std::ranges::input_range Range>
  requires detail::is_task<std::remove_cvref_t<std::ranges::range_value_t<Range>>>::value
auto when_any(Range&& tasks) {
  using TaskT = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
  using T = typename TaskT::result_type;
  std::vector<Task<T>> children;
  for (const auto& t : tasks) children.push_back(t);
  return detail::start_when_any<T>(std::move(children));
}

}  // namespace duet
