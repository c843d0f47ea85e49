// duet/compose/when_all.hpp — when_all(tasks...): Task.WhenAll, a task that completes when every
// task has completed.
//
// How the combinators wait (when_all, when_any, wait_async). Every combinator is one heap object
// that *is* the result task's state and embeds everything it waits with: one intrusive
// Continuation per child task, the TimerEntry, the cancellation callback node. No std::function,
// no per-child allocation (when_all over a range allocates its node array once). Child
// continuations are registered with configure_await(false) semantics (no SynchronizationContext,
// no ExecutionContext): they only count and complete the combined task; the user's own
// continuations on the combined task then resume where their awaits captured.
//
// Outcome (.NET's rule): faulted when any child faulted — exception() is an AggregateError of
// every fault, in argument order (a child that is itself a when_all contributes its inner
// exceptions, flattened one level), while await / wait() / result() rethrow the *first* inner
// exception, as awaiting Task.WhenAll does; else canceled when any child was canceled
// (rethrowing the first canceled child's OperationCanceledError); else the results. A Task<>
// child contributes std::monostate to the tuple (the empty placeholder for "no value"); when
// every child is a Task<>, when_all returns Task<> itself, as .NET does.
//
// Caveat shared with every intrusive continuation stack: a child that never completes keeps the
// combinator's state alive (its node stays registered; .NET unlinks it, a Treiber stack cannot).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "duet/compose/task_factory.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/diag/diagnostics.hpp"

namespace duet {

namespace detail {

// when_all_element_t<T> — what a Task<T> contributes to when_all's tuple.
template <class T>
using when_all_element_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
when_all_element_t<T> take_element(TaskStateBase* s) {
  if constexpr (std::is_void_v<T>) {
    static_cast<TaskState<void>*>(s)->take_result();
    return std::monostate{};
  } else {
    return static_cast<TaskState<T>*>(s)->take_result();
  }
}

// TupleCollect<Ts...> — builds when_all's tuple from the children, in order.
template <class... Ts>
struct TupleCollect {
  using result_type = std::tuple<when_all_element_t<Ts>...>;
  static result_type collect(const std::vector<TaskStateBase*>& c) {
    return collect(c, std::index_sequence_for<Ts...>{});
  }
  template <std::size_t... Is>
  static result_type collect(const std::vector<TaskStateBase*>& c, std::index_sequence<Is...>) {
    return result_type{take_element<Ts>(c[Is])...};
  }
};

// VectorCollect<T> — builds when_all's vector from the children, in order.
template <class T>
struct VectorCollect {
  using result_type = std::vector<T>;
  static result_type collect(const std::vector<TaskStateBase*>& c) {
    std::vector<T> v;
    v.reserve(c.size());
    for (TaskStateBase* s : c) v.push_back(static_cast<TaskState<T>*>(s)->take_result());
    return v;
  }
};

// VoidCollect — when_all over Task<> children only.
struct VoidCollect {
  using result_type = void;
};

// append_failure(failed, out) — appends the exception of a failed task to `out`: the inner
// exceptions of a when_all's AggregateError, else the exception itself. Marks it observed.
void append_failure(TaskStateBase& failed, std::vector<std::exception_ptr>& out);

// collect_failures(children, faults, canceled) — gathers faults (flattening when_all children)
// and the first cancellation, in child order. Marks every failed child observed.
void collect_failures(const std::vector<TaskStateBase*>& children,
                      std::vector<std::exception_ptr>& faults, std::exception_ptr& canceled);

// WhenAllState<Collect> — the state of one when_all. refs: 1 handle + 1 "pending", released by
// the last child continuation after it completed the task.
template <class Collect>
class WhenAllState final : public TaskState<typename Collect::result_type> {
  using R = typename Collect::result_type;

 public:
  // Takes over one reference per child, only once nothing can throw any more: when the node
  // array cannot be allocated, `children` is left as it was and the caller releases them.
  explicit WhenAllState(std::vector<TaskStateBase*>&& children)
      : TaskState<R>(2), nodes_(new Node[children.size()]), remaining_(children.size()) {
    children_.swap(children);
  }

  // start() — registers one node per child. May complete the task before it returns.
  void start() noexcept {
    const std::size_t n = children_.size();
    for (std::size_t i = 0; i < n; ++i) {
      nodes_[i].invoke = &WhenAllState::on_child;
      nodes_[i].owner = this;
      nodes_[i].parent = this;
      nodes_[i].run_synchronously = true;  // a completion action, not an await
      DUET_DIAG_HOOK(diag_note_child(i));
      children_[i]->add_continuation(nodes_[i]);  // may run on_child inline
    }
  }

  // diag_describe(out) — "when_all (k of n pending)" (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    char text[diagnostics::Awaited::k_label];
    std::snprintf(text, sizeof text, "when_all (%zu of %zu pending)",
                  remaining_.load(std::memory_order_relaxed), children_.size());
    out.set(diagnostics::AwaitKind::when_all, static_cast<const TaskStateBase*>(this), text);
  }

 protected:
  ~WhenAllState() override {
    for (TaskStateBase* c : children_) c->release();
  }

 private:
  struct Node : Continuation {
    WhenAllState* parent = nullptr;
  };

  // diag_note_child(i) — the registry's link from this when_all to its child i (a record of
  // Style::when_all, diag/diagnostics.hpp), removed when the child completes. Cold, out of line.
  [[gnu::cold, gnu::noinline]] void diag_note_child(std::size_t i) noexcept {
    diagnostics::FrameRecord rec;
    rec.owner = static_cast<const Continuation*>(&nodes_[i]);
    rec.self_key = static_cast<const TaskStateBase*>(this);
    rec.name = "when_all";
    rec.style = diagnostics::Style::when_all;
    rec.state = static_cast<std::int32_t>(i);
    children_[i]->diag_describe(rec.awaited);
    diagnostics::detail::note_suspended(rec);
  }

  static void on_child(Continuation* c) noexcept {
    DUET_DIAG_HOOK(diagnostics::detail::note_resumed(c));
    WhenAllState* self = static_cast<Node&>(*c).parent;
    if (self->remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    self->finish();
    self->release();  // the pending reference
  }

  // finish() — completes the task from the children. Out of memory while gathering the faults
  // or building the AggregateError faults it with the std::bad_alloc.
  void finish() noexcept {
    try {
      finish_or_throw();
    } catch (...) {
      this->try_complete_exception(std::current_exception());
    }
  }
  void finish_or_throw() {
    std::vector<std::exception_ptr> faults;
    std::exception_ptr canceled;
    collect_failures(children_, faults, canceled);
    if (!faults.empty()) {
      std::exception_ptr all = std::make_exception_ptr(AggregateError(std::move(faults)));
      if (this->try_begin_complete()) {
        this->set_rethrow_first_inner();
        this->complete_exception_claimed(std::move(all));
      }
    } else if (canceled) {
      this->try_complete_canceled(std::move(canceled));
    } else if constexpr (std::is_void_v<R>) {
      this->try_complete_value();
    } else {
      try {
        this->try_complete_value(Collect::collect(children_));
      } catch (...) {
        this->try_complete_exception(std::current_exception());
      }
    }
  }

  std::vector<TaskStateBase*> children_;
  std::unique_ptr<Node[]> nodes_;
  std::atomic<std::size_t> remaining_;
};

template <class Collect>
auto start_when_all(std::vector<TaskStateBase*> children) {
  using R = typename Collect::result_type;
  WhenAllState<Collect>* s = nullptr;
  try {
    s = new WhenAllState<Collect>(std::move(children));
  } catch (...) {  // out of memory: the references taken on the children go back
    for (auto* c : children) c->release();
    throw;
  }
  Task<R> task = adopt_task(static_cast<TaskState<R>*>(s));
  s->start();
  return task;
}

template <class T>
TaskStateBase* take_child(const Task<T>& t) {
  if (!t.valid()) throw_invalid_task();
  t.state()->add_ref();
  return t.state();
}

template <class R>
struct is_task : std::false_type {};
template <class U>
struct is_task<Task<U>> : std::true_type {};

}  // namespace detail

// when_all(tasks...) — Task<std::tuple<E...>> where E is T for a Task<T> and std::monostate for a
// Task<>; Task<> when every argument is a Task<>. See the header comment for outcomes.
// Throws InvalidOperationError for an empty handle. Two allocations (state + node array).
template <class... Ts>
  requires(sizeof...(Ts) > 0)
auto when_all(const Task<Ts>&... tasks) {
  std::vector<detail::TaskStateBase*> children;
  children.reserve(sizeof...(Ts));
  try {
    (children.push_back(detail::take_child(tasks)), ...);
  } catch (...) {
    for (auto* c : children) c->release();
    throw;
  }
  if constexpr ((std::is_void_v<Ts> && ...)) {
    return detail::start_when_all<detail::VoidCollect>(std::move(children));
  } else {
    return detail::start_when_all<detail::TupleCollect<Ts...>>(std::move(children));
  }
}

// when_all(range) — over a range of Task<T>: Task<std::vector<T>> (results in range order), or
// Task<> for Task<> elements. An empty range gives a completed task.
template <std::ranges::input_range Range>
  requires detail::is_task<std::remove_cvref_t<std::ranges::range_value_t<Range>>>::value
auto when_all(Range&& tasks) {
  using TaskT = std::remove_cvref_t<std::ranges::range_value_t<Range>>;
  using T = typename TaskT::result_type;
  std::vector<detail::TaskStateBase*> children;
  try {
    for (const auto& t : tasks) children.push_back(detail::take_child(t));
  } catch (...) {
    for (auto* c : children) c->release();
    throw;
  }
  if constexpr (std::is_void_v<T>) {
    if (children.empty()) return completed_task();
    return detail::start_when_all<detail::VoidCollect>(std::move(children));
  } else {
    if (children.empty()) return from_result(std::vector<T>{});
    return detail::start_when_all<detail::VectorCollect<T>>(std::move(children));
  }
}

}  // namespace duet
