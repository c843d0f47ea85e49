// duet/sm/dsl.hpp — the DUET_* macros: write an async method's move_next() as straight-line code.
//
// ============================================================================================
//  THE DUET MACRO LANGUAGE — a manual
// ============================================================================================
//
// The explicit style (sm/method_builder_core.hpp) shows what a C# compiler generates for an `async` method:
// a struct with a state number, a builder, the method's parameters and locals as fields, the
// pending awaiter, and a move_next() that is the method body cut at every await and stitched
// back together by a `switch`. The macros below write that move_next() for you. Nothing else
// changes: same struct, same AsyncTaskMethodBuilder, same box, same Task — a DSL method and an
// explicit method can await each other and are indistinguishable at run time.
//
//   struct GetStatus : duet::AsyncMethod<GetStatus, int> {      // (sm/async_method.hpp)
//     HttpClient* http_;                                        // parameter
//     Response response_;                                       // hoisted local
//     explicit GetStatus(HttpClient& h) : http_(&h) {}
//     void move_next() {
//       DUET_BEGIN
//         std::printf("requesting\n");
//         DUET_AWAIT_INTO(response_, http_->get_async("https://example.com"));
//         DUET_RETURN(response_.status);
//       DUET_END
//     }
//   };
//   duet::Task<int> t = duet::start<GetStatus>(http);           // C#: GetStatusAsync(http)
//
// The builder, and so the return type, is the base's choice (C#'s return type plus
// [AsyncMethodBuilder]): duet::AsyncMethod<M, T> returns Task<T>;
// duet::AsyncValueTaskMethod<M, T> returns ValueTask<T> (no allocation when it completes
// synchronously); duet::PoolingAsyncValueTaskMethod<M, T> returns ValueTask<T> from pooled boxes
// (no allocation in steady state even when it suspends); duet::AsyncVoidMethod<M> is an
// `async void` method (duet::start returns nothing; its end and its escaping exception go to the
// captured SynchronizationContext). The macros are the same for all.
//
// The C# each macro stands for:
//
//   DUET_BEGIN ... DUET_END           the body of `async Task<T> M(...) { ... }`
//   DUET_AWAIT(e);                    await e;                 (result discarded)
//   DUET_AWAIT_INTO(m, e);            m = await e;             (m: a member)
//   DUET_RETURN(v); / DUET_RETURN();  return v; / return;
//   DUET_TRY                          try {
//   DUET_CATCH(type, name)            } catch (type name) {
//   DUET_CATCH_ALL                    } catch {
//   DUET_FINALLY                      } finally {
//   DUET_END_TRY                      }
//
// Awaits may appear anywhere inside DUET_BEGIN/DUET_END: in loops (`for`, `while`, `do`) and
// `if`s, in try bodies, in catch blocks and in finally blocks (C# 6 and later allow all three).
// The machine's fields it needs are state_, builder_, awaiter_ (and dsl_ for DUET_TRY), which
// duet::AsyncMethod declares; see sm/async_method.hpp.
//
// --------------------------------------------------------------------------------------------
//  Design: dispatch
// --------------------------------------------------------------------------------------------
// Every resume point gets a label number made from __COUNTER__ (never __LINE__: two awaits on
// one line must differ), times 8, plus a kind (await, try entry, catch entry, finally entry...),
// so one counter value yields all the labels one construct needs. Labels are `case` labels of a
// `switch` on the enum type duet::detail::DslLabel; using an enum instead of int is what turns an
// await inside *your own* switch into a compile error instead of a silent misroute (below).
//
// A C++ switch cannot jump into a try block or a catch handler. So each *section* — the method
// body, every try body, every catch block, every finally block — has its own switch, written
// after the section's `try {` (or inside its handler), and a section is entered from its
// parent's switch through an *entry label* placed just outside it. Resuming is then a descent:
//
//   state_  = the label, in the method body's switch, of the await or of the outermost section
//             that contains it (-1 running / not started, -2 done: as Roslyn);
//   dsl_.path[d] = the label in the switch of the section at nesting depth d (d >= 1).
//
// On resume the body's switch jumps to the entry label of the section recorded in state_; that
// section records its entry in the path, enters its `try`, and its own switch reads path[1]; and
// so on down to the await's label, which sets state_ = -1 (running). Entering a section
// normally (not resuming, state_ == -1) starts its switch at its first statement. The nesting
// depth of each macro is known at compile time: every section declares a block-scope type alias
// `duet_scope_` (shadowing its parent's) that describes where it is. A method without DUET_TRY
// therefore compiles to exactly the explicit switch on state_.
//
// --------------------------------------------------------------------------------------------
//  Design: exception routing (the handler table)
// --------------------------------------------------------------------------------------------
// The CLR runs catch and finally blocks from an exception table, outside the code that threw.
// The DSL does the same with one frame per open try block (dsl_.frames, see DslTryFrame):
//
//   * The try body is wrapped in C++ `try { ... } catch (...)`, which only records the exception
//     in the frame (`pending`). Nothing else runs inside the C++ handler, so the C++ unwinding is
//     over before any user catch or finally code runs, and that code may suspend.
//   * Each DUET_CATCH(type, name) block, in order, rethrows `pending` into a C++
//     `try { rethrow } catch (type name) { <your block> }`: C++ does the type matching (base
//     classes, references, const) and `name` is the real exception object; `throw;` inside the
//     block rethrows it. When an await inside the block resumes, the block is re-entered the same
//     way (rethrow, match, switch to the await), so `name` stays valid across awaits. The first
//     block that matches marks the frame (`handler`), so no later block takes the exception.
//     A block that completes clears `pending`; a block that throws replaces it.
//   * The finally block is an ordinary section after the catch blocks, entered on every path:
//     falling out of the try body or a catch block, an exception nobody caught, a cancellation
//     (an OperationCanceledError — it is an exception like any other here), and DUET_RETURN.
//   * DUET_END_TRY rethrows `pending`, if any (into the enclosing try block's routing, or to
//     DUET_END, which faults or cancels the task), and finishes a pending return.
//
// DUET_RETURN inside a try block cannot `return`: the finally blocks on the way out must run
// first, and they may await. It stores the value (dsl_.result), marks the frame `returning`,
// points the resume path at the try block's finally entry and jumps (`goto`) back to the
// dispatch at the top of move_next(), which descends to the finally block as a resumption
// would. DUET_END_TRY then continues the return outwards, through each enclosing finally, and
// the outermost one completes the task. A `goto` may leave try blocks and handlers; it is the
// jump *into* them that C++ forbids and the descent avoids.
//
// Suspending is `return` from move_next(): no C++ destructor or handler runs, so a finally block
// never runs because the method merely suspended.
//
// ============================================================================================
//  THE MACROS, STEP BY STEP
// ============================================================================================
//
// DUET_BEGIN — opens the method body. Expands to:
//   1. declare the scope alias `duet_scope_` = the method body (depth 0, no try block), and the
//      exit guard `duet_guard_` (DslExitGuard): every exit the macros generate marks it; an
//      unmarked exit (a plain `return`) faults the task instead of leaving it pending forever;
//   2. the label `duet_dispatch_:` (the target of DUET_RETURN's and DUET_END_TRY's re-dispatch);
//   3. `try {` — any exception escaping the body is routed to the builder (DUET_END, step 4);
//   4. `do { switch (DslLabel(state_)) {` with `default:` reporting a state that names no
//      resume point (InvalidOperationError) and `case -1:` (not started) opening the body.
//      (The do/while(false) catches a stray `break`/`continue`, see LIMITATIONS.)
//
// DUET_END — closes the method body. Expands to:
//   1. mark that control reached the end of the body (the last statement of the switch);
//   2. close the switch and the do/while; if the end was not reached by falling off it, a
//      `break`/`continue` left the body: throw InvalidOperationError (step 4 faults the task);
//   3. fell off the end: Task<>: state_ = -2, builder_.set_result(). Task<T>: throw
//      InvalidOperationError("... without DUET_RETURN(value)") — C# rejects that at compile time;
//   4. `} catch (...) { state_ = -2; builder_.set_exception(current_exception()); }` — the task
//      faults, or ends canceled for an OperationCanceledError (as .NET's builder does);
//   5. mark the exit guard: the method completed.
//
// DUET_AWAIT(expr) / DUET_AWAIT_INTO(member, expr) — one await, with label N = __COUNTER__*8:
//   1. duet::require_awaitable<decltype((expr))>(): a non-awaitable expression is a compile
//      error saying what an awaitable needs;
//   2. `if (false) { case N: ` — the resume point, reached only through the switch:
//        state_ = -1; take the result from the stored awaiter (get_result()), destroy the stored
//        awaiter (also when get_result() throws), and assign it to `member` (or discard it) `}`;
//   3. `else if (auto a = get_awaiter(expr); a.is_completed())` — the fast path: assign
//      a.get_result() to `member` (or discard it). No allocation, no suspension, the awaiter is a
//      temporary that never touches the machine;
//   4. `else` — suspend: mark the exit guard, move the awaiter into awaiter_, record the resume point (state_ = N,
//      or path[depth] = N and state_ = path[0] inside a try block), call
//      builder_.await_unsafe_on_completed(awaiter_, *this) — on the first suspension the builder
//      moves the machine into the task's box and registers the box's continuation on the boxed
//      copy of the awaiter — and `return`.
//   expr is evaluated exactly once (step 3). Its result is a prvalue or an lvalue member; the
//   member of DUET_AWAIT_INTO must be a member (or reachable through one): see LIMITATIONS.
//
// DUET_RETURN(value) / DUET_RETURN() — C#'s return:
//   1. compile-time checks: a value in a Task<> method, no value in a Task<T> method, and a
//      return inside a finally block (C# error CS0157) are errors with a message;
//   2. outside any try block: state_ = -2; builder_.set_result(value); mark the exit guard;
//      return;
//   3. inside a try block: store the value in dsl_.result, clear the frame's pending exception,
//      mark the frame `returning`, aim the resume path at this try block's finally entry, and
//      `goto duet_dispatch_` (see "exception routing"); DUET_END_TRY continues outwards.
//
// DUET_TRY — opens a try block, with id K = __COUNTER__:
//   1. open a block, declare `duet_region_` (this try block: K, the parent section, its frame);
//   2. reset the frame (only when entered from the top, not when resuming through it);
//   3. `if (false) { case <try entry K>: }` in the parent's switch — resumption enters here;
//   4. record the entry in the resume path, mark the frame's stage "try body";
//   5. `try { {`, declare `duet_scope_` = the try body (one level deeper), and open the
//      section's own `do { switch (resuming ? path[depth] : <start>) {`.
//
// DUET_CATCH(type, name) / DUET_CATCH_ALL — close the previous section, open a catch block:
//   1. close the previous section: mark its end, close its switch/do, check for a stray
//      break/continue, `} } catch (...) { record the exception in the frame }` — from the try
//      body: it becomes `pending`; from a catch block: it replaces `pending`, no later catch
//      block applies;
//   2. `if (false) { case <catch entry>: }`, record the entry in the resume path;
//   3. `try { try { rethrow pending if it is still unhandled or handled by this block }
//      catch (type name) {` — a non-matching exception leaves through the outer `try` and is
//      recorded again, unchanged; a matching one enters the block;
//   4. mark the frame "handled by this block", open the section's switch as in DUET_TRY step 5.
//   5. (at the next macro) the block completed: clear `pending` — the exception is handled.
//
// DUET_FINALLY — close the previous section, open the finally block:
//   1. close the previous section as DUET_CATCH step 1;
//   2. `if (false) { case <finally entry K>: }` — both resumption and DUET_RETURN's
//      re-dispatch arrive here; record the entry, mark the frame's stage "finally";
//   3. open the section as DUET_TRY step 5, its first label resetting state_ to -1 (running) for
//      the re-dispatch. An exception thrown in the finally block replaces the pending one and
//      cancels a pending return, as in C#.
//
// DUET_END_TRY — close the try statement:
//   1. close the previous section (try body, catch or finally block) as DUET_CATCH step 1;
//   2. without DUET_FINALLY: `if (false) { case <finally entry K>: state_ = -1; }` so that
//      DUET_RETURN's re-dispatch has somewhere to land;
//   3. a pending exception: clear the frame and rethrow it (to the enclosing try block's routing
//      or to DUET_END);
//   4. a pending return: outermost try block: state_ = -2, builder_.set_result(stored value),
//      mark the exit guard, return; otherwise mark the enclosing try block `returning`, aim the resume path at its
//      finally entry and `goto duet_dispatch_`;
//   5. close the blocks opened by DUET_TRY.
//
// ============================================================================================
//  LIMITATIONS (READ THIS)
// ============================================================================================
//
// 1. NO LOCAL VARIABLE MAY LIVE ACROSS AN AWAIT. Each await is a `case` label; C++ forbids a jump
//    that skips an initialisation. `int n = 3; DUET_AWAIT(x);` inside the body fails with
//      g++:     error: jump to case label ... note: crosses initialization of 'int n'
//      clang++: error: cannot jump from switch statement to this case label ... note: jump
//               bypasses variable initialization
//    FIX: hoist it: make `n` a member of the machine (that is what Roslyn does with every local
//    that lives across an await). Locals whose whole lifetime is between two awaits are fine
//    inside their own `{ }` block. `for (int i = 0; ...)` around an await is the same mistake:
//    write `for (i_ = 0; ...)` with a member i_.
//    THE COMPILER DOES NOT CATCH A LOCAL DECLARED WITHOUT AN INITIALIZER. This compiles without a
//    warning (g++ and clang++, -Wall -Wextra, any -O) and returns 0 or 1234 depending on the
//    optimisation level once the await really suspends — `n` lived in the stack frame of the
//    move_next() call that returned at the await:
//        int n;
//        n = 1234;
//        DUET_AWAIT(a_);
//        DUET_RETURN(n);      // WRONG: n is garbage after a real suspension
//    C++ allows a jump past a declaration with vacuous initialization, so no macro can see it.
//    RULE: declare every local of a DSL body with DUET_LOCAL(type, name, init...) — it always
//    initializes (`type name{init...}`, value-initialized when init is omitted), so the same
//    mistake written `DUET_LOCAL(int, n); n = 1234; DUET_AWAIT(a_); DUET_RETURN(n);` is the
//    compile error above (tests/dsl/compile_fail/local_without_initializer.cpp). A local that
//    must survive an await is a member of the machine, never a local.
//
// 2. NO AWAIT INSIDE YOUR OWN `switch`. The await's label would belong to your switch. The DSL's
//    case labels convert only to the DSL's own label type, so this is one error naming the rule:
//      error: static assertion failed: duet DSL: DUET_AWAIT (or DUET_TRY / DUET_CATCH /
//             DUET_FINALLY) inside your own `switch` statement (LIMITATIONS 2) ...
//    (g++ and clang++ may add a "duplicate case value" error after it: their error recovery).
//    FIX: turn the switch into an if / else-if chain (the DSL labels may sit in any `if`).
//
// 3. NO `break`, `continue`, `goto` OR `return` OUT OF A SECTION. Use DUET_RETURN instead of
//    `return`. A plain `return;` (or a `goto` out of the body) skips the DUET_FINALLY blocks and
//    never completes the task by itself; DUET_BEGIN's exit guard catches it at run time and
//    faults the task with InvalidOperationError("... a plain C++ `return` ... use DUET_RETURN"),
//    so the caller sees the mistake instead of a task that stays pending forever.
//    A `break`/`continue` that would leave the method body or a DUET_TRY / DUET_CATCH /
//    DUET_FINALLY block (rather than a loop of yours inside it) is caught at run time: the task
//    faults with InvalidOperationError("... break or continue left a DUET_* block ...").
//    FIX: set a member flag, leave the try statement normally, and break after DUET_END_TRY.
//    Loops *containing* whole try statements, and break/continue inside loops *inside* a
//    section, are fine.
//
// 4. DUET_RETURN INSIDE DUET_FINALLY is a compile error, as in C# (CS0157):
//      error: static assertion failed: duet: DUET_RETURN inside DUET_FINALLY ...
//    A DUET_RETURN(value) in a Task<> method, or DUET_RETURN() in a Task<T> method, and an
//    awaited expression that is not awaitable are compile errors with a message too; falling off
//    DUET_END in a Task<T> method faults the task with InvalidOperationError at run time.
//
// 5. MACRO ARGUMENTS WITH TOP-LEVEL COMMAS: the awaited expression may contain them
//    (DUET_AWAIT(f<a, b>()) works); DUET_CATCH's type and DUET_AWAIT_INTO's member may not.
//    FIX: a type alias (`using Err = std::pair<int, int>;`).
//
// 5b. EVERY DUET_TRY NEEDS ITS DUET_END_TRY. A missing one is caught at DUET_END:
//      error: static assertion failed: duet DSL: DUET_END inside an open DUET_TRY: a DUET_END_TRY
//             is missing ...
//    among the parser's unbalanced-brace errors (which no macro can suppress; it is the first or
//    second error).
//
// 6. ONE BODY PER FUNCTION, AND ONLY IN move_next(). DUET_BEGIN defines the function-scope label
//    `duet_dispatch_`; the macros use `this`, state_, builder_, awaiter_ and dsl_. A DUET_*
//    macro outside DUET_BEGIN ... DUET_END fails with "'duet_scope_' was not declared".
//
// 7. state_ VALUES ARE LABELS, NOT 0..n. A suspended DSL machine's state_ is a label number
//    (__COUNTER__-based, >= 0); -1 and -2 mean what they mean in Roslyn's and the explicit
//    style's machines.
//
// 8. NESTING DEPTH IS BOUNDED AT COMPILE TIME by DslLimits (default: 4 levels of sections, 3
//    try blocks open at once). Exceeding it is a compile error naming the parameter to raise.
//
// Thread-safety: as any state machine: one move_next() at a time, on whichever thread resumes it.
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/sm/async_method.hpp"
#include "duet/sm/method_builder_core.hpp"

// ---- internal helpers the macros expand to ------------------------------------------------------

namespace duet::detail {

// DUET_DSL_INLINE_ — the per-await helpers are a few instructions each and sit on the fast and
// resume paths; keep them inlined into move_next() so the DSL costs what the explicit style costs.
#if defined(__GNUC__)
#define DUET_DSL_INLINE_ [[gnu::always_inline]] inline
#else
#define DUET_DSL_INLINE_ inline
#endif

// DUET_DSL_COLD_ — the misuse reports: out of line and out of the way of the hot paths.
#if defined(__GNUC__)
#define DUET_DSL_COLD_ [[gnu::cold, gnu::noinline]]
#else
#define DUET_DSL_COLD_
#endif

// DslLabel — the type of every DSL case label and of the switches that dispatch on them (an enum,
// so that a label inside a user's integer switch does not compile; LIMITATIONS 2).
enum class DslLabel : int {};

template <class T>
inline constexpr bool dsl_always_false = false;

// DslCase — the value of every DSL `case` label. It converts to DslLabel (the DSL's own
// switches); converting it to anything else means the label sits inside a user's own switch
// (LIMITATIONS 2), and the conversion's static_assert says so in one error naming the rule.
struct DslCase {
  int value;
  constexpr operator DslLabel() const noexcept { return static_cast<DslLabel>(value); }
  template <class T>
  constexpr operator T() const noexcept {
    static_assert(dsl_always_false<T>,
                  "duet DSL: DUET_AWAIT (or DUET_TRY / DUET_CATCH / DUET_FINALLY) inside your own "
                  "`switch` statement (LIMITATIONS 2): its resume label would belong to your switch. "
                  "FIX: turn the switch into an if / else-if chain");
    return static_cast<T>(value);
  }
};


// dsl_label(counter, kind) — the label number for one construct (kinds below). Distinct
// counters give distinct labels.
constexpr int dsl_label(int counter, int kind) noexcept { return counter * 8 + kind; }
inline constexpr int k_dsl_await = 0;          // an await's resume point
inline constexpr int k_dsl_try_entry = 1;      // a try body's entry, in the parent's switch
inline constexpr int k_dsl_try_start = 2;      // a try body's first statement, in its own switch
inline constexpr int k_dsl_catch_entry = 3;    // a catch block's entry, in the parent's switch
inline constexpr int k_dsl_catch_start = 4;    // a catch block's first statement
inline constexpr int k_dsl_finally_entry = 5;  // the finally entry (or the end of a try without one)
inline constexpr int k_dsl_finally_start = 6;  // the finally block's first statement
inline constexpr int k_dsl_end_unused = 7;     // DUET_END_TRY's label when a finally block exists

// DslSectionKind — which kind of block a section is (DslTryFrame::stage holds the same values).
enum class DslSectionKind : int { try_body = 1, catch_block = 2, finally_block = 3 };

// DslTopScope — the method body.
struct DslTopScope {
  static constexpr bool is_top = true;
  static constexpr int depth = 0;      // section nesting depth
  static constexpr int try_count = 0;  // try blocks open around this point
  static constexpr bool in_finally = false;
};

// DslRegion<K, Parent> — one try statement (DUET_TRY ... DUET_END_TRY) with id K, inside Parent.
template <int K, class Parent>
struct DslRegion {
  using parent = Parent;
  static constexpr int id = K;
  static constexpr int parent_depth = Parent::depth;  // the depth of its entry labels
  static constexpr int frame = Parent::try_count;     // its index in dsl_.frames
  static constexpr bool in_finally = Parent::in_finally;
  static constexpr int finally_entry = dsl_label(K, k_dsl_finally_entry);
  static constexpr int finally_start = dsl_label(K, k_dsl_finally_start);
  static constexpr int end_unused = dsl_label(K, k_dsl_end_unused);
};

// DslSection<Region, Kind, Id> — a try body, catch block (Id: its counter) or finally block.
template <class Region, DslSectionKind Kind, int Id>
struct DslSection {
  using region = Region;
  static constexpr bool is_top = false;
  static constexpr DslSectionKind kind = Kind;
  static constexpr int depth = Region::parent_depth + 1;
  static constexpr int try_count = Region::frame + 1;
  static constexpr bool in_finally = Region::in_finally || Kind == DslSectionKind::finally_block;
  static constexpr int handler_id = Id + 1;  // > 0 (see DslTryFrame::handler)
  static constexpr int entry_label = Kind == DslSectionKind::try_body      ? dsl_label(Id, k_dsl_try_entry)
                                     : Kind == DslSectionKind::catch_block ? dsl_label(Id, k_dsl_catch_entry)
                                                                           : Region::finally_entry;
  static constexpr int start_label = Kind == DslSectionKind::try_body      ? dsl_label(Id, k_dsl_try_start)
                                     : Kind == DslSectionKind::catch_block ? dsl_label(Id, k_dsl_catch_start)
                                                                           : Region::finally_start;
};
template <class Region>
using DslTrySection = DslSection<Region, DslSectionKind::try_body, Region::id>;
template <class Region, int Id>
using DslCatchSection = DslSection<Region, DslSectionKind::catch_block, Id>;
template <class Region>
using DslFinallySection = DslSection<Region, DslSectionKind::finally_block, Region::id>;

// DslInvalidAwaiter — stands in for the awaiter of a non-awaitable expression after
// require_awaitable has reported it, so the one readable error is not buried in others.
struct DslInvalidAwaiter {
  // AnyResult — converts to whatever the await's result is assigned to (never executed: the
  // program is already ill-formed).
  struct AnyResult {
    template <class T>
    operator T() const {
      std::terminate();
    }
  };
  bool is_completed() const noexcept { return true; }
  void on_completed(Continuation&) noexcept {}
  void unsafe_on_completed(Continuation&) noexcept {}
  AnyResult get_result() const noexcept { return {}; }
};

template <class E, bool = Awaitable<E>>
struct dsl_awaiter {
  using type = DslInvalidAwaiter;
};
template <class E>
struct dsl_awaiter<E, true> {
  using type = awaiter_t<E>;
};
// dsl_awaiter_t<E> — the awaiter type of awaiting an expression of type E.
template <class E>
using dsl_awaiter_t = typename dsl_awaiter<E>::type;

// dsl_get_awaiter(e) — get_awaiter(e), after require_awaitable's readable check.
template <class E>
DUET_DSL_INLINE_ dsl_awaiter_t<E&&> dsl_get_awaiter(E&& e) {
  require_awaitable<E&&>();
  if constexpr (Awaitable<E&&>) {
    return duet::get_awaiter(std::forward<E>(e));
  } else {
    return {};
  }
}

// dsl_bad_state(state) / dsl_left_block(block) — the InvalidOperationErrors of a move_next() in
// a state that names no resume point, and of a break/continue that left a DSL block
// (src/sm/method_builder_core.cpp).
[[noreturn]] void dsl_bad_state(int state);
[[noreturn]] void dsl_left_block(const char* block);

// dsl_abandoned(self) — DslExitGuard's report: move_next() was left by a path that neither
// suspended nor completed the task. Completes the task (faulted) so nothing waits forever.
// Cold and out of line: it is never reached by a correct method.
template <class M>
DUET_DSL_COLD_ void dsl_abandoned(M& self) noexcept {
  self.state_ = -2;
  self.builder_.set_exception(std::make_exception_ptr(InvalidOperationError(
      "duet DSL: move_next() returned without suspending at a DUET_AWAIT and without completing "
      "its task: a plain C++ `return` (or a `goto` out of DUET_BEGIN ... DUET_END) left the async "
      "method's body, which would leave its task pending forever (and skips its DUET_FINALLY "
      "blocks). Rule: a DSL body is left only through DUET_RETURN, by reaching DUET_END, or by an "
      "exception (LIMITATIONS 3 in duet/sm/dsl.hpp). Fix: use DUET_RETURN(value) / DUET_RETURN() "
      "instead of `return`.")));
}

// DslExitGuard<M> — the local DUET_BEGIN declares (as `duet_guard_`) so that no path out of
// move_next() can leave the task pending. Every legitimate exit the macros generate calls
// left() on its way out: a suspension (before handing the machine to the builder — after that
// the machine may already run on another thread, or be a moved-from husk, so the destructor must
// not read it), a completion (DUET_RETURN, DUET_END_TRY finishing a return, the end of DUET_END,
// which also covers DUET_END's exception handler). Any other exit — a plain `return`, a `goto` out
// of the body — reaches the destructor with left_ still false, and the task is faulted with an
// InvalidOperationError that names the rule (dsl_abandoned) — unless the method completed its
// task by hand (state_ == -2).
// Cost: left_ is a local whose address never escapes and both members are always inlined, so on
// every macro-generated exit the compiler folds the check away; only a plain `return` keeps the
// call (measured: bench/bench_dsl.cpp).
template <class M>
class DslExitGuard {
 public:
  DUET_DSL_INLINE_ explicit DslExitGuard(M& self) noexcept : self_(self) {}
  DslExitGuard(const DslExitGuard&) = delete;
  DslExitGuard& operator=(const DslExitGuard&) = delete;
  DUET_DSL_INLINE_ ~DslExitGuard() {
    if (!left_ && self_.state_ != -2) dsl_abandoned(self_);
  }

  // left() — this exit suspended or completed the task: the destructor does nothing.
  DUET_DSL_INLINE_ void left() noexcept { left_ = true; }

 private:
  M& self_;
  bool left_ = false;
};

// -- awaits --

// dsl_store(slot, a) — moves the awaiter into the machine's awaiter_ field, which is either an
// AwaiterStorage (any awaiter type) or a field of exactly that awaiter type.
template <class Slot, class A>
DUET_DSL_INLINE_ A& dsl_store(Slot& slot, A&& a) noexcept(std::is_nothrow_move_constructible_v<A>) {
  if constexpr (std::is_same_v<Slot, A>) {
    slot = std::move(a);
    return slot;
  } else {
    static_assert(requires { slot.template emplace<A>(std::move(a)); },
                  "duet DSL: the machine's awaiter_ field must be a duet::AwaiterStorage<> or "
                  "of the exact awaiter type of every await in the method");
    return slot.template emplace<A>(std::move(a));
  }
}

// dsl_take_result<A>(slot) — get_result() of the stored awaiter, which is destroyed (or reset)
// afterwards, also when get_result() throws.
template <class A, class Slot>
DUET_DSL_INLINE_ auto dsl_take_result(Slot& slot) -> std::conditional_t<std::is_void_v<decltype(std::declval<A&>().get_result())>, void,
                                                       std::remove_cvref_t<decltype(std::declval<A&>().get_result())>> {
  struct Reset {
    Slot& slot;
    ~Reset() {
      if constexpr (std::is_same_v<Slot, A>) {
        slot = A();
      } else {
        slot.template reset<A>();
      }
    }
  } reset{slot};
  if constexpr (std::is_same_v<Slot, A>) {
    return slot.get_result();
  } else {
    return slot.template get<A>().get_result();
  }
}

// dsl_suspend<Scope, Label>(self, a) — step 4 of DUET_AWAIT.
template <class Scope, int Label, class M, class A>
DUET_DSL_INLINE_ void dsl_suspend(M& self, A&& a) noexcept {
  A& stored = dsl_store(self.awaiter_, std::move(a));
  if constexpr (Scope::depth == 0) {
    self.state_ = Label;
  } else {
    self.dsl_.path[Scope::depth] = Label;
    self.state_ = self.dsl_.path[0];
  }
  if constexpr (requires { self.builder_.await_unsafe_on_completed(stored, self, DslAwait{}); }) {
    self.builder_.await_unsafe_on_completed(stored, self, DslAwait{});  // an async iterator's
  } else {
    self.builder_.await_unsafe_on_completed(stored, self);
  }
}

// -- method body --

template <class M>
void dsl_fell_off_end(M& self, bool reached_end) {
  if (!reached_end) dsl_left_block("DUET_BEGIN");
  if constexpr (std::is_void_v<machine_result_t<M>>) {
    self.state_ = -2;
    self.builder_.set_result();
  } else {
    throw InvalidOperationError(
        "duet DSL: control reached DUET_END of a method returning Task<T> without "
        "DUET_RETURN(value): every path of a Task<T> method must end in DUET_RETURN(value) or "
        "an exception");
  }
}

// -- try blocks --

template <class Scope, class M>
void dsl_check_limits(M&) {
  using State = std::remove_cvref_t<decltype(std::declval<M&>().dsl_)>;
  static_assert(Scope::depth <= State::k_max_depth,
                "duet DSL: DUET_TRY blocks nest deeper than the machine allows: raise MaxDepth in "
                "duet::AsyncMethod<Self, T, duet::DslLimits<AwaiterBytes, MaxDepth, MaxTry>>");
  static_assert(Scope::try_count <= State::k_max_try,
                "duet DSL: more DUET_TRY blocks are open at once than the machine allows: raise "
                "MaxTry in duet::AsyncMethod<Self, T, duet::DslLimits<AwaiterBytes, MaxDepth, MaxTry>>");
}

template <class Region, class M>
DslTryFrame& dsl_frame(M& self) noexcept {
  return self.dsl_.frames[Region::frame];
}

// dsl_enter_region<R>(self) — DUET_TRY step 2 (skipped by resumption, which jumps past it).
template <class Region, class M>
void dsl_enter_region(M& self) noexcept {
  DslTryFrame& f = self.dsl_.frames.enter(Region::frame);
  f.pending = nullptr;
  f.handler = 0;
  f.stage = 0;
  f.returning = false;
  f.reached_end = false;
}

// dsl_enter_section<S>(self) — record the section's entry in the resume path and its stage.
template <class S, class M>
void dsl_enter_section(M& self) noexcept {
  dsl_check_limits<S>(self);
  self.dsl_.path[S::depth - 1] = S::entry_label;
  dsl_frame<typename S::region>(self).stage = static_cast<std::int8_t>(S::kind);
}

// dsl_section_target<S>(self) — where the section's switch goes: its start, or the next label
// of the resume path while resuming.
template <class S, class M>
DslLabel dsl_section_target(const M& self) noexcept {
  return static_cast<DslLabel>(self.state_ < 0 ? S::start_label : self.dsl_.path[S::depth]);
}

template <class S, class M>
void dsl_rethrow_if_mine(M& self) {
  DslTryFrame& f = dsl_frame<typename S::region>(self);
  if (f.pending && (f.handler == 0 || f.handler == S::handler_id)) std::rethrow_exception(f.pending);
}

template <class S, class M>
void dsl_catch_matched(M& self) noexcept {
  dsl_frame<typename S::region>(self).handler = S::handler_id;
}

template <class S, class M>
void dsl_mark_end(M& self) noexcept {
  dsl_frame<typename S::region>(self).reached_end = true;
}

template <class S, class M>
void dsl_section_done(M& self) {
  DslTryFrame& f = dsl_frame<typename S::region>(self);
  if (!f.reached_end) {
    dsl_left_block(S::kind == DslSectionKind::try_body      ? "DUET_TRY"
                   : S::kind == DslSectionKind::catch_block ? "DUET_CATCH"
                                                            : "DUET_FINALLY");
  }
  f.reached_end = false;
  if constexpr (S::kind == DslSectionKind::catch_block) {
    f.pending = nullptr;  // handled
    f.handler = -1;
  }
}

// dsl_record<R>(self) — the C++ handler around every section: note the exception in the frame.
template <class Region, class M>
void dsl_record(M& self) noexcept {
  DslTryFrame& f = dsl_frame<Region>(self);
  f.reached_end = false;
  if (f.stage == static_cast<int>(DslSectionKind::finally_block)) {
    f.returning = false;  // an exception thrown by a finally block cancels a pending return
  } else if (f.handler != 0) {
    f.handler = -1;  // thrown by a catch block: no later catch block applies
  }
  f.pending = std::current_exception();
}

// dsl_redirect<R>(self) — aim the resume path at the finally entry of try statement R.
template <class Region, class M>
void dsl_redirect(M& self) noexcept {
  self.dsl_.path[Region::parent_depth] = Region::finally_entry;
  self.dsl_.path[Region::parent_depth + 1] = Region::finally_start;
  self.state_ = self.dsl_.path[0];
}

// dsl_unwind_return<Scope>(self) — continue a pending return from inside Scope: 1 = completed
// (return from move_next), 2 = re-dispatch (goto duet_dispatch_).
template <class Scope, class M>
int dsl_unwind_return(M& self) {
  if constexpr (Scope::is_top) {
    self.state_ = -2;
    if constexpr (std::is_void_v<machine_result_t<M>>) {
      self.builder_.set_result();
    } else {
      self.builder_.set_result(std::move(*self.dsl_.result.value));
    }
    return 1;
  } else {
    using Outer = typename Scope::region;
    DslTryFrame& f = dsl_frame<Outer>(self);
    f.pending = nullptr;
    f.returning = true;
    dsl_redirect<Outer>(self);
    return 2;
  }
}

// dsl_end_try<R>(self) — DUET_END_TRY steps 3 and 4: 0 = carry on after the try statement.
template <class Region, class M>
int dsl_end_try(M& self) {
  DslTryFrame& f = dsl_frame<Region>(self);
  f.stage = 0;
  if (f.pending) {
    std::exception_ptr e = std::move(f.pending);
    f.pending = nullptr;
    f.returning = false;
    std::rethrow_exception(std::move(e));
  }
  if (f.returning) {
    f.returning = false;
    return dsl_unwind_return<typename Region::parent>(self);
  }
  return 0;
}

// dsl_return<Scope>(self, v...) — DUET_RETURN: true = completed (return from move_next),
// false = re-dispatch to the enclosing finally block.
template <class Scope, class M, class... Args>
bool dsl_return(M& self, Args&&... args) {
  using T = machine_result_t<M>;
  static_assert(!Scope::in_finally,
                "duet: DUET_RETURN inside DUET_FINALLY: control cannot leave a finally block "
                "through a return (C# error CS0157). Store the value in a member and return "
                "after DUET_END_TRY.");
  if constexpr (std::is_void_v<T>) {
    static_assert(sizeof...(Args) == 0,
                  "duet: DUET_RETURN(value) in a method whose task is Task<> (void): it returns "
                  "no value. Write DUET_RETURN(), or make the method return Task<T>.");
  } else {
    static_assert(sizeof...(Args) == 1,
                  "duet: DUET_RETURN() without a value in a method returning Task<T>: write "
                  "DUET_RETURN(value).");
  }
  if constexpr (Scope::is_top) {
    self.state_ = -2;
    self.builder_.set_result(std::forward<Args>(args)...);
    return true;
  } else {
    if constexpr (!std::is_void_v<T>) self.dsl_.result.value.emplace(std::forward<Args>(args)...);
    using Region = typename Scope::region;
    DslTryFrame& f = dsl_frame<Region>(self);
    f.pending = nullptr;
    f.returning = true;
    dsl_redirect<Region>(self);
    return false;
  }
}

}  // namespace duet::detail

// ---- the macros ---------------------------------------------------------------------------------

// The scope aliases shadow their parents' on purpose (that is how nesting is tracked at compile
// time); silence the shadowing warnings for those declarations only.
#if defined(__clang__)
#define DUET_DSL_SHADOW_OK_BEGIN_ _Pragma("clang diagnostic push") _Pragma("clang diagnostic ignored \"-Wshadow\"")
#define DUET_DSL_SHADOW_OK_END_ _Pragma("clang diagnostic pop")
#elif defined(__GNUC__)
#define DUET_DSL_SHADOW_OK_BEGIN_                                                                   \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wshadow\"")                     \
      _Pragma("GCC diagnostic ignored \"-Wshadow=local\"")                                         \
          _Pragma("GCC diagnostic ignored \"-Wshadow=compatible-local\"")
#define DUET_DSL_SHADOW_OK_END_ _Pragma("GCC diagnostic pop")
#else
#define DUET_DSL_SHADOW_OK_BEGIN_
#define DUET_DSL_SHADOW_OK_END_
#endif

#define DUET_DSL_LABEL_(...) static_cast<::duet::detail::DslLabel>(__VA_ARGS__)
#define DUET_DSL_CASE_(...) ::duet::detail::DslCase{__VA_ARGS__}

// DUET_BEGIN — opens the method body (see the manual above).
#define DUET_BEGIN                                                                           \
  using duet_scope_ [[maybe_unused]] = ::duet::detail::DslTopScope;                          \
  ::duet::detail::DslExitGuard<std::remove_reference_t<decltype(*this)>> duet_guard_(*this); \
  duet_dispatch_:                                                                            \
  try {                                                                                      \
    bool duet_reached_end_ = false;                                                          \
    do {                                                                                     \
      switch (DUET_DSL_LABEL_(this->state_)) {                                               \
        default:                                                                             \
          ::duet::detail::dsl_bad_state(this->state_);                                       \
        case DUET_DSL_CASE_(-1):;

// DUET_END — closes the method body.
#define DUET_END                                                                             \
  /* First check: DUET_END inside an open try block means a DUET_END_TRY is missing. A plain  \
     static_assert (not in a template) fires here, before the unbalanced braces' errors. */  \
  static_assert(duet_scope_::is_top,                                                         \
                "duet DSL: DUET_END inside an open DUET_TRY: a DUET_END_TRY is missing. Every "  \
                "DUET_TRY ... DUET_CATCH / DUET_FINALLY block must be closed by DUET_END_TRY "   \
                "before DUET_END");                                                          \
  duet_reached_end_ = true;                                                                  \
  }                                                                                          \
  }                                                                                          \
  while (false)                                                                              \
    ;                                                                                        \
  ::duet::detail::dsl_fell_off_end(*this, duet_reached_end_);                                \
  }                                                                                          \
  catch (...) {                                                                              \
    this->state_ = -2;                                                                       \
    this->builder_.set_exception(std::current_exception());                                  \
  }                                                                                          \
  duet_guard_.left();                                                                        \
  if (false) goto duet_dispatch_; /* keeps the label used in methods without DUET_TRY */

// DUET_LOCAL(type, name, init...) — a local of a DSL body: `type name{init...};` (value-initialized
// without init). Always initialized, so one that would live across an await does not compile
// (LIMITATIONS 1). A type with top-level commas needs an alias (LIMITATIONS 5).
#define DUET_LOCAL(type, name, ...) type name{__VA_ARGS__}

// DUET_AWAIT(expr) — `await expr;`, discarding the result.
#define DUET_AWAIT(...) DUET_DSL_AWAIT_(__COUNTER__, static_cast<void>, __VA_ARGS__)

// DUET_AWAIT_INTO(member, expr) — `member = await expr;`.
#define DUET_AWAIT_INTO(member, ...) DUET_DSL_AWAIT_(__COUNTER__, member =, __VA_ARGS__)

#define DUET_DSL_AWAIT_(n, sink, ...)                                                             \
  do {                                                                                            \
    using duet_awaiter_t_ = ::duet::detail::dsl_awaiter_t<decltype((__VA_ARGS__))>;               \
    if (false) {                                                                                  \
      case DUET_DSL_CASE_(::duet::detail::dsl_label(n, ::duet::detail::k_dsl_await)):            \
        this->state_ = -1;                                                                        \
        sink(::duet::detail::dsl_take_result<duet_awaiter_t_>(this->awaiter_));                   \
    } else if (duet_awaiter_t_ duet_awaiter_ = ::duet::detail::dsl_get_awaiter((__VA_ARGS__));    \
               duet_awaiter_.is_completed()) {                                                    \
      sink(duet_awaiter_.get_result());                                                           \
    } else {                                                                                      \
      duet_guard_.left();                                                                         \
      ::duet::detail::dsl_suspend<duet_scope_,                                                    \
                                  ::duet::detail::dsl_label(n, ::duet::detail::k_dsl_await)>(     \
          *this, std::move(duet_awaiter_));                                                       \
      return;                                                                                     \
    }                                                                                             \
  } while (false)

// DUET_RETURN(value) / DUET_RETURN() — `return value;` / `return;`.
#define DUET_RETURN(...)                                                                     \
  do {                                                                                       \
    if (::duet::detail::dsl_return<duet_scope_>(*this __VA_OPT__(, ) __VA_ARGS__)) {         \
      duet_guard_.left();                                                                    \
      return;                                                                                \
    }                                                                                        \
    goto duet_dispatch_;                                                                     \
  } while (false)

// Section plumbing shared by DUET_TRY / DUET_CATCH / DUET_FINALLY / DUET_END_TRY.
#define DUET_DSL_SECTION_HEAD_(...)                                                          \
  if (false) {                                                                               \
    case DUET_DSL_CASE_(__VA_ARGS__::entry_label):;                                         \
  }                                                                                          \
  ::duet::detail::dsl_enter_section<__VA_ARGS__>(*this);

#define DUET_DSL_SECTION_SWITCH_(...)                                                        \
  DUET_DSL_SHADOW_OK_BEGIN_                                                                  \
  using duet_scope_ [[maybe_unused]] = __VA_ARGS__;                                          \
  DUET_DSL_SHADOW_OK_END_                                                                    \
  do {                                                                                       \
    switch (::duet::detail::dsl_section_target<duet_scope_>(*this)) {                        \
      default:                                                                               \
        ::duet::detail::dsl_bad_state(this->state_);                                         \
      case DUET_DSL_CASE_(duet_scope_::start_label):                                        \
        this->state_ = -1;

#define DUET_DSL_SECTION_CLOSE_                                                              \
  ::duet::detail::dsl_mark_end<duet_scope_>(*this);                                          \
  }                                                                                          \
  }                                                                                          \
  while (false)                                                                              \
    ;                                                                                        \
  ::duet::detail::dsl_section_done<duet_scope_>(*this);                                      \
  }                                                                                          \
  }                                                                                          \
  catch (...) {                                                                              \
    ::duet::detail::dsl_record<duet_region_>(*this);                                         \
  }

// DUET_DSL_BLOCK_OPEN_(has_finally, section) — opens the block that holds the try body (and the
// catch blocks) or the finally block: records whether the try statement has a finally block,
// then opens `section`.
#define DUET_DSL_BLOCK_OPEN_(has_finally, section)                                           \
  {                                                                                          \
    DUET_DSL_SHADOW_OK_BEGIN_                                                                \
    using duet_has_finally_ [[maybe_unused]] = has_finally;                                  \
    DUET_DSL_SHADOW_OK_END_                                                                  \
    DUET_DSL_SECTION_HEAD_(section)                                                          \
    try {                                                                                    \
      {                                                                                      \
        DUET_DSL_SECTION_SWITCH_(section)

// DUET_TRY — `try {`.
#define DUET_TRY DUET_DSL_TRY_(__COUNTER__)
#define DUET_DSL_TRY_(k)                                                                     \
  {                                                                                          \
    DUET_DSL_SHADOW_OK_BEGIN_                                                                \
    using duet_region_ [[maybe_unused]] = ::duet::detail::DslRegion<k, duet_scope_>;         \
    DUET_DSL_SHADOW_OK_END_                                                                  \
    ::duet::detail::dsl_enter_region<duet_region_>(*this);                                   \
    DUET_DSL_BLOCK_OPEN_(std::false_type, ::duet::detail::DslTrySection<duet_region_>)

// DUET_CATCH(type, name) — `} catch (type name) {`; awaits allowed inside.
#define DUET_CATCH(type, name) DUET_DSL_CATCH_(__COUNTER__, type name)
// DUET_CATCH_ALL — `} catch {` (C#) / `} catch (...) {` (C++); awaits allowed inside.
#define DUET_CATCH_ALL DUET_DSL_CATCH_(__COUNTER__, ...)
#define DUET_DSL_CATCH_(c, ...)                                                              \
  DUET_DSL_SECTION_CLOSE_                                                                    \
  DUET_DSL_SECTION_HEAD_(::duet::detail::DslCatchSection<duet_region_, c>)                   \
  try {                                                                                      \
    try {                                                                                    \
      ::duet::detail::dsl_rethrow_if_mine<::duet::detail::DslCatchSection<duet_region_, c>>( \
          *this);                                                                            \
    } catch (__VA_ARGS__) {                                                                  \
      ::duet::detail::dsl_catch_matched<::duet::detail::DslCatchSection<duet_region_, c>>(   \
          *this);                                                                            \
      DUET_DSL_SECTION_SWITCH_(::duet::detail::DslCatchSection<duet_region_, c>)

// DUET_FINALLY — `} finally {`; awaits allowed inside, DUET_RETURN is not.
#define DUET_FINALLY                                                                         \
  DUET_DSL_SECTION_CLOSE_                                                                    \
  }                                                                                          \
  DUET_DSL_BLOCK_OPEN_(std::true_type, ::duet::detail::DslFinallySection<duet_region_>)

// DUET_END_TRY — closes the try statement.
#define DUET_END_TRY                                                                         \
  DUET_DSL_SECTION_CLOSE_                                                                    \
  if (false) {                                                                               \
    case DUET_DSL_CASE_(duet_has_finally_::value ? duet_region_::end_unused                 \
                                                  : duet_region_::finally_entry):            \
      this->state_ = -1;                                                                     \
  }                                                                                          \
  if (const int duet_next_ = ::duet::detail::dsl_end_try<duet_region_>(*this)) {             \
    if (duet_next_ == 1) {                                                                   \
      duet_guard_.left();                                                                    \
      return;                                                                                \
    }                                                                                        \
    goto duet_dispatch_;                                                                     \
  }                                                                                          \
  }                                                                                          \
  }
