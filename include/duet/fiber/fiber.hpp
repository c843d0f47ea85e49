// duet/fiber/fiber.hpp — the fiber style: straight-line async code on stackful fibers.
//
//   duet::Task<int> get_status_async(HttpClient& http, std::string url) {
//     return duet::fiber::async([&http, url] {
//       Response r = duet::await(http.get_async(url));   // suspends the fiber, not the thread
//       return r.status_code;
//     });
//   }
//
// duet::fiber::async(fn) runs `fn` on a fresh fiber (a stack drawn from a pool) and returns the
// Task<R> of its result, exactly as an explicit or dsl state machine returns the Task of its
// move_next(): the same TaskState, awaiters, Continuation, ExecutionContext and
// SynchronizationContext rules. Inside `fn`, duet::await(x) is the `await` keyword:
//
//  * fast path: when x's awaiter is already completed, await returns get_result() at once —
//    no switch, no allocation;
//  * slow path: the fiber switches back to whoever resumed it; that side (now off the fiber's
//    stack) captures the ExecutionContext and registers the fiber's embedded Continuation with
//    the awaiter. When the operation completes, the continuation resumes the fiber on the thread
//    the usual dispatch rule picks (the captured SynchronizationContext, inline, or the pool),
//    and await returns get_result() or rethrows.
//
// What flows like the state machines (the caller never sees the callee's changes):
//  * async() runs `fn` synchronously on the calling thread until its first incomplete await;
//    then the caller's ExecutionContext and SynchronizationContext are restored and async()
//    returns the pending task;
//  * every switch into a fiber saves the resuming thread's ExecutionContext,
//    SynchronizationContext and C++ exception-handling state, and restores them when the fiber
//    switches back (suspends or finishes);
//  * an exception escaping `fn` faults the task (OperationCanceledError: cancels it); nothing
//    calls std::terminate.
//
// Fibers migrate: a fiber may resume on any thread. Code inside a fiber must not keep the
// address of a thread_local across an await (duet's own thread-local state is reached through
// non-inlined accessors for that reason). WARNING: some C library accessors of thread-local
// state are declared __attribute__((const)) — pthread_self() (so std::this_thread::get_id()) and
// __errno_location() (so errno) — and the compiler may fold two calls in one function into one,
// across an await: after a migration the second read would report the old thread. Use
// duet::fiber::current_thread_id() instead of std::this_thread::get_id() inside a fiber (it is
// opaque to the optimiser, so it is read afresh after every await), and read errno only through
// a non-inlined helper.
// An await inside a catch handler is supported: the handler's exception state travels with the
// fiber.
//
// Stacks (see "Stack sizing" below): fixed size, pooled, with a guard page below each stack by
// default. Overflowing into the guard page stops the process with a message that names
// the stack size and the option to raise it (a SIGSEGV handler on an alternate signal stack,
// installed lazily on each thread that runs fibers).
//
// Stack sizing. The default is k_default_stack_size (64 KiB usable + one 4 KiB guard page),
// justified by measurement:
//  * use — the deepest fiber in this repository's tests and samples (gtest assertions, printf of
//    doubles, string streams, throwing and catching, nested fibers) touches 8 KiB of stack, 12 KiB
//    under AddressSanitizer (tests/fiber/test_fiber_stack.cpp prints it): 64 KiB leaves 8x
//    (5x under ASan) headroom;
//  * cost — only touched pages are resident, so the size does not change what a fiber costs: a
//    suspended fiber holds about 4.3 KiB (one stack page plus the control block; bench_fiber's
//    PendingRss at 10k, 100k and 1M pending, guarded). A smaller default would save address
//    space only.
// marl defaults to 1 MiB and Boost.Context to 128 KiB. Raise it per fiber with
// FiberOptions::stack_size or for every later fiber with set_default_stack_size().
//
// Limits. Stacks are carved from slabs, many per kernel mapping (src/fiber/stack_pool.hpp). The
// guard page is installed with madvise(MADV_GUARD_INSTALL) where the kernel has it (Linux >=
// 6.13), which does not split the mapping: a million guarded fibers fit under the default
// vm.max_map_count (65530). On older kernels the guard falls back to mprotect, which makes each
// guarded stack two mappings: about 30 000 guarded fibers can exist at once, and beyond that
// async() throws FiberStackError naming the limit and the fixes (raise vm.max_map_count, or turn
// the guard off with FiberOptions::guard_page = false / set_default_guard_page(false)).
// guard_page_mechanism() says which one a process uses.
//
// Thread-safety: async() and await() may be called from any thread; the option setters are
// thread-safe and affect fibers created afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <thread>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "duet/core/continuation.hpp"
#include "duet/core/task.hpp"
#include "duet/fiber/detail/fiber_state.hpp"

namespace duet {
namespace fiber {

// k_default_stack_size — the usable stack size of a fiber unless configured (see "Stack sizing").
inline constexpr std::size_t k_default_stack_size = 64 * 1024;
// k_min_stack_size / k_max_stack_size — the accepted range for a stack size (bytes).
inline constexpr std::size_t k_min_stack_size = 8 * 1024;
inline constexpr std::size_t k_max_stack_size = std::size_t{1} << 30;

// FiberOptions — per-fiber settings for async(). Zero / empty means "the global default".
// Write `FiberOptions{}.with_stack_size(256 * 1024)` (or set the fields); the with_ forms avoid
// g++ 12's -Wmissing-field-initializers on a partial designated initializer.
struct FiberOptions {
  // stack_size — usable stack bytes, rounded up to whole pages; 0: default_stack_size().
  std::size_t stack_size = 0;
  // guard_page — whether a PROT_NONE page guards the stack's low end; empty:
  // default_guard_page().
  std::optional<bool> guard_page;
  // name — what duet::diagnostics::dump_async() calls this fiber (static storage: a string
  // literal); null: "fiber".
  const char* name = nullptr;

  // with_stack_size(n) / with_guard_page(on) — a copy with one field set.
  FiberOptions with_stack_size(std::size_t n) const noexcept {
    FiberOptions o = *this;
    o.stack_size = n;
    return o;
  }
  FiberOptions with_guard_page(bool on) const noexcept {
    FiberOptions o = *this;
    o.guard_page = on;
    return o;
  }
  FiberOptions with_name(const char* n) const noexcept {
    FiberOptions o = *this;
    o.name = n;
    return o;
  }
};

// FiberStackError — a fiber's stack could not be mapped (out of memory, or the process reached
// the kernel's limit on memory mappings). Thrown by async() before anything ran.
class FiberStackError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// set_default_stack_size(bytes) — the stack size for fibers created from now on without an
// explicit FiberOptions::stack_size. Throws ArgumentError outside [k_min_stack_size,
// k_max_stack_size]. Thread-safe.
void set_default_stack_size(std::size_t bytes);
// default_stack_size() — the current default (k_default_stack_size unless changed).
std::size_t default_stack_size() noexcept;

// set_default_guard_page(on) — whether fibers created from now on get a guard page unless their
// options say otherwise (default: true). Thread-safe.
void set_default_guard_page(bool on) noexcept;
// default_guard_page() — the current default.
bool default_guard_page() noexcept;

// in_fiber() — whether the calling code runs on a duet fiber.
bool in_fiber() noexcept;
// current_thread_id() — std::this_thread::get_id() of the thread running the caller now, read
// afresh on every call (not inlined, so the compiler cannot merge two calls across an await the
// way it merges two std::this_thread::get_id() calls: see the header comment). Use it in fibers.
[[gnu::noinline]] std::thread::id current_thread_id() noexcept;
// switch_count() — how many times the calling thread has switched into a fiber since it started
// (a per-thread counter; a fast-path await that did not suspend does not count). Tests use the
// difference around a piece of code to prove whether it suspended.
[[gnu::noinline]] std::uint64_t switch_count() noexcept;
// current_stack_size() — the usable stack size of the running fiber; 0 outside a fiber.
std::size_t current_stack_size() noexcept;

// StackStats — figures about the stack pool, for measurement and tests.
struct StackStats {
  std::size_t mapped = 0;           // stacks carved from slabs (in use or cached)
  std::size_t slabs = 0;            // slab mappings made (each holds many stacks)
  std::size_t shared_cached = 0;    // unused stacks in the shared lists (threads cache more)
  std::size_t returned = 0;         // of those, stacks whose pages went back to the OS
  std::size_t high_water_bytes = 0; // deepest stack use seen while tracking was on (whole pages)
};
// stack_stats() — the current figures. Thread-safe.
StackStats stack_stats();
// set_stack_usage_tracking(on) — when on, every stack returned to the pool is measured (mincore:
// resident pages from the top down, i.e. the deepest use since it was mapped) and the maximum is
// kept in StackStats::high_water_bytes. Costs a system call per fiber: for measurement only.
void set_stack_usage_tracking(bool on) noexcept;
// reset_stack_high_water() — clears StackStats::high_water_bytes.
void reset_stack_high_water() noexcept;
// decay_stack_pool() — ends every stack pool decay interval that is due (1 s): the cached stacks
// that stayed unused through a whole interval, beyond a floor of 256 per stack size, give their
// pages back to the OS. The pool does this by itself whenever fibers start and end; a process
// that goes idle after a burst of fibers may call it from a timer. Thread-safe.
void decay_stack_pool() noexcept;
// trim_stack_pool() — returns to the OS (MADV_DONTNEED) the pages of every cached (unused) stack
// of the calling thread and of the shared lists; the stacks stay pooled, their pages fresh.
void trim_stack_pool() noexcept;
// guard_page_mechanism() — how this process installs guard pages: "madvise"
// (MADV_GUARD_INSTALL, Linux >= 6.13: no kernel mapping per stack) or "mprotect" (the fallback:
// two mappings per guarded stack, bounded by vm.max_map_count). Detected once, on first use;
// the environment variable DUET_FIBER_GUARD=mprotect forces the fallback (for tests).
const char* guard_page_mechanism() noexcept;

// async(fn, options) — runs fn() on a new fiber and returns the Task of its result (R = fn's
// result type; a void fn gives Task<>). Runs synchronously until fn's first incomplete await.
// An exception escaping fn faults the task (OperationCanceledError: cancels it). Throws
// FiberStackError when no stack can be mapped, ArgumentError for a stack size out of range.
// The control block (which is the task's shared state) comes from a per-thread cache of freed
// blocks (one allocation when that is empty), the stack from the stack pool.
template <class Fn>
auto async(Fn&& fn, FiberOptions options = {}) {
  using F = std::decay_t<Fn>;
  static_assert(std::is_invocable_v<F&>, "duet::fiber::async(fn): fn must be callable with no arguments");
  using R = std::invoke_result_t<F&>;
  static_assert(!std::is_reference_v<R>,
                "duet::fiber::async(fn): fn returns a reference; a Task<T> holds a value — return "
                "by value (or a pointer / std::reference_wrapper)");
  auto* state = detail::FiberState<R, F>::create(std::forward<Fn>(fn));
  Task<R> task = duet::detail::adopt_task(static_cast<duet::detail::TaskState<R>*>(state));
  state->set_name(options.name);
  DUET_TRACE(record('i', "task created", state));
  state->start(options.stack_size, options.guard_page.has_value() ? (*options.guard_page ? 1 : 0) : -1);
  return task;
}

}  // namespace fiber

namespace detail {
// fiber_await_result_t<A> — what duet::await returns: the awaiter's result, with an rvalue
// reference decayed to a value (the awaiter it points into dies inside await).
template <class A>
using fiber_await_result_t =
    std::conditional_t<std::is_rvalue_reference_v<await_result_t<A>>,
                       std::remove_cvref_t<await_result_t<A>>, await_result_t<A>>;
// fiber_awaitable_v<A> — whether get_awaiter accepts an A (no diagnostic when not).
template <class A>
inline constexpr bool fiber_awaitable_v = detail_adl::has_member_get_awaiter<A> ||
                                          detail_adl::has_adl_get_awaiter<A> ||
                                          detail_adl::has_trait_get_awaiter<A>;
// NotAwaitableResult — what await(x) of a non-awaitable x "returns" after its compile error: it
// converts to anything, so the caller's code adds no errors of its own.
struct NotAwaitableResult {
  template <class T>
  operator T() const;  // never defined: only reached in a program that does not compile
};
}  // namespace detail

// await(x) — inside a fiber: waits for awaitable x without blocking the thread and returns its
// result or rethrows its exception (see the header comment for the fast and slow paths).
// Precondition: called on a fiber started by duet::fiber::async; anywhere else it throws
// InvalidOperationError (blocking is Task::wait()'s job), also when x is already completed, so
// the misuse does not depend on timing.
// Hazard: the fiber may come back on another thread. Do not keep a thread_local's address, or
// a std::this_thread::get_id() / errno read, across this call: the compiler may reuse the value
// read before it. Read duet::fiber::current_thread_id() after the await instead.
// A non-awaitable x is one compile error (require_awaitable's), and nothing else: the result
// type is then computed from nothing, and converts to whatever the caller expects.
// Always inlined: the suspension below is inline (its switch must not return through a call),
// and once the diagnostics hooks were added to it GCC stopped inlining the whole function,
// which put a call on the completed fast path (AwaitCompleted/fiber 1.4 -> 2.6 ns).
template <class A>
[[gnu::always_inline]] inline decltype(auto) await(A&& x) {
  if constexpr (!detail::fiber_awaitable_v<A>) {
    require_awaitable<A>();
    return detail::NotAwaitableResult{};
  } else {
    fiber::detail::FiberBase* const self = fiber::detail::current_fiber();
    if (self == nullptr) fiber::detail::throw_await_outside_fiber();
    auto awaiter = duet::get_awaiter(std::forward<A>(x));
    if (awaiter.is_completed()) [[likely]] {
      return static_cast<detail::fiber_await_result_t<A>>(awaiter.get_result());
    }
    self->suspend(awaiter);
    return static_cast<detail::fiber_await_result_t<A>>(awaiter.get_result());
  }
}

}  // namespace duet
