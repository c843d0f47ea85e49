// duet/detail/assert.hpp — DUET_ASSERT, an invariant check that compiles away in release builds.
//
// DUET_ASSERT(cond, "message") aborts with the file, line, condition and message when `cond` is
// false and NDEBUG is not defined (Meson's b_ndebug=if-release keeps it on in debug and
// debugoptimized builds). It checks the runtime's own invariants; misuse by a caller is reported
// with an exception instead (core/errors.hpp), in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace duet::detail {
[[noreturn]] inline void assert_fail(const char* cond, const char* msg, const char* file, int line) noexcept {
  std::fprintf(stderr, "duet: internal invariant broken at %s:%d: %s (%s)\n", file, line, msg, cond);
  std::abort();
}
}  // namespace duet::detail

#ifdef NDEBUG
#define DUET_ASSERT(cond, msg) ((void)0)
#else
#define DUET_ASSERT(cond, msg) \
  ((cond) ? (void)0 : ::duet::detail::assert_fail(#cond, msg, __FILE__, __LINE__))
#endif
