// duet/detail/schedule_shuffler.hpp — a seeded schedule shuffler for test builds (a lightweight
// loom): while it is on, the ThreadPool's and the await core's free choices are drawn from a
// seed instead of made the usual way, so the concurrency tests see many schedules, and a seed
// that found a failure finds it again.
//
// The choices it makes (each one a choice the normal code is free to make either way; none
// changes what a correct program observes):
//  * dispatch_continuation (core/continuation.cpp): a continuation that may run inline is posted
//    instead (to its captured context, or to the pool) about one time in two;
//  * ThreadPool::post from a worker (src/core/thread_pool.cpp): the LIFO slot, the worker's ring
//    or the global queue;
//  * the worker's pick: the slot, the newest or the oldest ring item, or the global queue first;
//  * the search: the global queue or stealing first, and the first victim;
//  * preemption points: before a worker runs an item, and before an inline continuation runs, a
//    thread may yield or spin a little, so other threads' steps land in between.
//
// Turning it on. The environment variable DUET_SCHEDULE_SEED=<unsigned integer> turns it on for
// the whole process at start-up (the library prints the seed to stderr once); tests may call
// enable(seed) / disable(). A failing test reports the seed (duet_fixture.hpp's DuetTest), and
// running it again with DUET_SCHEDULE_SEED set to that seed replays the same choices. Replay is
// per thread: each thread draws from its own stream, derived from the seed and the order in which
// threads first drew, so the choices repeat; the OS scheduler's interleaving does not, so a
// replay reproduces a race with high probability, not certainty.
//
// Cost. Compiled in only when the meson option `schedule_shuffler` is on (by default: debug and
// debugoptimized builds; never in release, see docs/design.md "Schedule shuffler"). Compiled in
// and off, every hook is one relaxed load of a global flag and a predictable branch; compiled out
// (DUET_SCHEDULE_SHUFFLER 0), the hooks' on() is a constant false and they disappear. The hooks'
// test, on(), lives in the library's private src/detail/shuffle_hook.hpp, so that a program
// built without the library's define still sees one definition of everything here.
//
// Thread-safety: every function may be called from any thread; enable()/disable() while other
// threads run make them switch streams at their next draw.
#pragma once

#include <cstdint>
#include <optional>

namespace duet::detail::shuffle {

// compiled_in() — whether this build of the library has the shuffler (meson option
// schedule_shuffler). When false, enable() does nothing.
bool compiled_in() noexcept;
// enable(seed) — turns the shuffler on with `seed`; every thread restarts its stream.
void enable(std::uint64_t seed) noexcept;
// disable() — turns it off.
void disable() noexcept;
// seed() — the seed in use, or empty when the shuffler is off.
std::optional<std::uint64_t> seed() noexcept;

// draw(n) — a number in [0, n) from the calling thread's stream. Precondition: n > 0. Call only
// when on() (it still works when off, from a stream that never restarts).
std::uint32_t draw(std::uint32_t n) noexcept;
// one_in(n) — true about once in n calls (draw(n) == 0).
inline bool one_in(std::uint32_t n) noexcept { return draw(n) == 0; }
// preempt() — a preemption point: yields the thread (1 in 8), spins up to 256 pauses (1 in 8),
// or does nothing.
void preempt() noexcept;

}  // namespace duet::detail::shuffle
