// duet/core/continuation.hpp — the await protocol: the Continuation every queue carries, and the
// steps of one await that all three styles share. docs/design.md ("One await, end to end") walks
// one await through this file.
//
// A Continuation is "the code to run when something finishes". It is embedded in the object that
// owns it (the state-machine box, the fiber control block, a Task.Run work item), so registering
// it on a task, posting it to the thread pool, to a SynchronizationContext or to the timer wheel
// allocates nothing.
//
// The protocol, in the order an await goes through it:
//  0. awaiter   — get_awaiter(x) and the Awaiter interface below: is_completed() is the fast path
//                 (no suspension, no allocation); otherwise the method suspends and registers;
//  1. capture   — capture(c, continue_on_captured_context, flow): the thread's current
//                 SynchronizationContext (unless configure_await(false)) and ExecutionContext
//                 (unless the awaiter is "unsafe" or flow is suppressed) go into the node;
//  2. register  — TaskStateBase::try_add_continuation(c) (a task) or a source's own single slot; an
//                 await that finds the operation completed never runs its node synchronously:
//                 it dispatches it with force_async (posted to its context, else the pool);
//  3. dispatch  — dispatch_continuation(c, force_async), once the operation completed: posted to
//                 the captured context when it is not the completing thread's; with no captured
//                 context, posted to the pool when the completing thread has a context of its
//                 own (so a foreign context never leaks into the resumed method); else run inline
//                 (nesting at most k_max_inline_depth deep), else posted to the pool. Of several
//                 awaits on one task, only the first may run inline (dispatch_continuations);
//  4. run with restore — run_continuation(c): the captured ExecutionContext installed, the node's
//                 invoke run (it resumes the machine or the fiber), the thread's own restored.
// The thread's ambient state that steps 1 and 4 read and write (the current
// SynchronizationContext, the current ExecutionContext, flow suppression) lives here too, behind
// non-inlined accessors: fibers migrate between threads, so no caller may keep a thread_local's
// address across an await.
//
// Ground rules:
//  * A node is in at most one list at a time (a task's continuation stack, a pool queue, a context
//    queue). Whoever takes it out of a list owns it until it calls `invoke` or hands it on.
//  * `invoke` runs exactly once per registration and must not throw.
//  * Run a dequeued node through run_continuation(c), never `c->invoke(c)` directly.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "duet/detail/execution_context_node.hpp"

namespace duet {

class SynchronizationContext;

namespace detail {
class TaskStateBase;
}  // namespace detail

// Continuation — an intrusive, allocation-free callback node. Not thread-safe by itself: the
// ownership rules above decide which thread may touch it.
struct Continuation {
  // invoke — the function that resumes the owner. Never null once registered.
  void (*invoke)(Continuation*) noexcept = nullptr;
  // next — link used by whichever list holds the node. Owned by that list.
  Continuation* next = nullptr;
  // context — the SynchronizationContext captured at await time; the continuation is posted there
  // (null: run on the thread pool, or inline where that is allowed — see dispatch_continuation).
  SynchronizationContext* context = nullptr;
  // execution_context — the ExecutionContext captured at await time (null is the default, empty
  // context). Meaningful only when flow_execution_context is true; one reference is owned.
  detail::ExecutionContextNode* execution_context = nullptr;
  // flow_execution_context — true: run with `execution_context` installed; false: run in whatever
  // context the running thread has (UnsafeOnCompleted, or flow suppressed).
  bool flow_execution_context = false;
  // run_synchronously — an internal completion action (a combinator's node, a recycle node,
  // continue_with(execute_synchronously)) rather than an await: it may run inline even when it is
  // not its task's first continuation, and runs inline when registered on a completed operation
  // (.NET's ITaskCompletionAction and ExecuteSynchronously). Awaits leave it false.
  bool run_synchronously = false;
  // owner — the task this continuation works towards completing, or null when unknown. Contract:
  // that task cannot complete until this continuation has run (a box: itself; when_any-like
  // owners that may complete otherwise must leave it null). Read only by deadlock detection
  // (context/single_thread_context.hpp), which follows owner → continuations → owner ... .
  detail::TaskStateBase* owner = nullptr;
};

// run_continuation(c) — step 4: runs `c` with its captured ExecutionContext installed (when it
// flows one) and restores the calling thread's ExecutionContext afterwards. Thread-safe; call it
// once per registration of `c`.
void run_continuation(Continuation* c) noexcept;

// ---- 0. the awaiter ---------------------------------------------------------------------------
//
// An *awaitable* is anything duet::get_awaiter(x) accepts, found in this order:
//   1. a member      x.get_awaiter()                 (Task<T>, ValueTask<T>, ...);
//   2. a free        get_awaiter(x) found by ADL      (make your own type awaitable);
//   3. a trait       duet::awaitable_traits<T>::get_awaiter(x)
//                    (for types with no namespace to put an ADL overload in, e.g. the seeds'
//                    `await 5` on an int).
// An *awaiter* has
//   bool is_completed()                    fast path: true means "no suspension at all";
//   void on_completed(Continuation&)       resume the continuation when done, flowing the
//                                          ExecutionContext;
//   void unsafe_on_completed(Continuation&) the same without flowing it (the caller flows it);
//   R    get_result()                      the value, or rethrow the stored exception.
// Both on_completed forms capture SynchronizationContext::current() into the continuation
// unless the awaitable was configured with configure_await(false) (core/configure_await.hpp).

// awaitable_traits<T> — customisation point for types that cannot carry a member or ADL
// get_awaiter. Specialise it with `static auto get_awaiter(T)` returning an awaiter.
template <class T>
struct awaitable_traits;

// Awaiter — the awaiter concept (see the table above).
template <class A>
concept Awaiter = requires(A& a, Continuation& c) {
  { a.is_completed() } -> std::convertible_to<bool>;
  a.on_completed(c);
  a.unsafe_on_completed(c);
  a.get_result();
};

namespace detail_adl {
void get_awaiter() = delete;  // poison pill: only ADL finds a free get_awaiter

template <class T>
concept has_member_get_awaiter = requires(T&& t) { std::forward<T>(t).get_awaiter(); };
template <class T>
concept has_adl_get_awaiter = requires(T&& t) { get_awaiter(std::forward<T>(t)); };
template <class T>
concept has_trait_get_awaiter =
    requires(T&& t) { awaitable_traits<std::remove_cvref_t<T>>::get_awaiter(std::forward<T>(t)); };

struct GetAwaiterFn {
  template <class T>
  decltype(auto) operator()(T&& t) const {
    if constexpr (has_member_get_awaiter<T>) {
      return std::forward<T>(t).get_awaiter();
    } else if constexpr (has_adl_get_awaiter<T>) {
      return get_awaiter(std::forward<T>(t));
    } else if constexpr (has_trait_get_awaiter<T>) {
      return awaitable_traits<std::remove_cvref_t<T>>::get_awaiter(std::forward<T>(t));
    } else {
      static_assert(has_member_get_awaiter<T>,
                    "duet: this expression is not awaitable. Give its type a member "
                    "get_awaiter(), a free get_awaiter(x) in its namespace (found by ADL), or "
                    "specialise duet::awaitable_traits<T>; the result must satisfy "
                    "duet::Awaiter (is_completed, on_completed, unsafe_on_completed, "
                    "get_result).");
    }
  }
};
}  // namespace detail_adl

inline namespace cpo {
// get_awaiter(x) — the awaiter of any awaitable (see the lookup order above).
inline constexpr detail_adl::GetAwaiterFn get_awaiter{};
}  // namespace cpo

// Awaitable — something get_awaiter accepts and whose awaiter satisfies Awaiter.
template <class T>
concept Awaitable = (detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                     detail_adl::has_trait_get_awaiter<T>) &&
                    requires(T&& t) {
                      { duet::get_awaiter(std::forward<T>(t)) } -> Awaiter;
                    };

// awaiter_t<T> / await_result_t<T> — the awaiter type and the result type of awaiting a T.
template <class T>
using awaiter_t = std::remove_cvref_t<decltype(duet::get_awaiter(std::declval<T>()))>;
template <class T>
using await_result_t = decltype(std::declval<awaiter_t<T>&>().get_result());

// require_awaitable<T>() — a readable compile error when T is not awaitable (used by builders,
// the DSL and duet::await).
template <class T>
constexpr void require_awaitable() {
  static_assert(detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                    detail_adl::has_trait_get_awaiter<T>,
                "duet: this expression is not awaitable. Give its type a member get_awaiter(), "
                "a free get_awaiter(x) in its namespace (found by ADL), or specialise "
                "duet::awaitable_traits<T>.");
  if constexpr (detail_adl::has_member_get_awaiter<T> || detail_adl::has_adl_get_awaiter<T> ||
                detail_adl::has_trait_get_awaiter<T>) {
    static_assert(Awaiter<awaiter_t<T>>,
                  "duet: get_awaiter(x) returned a type that is not an awaiter: it needs bool "
                  "is_completed(), on_completed(Continuation&), unsafe_on_completed(Continuation&) "
                  "and get_result().");
  }
}

namespace detail {

// ---- the thread's ambient state ---------------------------------------------------------------

// current_sync_context() / set_current_sync_context(ctx) — the calling thread's
// SynchronizationContext (SynchronizationContext::current() / set_current()).
SynchronizationContext* current_sync_context() noexcept;
void set_current_sync_context(SynchronizationContext* ctx) noexcept;

// ec_current() — the calling thread's current ExecutionContext, borrowed (no reference taken).
ExecutionContextNode* ec_current() noexcept;
// ec_set_current(n) — installs `n` (taking a reference) and drops the reference to the previous
// one. Notifies AsyncLocal change callbacks whose value differs between the two contexts.
void ec_set_current(ExecutionContextNode* n) noexcept;
// ec_adopt_current(n) — installs `n` as the calling thread's context, taking over the caller's
// reference, and drops the previous one. Runs no change callbacks (set_value runs its own).
void ec_adopt_current(ExecutionContextNode* n) noexcept;
// ec_flow_suppressed() / ec_set_flow_suppressed(on) — ExecutionContext::suppress_flow() on the
// calling thread.
bool ec_flow_suppressed() noexcept;
void ec_set_flow_suppressed(bool on) noexcept;

// AmbientView — a copy of the calling thread's ambient state, read in one call (ambient_view()):
// the capture and scope steps below read two or three of its fields together, and each separate
// accessor is a call plus a thread-local lookup. A copy, never the thread's record: it is not
// kept across anything that may switch threads.
struct AmbientView {
  SynchronizationContext* sync;
  ExecutionContextNode* ec;  // borrowed
  bool flow_suppressed;
};
AmbientView ambient_view() noexcept;

class RelocationScope;  // detail/relocation.hpp
// ambient_enter(s) — ambient_view(), and makes `s` the thread's innermost relocation scope (in
// a program that links duet's sockets: relocation_enabled; otherwise `s` is left alone).
// ambient_leave(s) — pops `s` if it was pushed (when it still watches operations:
// relocation_close), then ambient_view(). One call each, so that a builder's start() opens its machine's relocation scope
// for the price of the ambient save and restore it makes anyway.
AmbientView ambient_enter(RelocationScope& s) noexcept;
AmbientView ambient_leave(RelocationScope& s) noexcept;

// ---- 1. capture -------------------------------------------------------------------------------

// capture_execution_context(c) — records the current ExecutionContext in `c` (holding one
// reference) and sets c.flow_execution_context, unless flow is suppressed. A second capture of
// the context `c` already holds (the builder captures, then the awaiter's on_completed does; a
// fiber resumed in the same context) touches no reference count.
// capture_execution_context(c, view) — the same from a view the caller already read.
inline void capture_execution_context(Continuation& c, const AmbientView& view) noexcept {
  if (view.flow_suppressed) {
    c.flow_execution_context = false;
    return;
  }
  ExecutionContextNode* const n = view.ec;
  c.flow_execution_context = true;
  if (c.execution_context == n) return;
  ec_add_ref(n);
  ec_release(std::exchange(c.execution_context, n));
}
inline void capture_execution_context(Continuation& c) noexcept { capture_execution_context(c, ambient_view()); }

// capture(c, continue_on_captured_context, flow) — the whole capture step of an awaiter's
// on_completed (flow = true) or unsafe_on_completed (flow = false). One read of the ambient state.
inline void capture(Continuation& c, bool continue_on_captured_context, bool flow) noexcept {
  const AmbientView view = ambient_view();
  if (flow) capture_execution_context(c, view);
  c.context = continue_on_captured_context ? view.sync : nullptr;
}

// ---- 2. register ------------------------------------------------------------------------------

// completed_sentinel() — the value a continuation slot holds once its operation completed and its
// continuations were taken. Never dispatched.
Continuation* completed_sentinel() noexcept;

// Task continuations. A task keeps its registered nodes as a lock-free (Treiber) stack whose head
// shares one word with the task's status (TaskStateBase, core/task.hpp): registering is one
// compare-and-swap, and completing is one compare-and-swap that takes every node and publishes
// the status together. Nodes are at least 8-aligned, which leaves the word three low bits.
static_assert(alignof(Continuation) >= 8, "a task's state word packs three flags below a node pointer");

// dispatch_continuations(newest_first, force_async) — dispatches the nodes a completed task took
// (linked by `next`, newest first) in registration order, as .NET runs them: the first may run
// inline, every later one that is not run_synchronously is dispatched with force_async (queued),
// so completing a task never runs an unbounded chain of awaits on the completer's stack. Touches
// only the nodes: the task may be destroyed by any of them.
void dispatch_continuations(Continuation* newest_first, bool force_async) noexcept;

// ---- 3. dispatch ------------------------------------------------------------------------------

// k_max_inline_depth — how deeply continuations may nest inline on one thread before dispatch
// posts to the pool instead (.NET's stack guard for inlined continuations).
inline constexpr int k_max_inline_depth = 32;

// dispatch_continuation(c, force_async) — runs or posts a continuation whose operation completed:
//  1. when c.context is not the calling thread's current context: posted to c.context, or, when
//     c captured no context, to the default pool (the calling thread's own context must not
//     become the resumed method's: .NET inlines only on a thread whose context is the default);
//  2. otherwise run inline (run_continuation) — unless force_async (the operation was created
//     with run_continuations_asynchronously) or the inline nesting on this thread is already
//     k_max_inline_depth deep; then posted to c.context, or with none to the default pool.
void dispatch_continuation(Continuation& c, bool force_async) noexcept;

// ---- 4. run with restore ----------------------------------------------------------------------

// EcScope — saves the thread's current ExecutionContext and restores it on destruction (the
// "always restore" half of ExecutionContext.RunInternal). No reference-count traffic when the
// saved context is the default one.
class EcScope {
 public:
  EcScope() noexcept : saved_(ec_current()) { ec_add_ref(saved_); }
  EcScope(const EcScope&) = delete;
  EcScope& operator=(const EcScope&) = delete;
  ~EcScope() {
    if (ec_current() != saved_) ec_set_current(saved_);
    ec_release(saved_);
  }

 private:
  ExecutionContextNode* saved_;
};

// AmbientScope — saves the thread's SynchronizationContext and ExecutionContext and restores both
// on destruction: what a builder's start(), a fiber's first run and ExecutionContext::run wrap
// around the code they run, so nothing it sets leaks to the caller.
// One read of the ambient state on entry and one on exit; the setters run only when the code
// inside changed something.
// AmbientScope(relocation) — also opens `relocation` for the same span (detail/relocation.hpp).
class AmbientScope {
 public:
  AmbientScope() noexcept : AmbientScope(ambient_view()) {}
  explicit AmbientScope(RelocationScope& relocation) noexcept : AmbientScope(ambient_enter(relocation)) {
    relocation_ = &relocation;
  }
  AmbientScope(const AmbientScope&) = delete;
  AmbientScope& operator=(const AmbientScope&) = delete;
  ~AmbientScope() {
    const AmbientView now = relocation_ ? ambient_leave(*relocation_) : ambient_view();
    // The SynchronizationContext is restored first, then the ExecutionContext (as before).
    if (now.sync != sync_) set_current_sync_context(sync_);
    if (now.ec != ec_) ec_set_current(ec_);
    ec_release(ec_);
  }

 private:
  explicit AmbientScope(const AmbientView& v) noexcept : sync_(v.sync), ec_(v.ec) { ec_add_ref(ec_); }

  SynchronizationContext* sync_;
  ExecutionContextNode* ec_;  // one reference owned
  RelocationScope* relocation_ = nullptr;
};

}  // namespace detail
}  // namespace duet
