// shuffle_hook.hpp — private to the library: on(), the test every schedule-shuffler hook makes
// (detail/schedule_shuffler.hpp). DUET_SCHEDULE_SHUFFLER comes from the meson option
// schedule_shuffler and is defined for the library's own sources only.
#pragma once

#include <atomic>
#include <cstdint>

#include "duet/detail/schedule_shuffler.hpp"

#ifndef DUET_SCHEDULE_SHUFFLER
#define DUET_SCHEDULE_SHUFFLER 0
#endif

namespace duet::detail::shuffle {

#if DUET_SCHEDULE_SHUFFLER
// g_on — whether the shuffler is on; written by enable()/disable().
extern std::atomic<bool> g_on;
// on() — whether a hook should draw: one relaxed load.
inline bool on() noexcept { return g_on.load(std::memory_order_relaxed); }
#else
// on() — compiled out: the hooks fold away.
constexpr bool on() noexcept { return false; }
#endif

// name_thread(name) — keys the calling thread's stream by `name` (non-zero) instead of by the
// order in which threads first draw (detail/schedule_shuffler.hpp), which idle threads make
// irregular. The ThreadPool names its workers (pool ordinal and worker index), so a seed gives
// each worker the same stream in a replay.
void name_thread(std::uint64_t name) noexcept;

}  // namespace duet::detail::shuffle
