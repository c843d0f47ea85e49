// duet/diag/trace.hpp — an event stream of what the runtime does, written as Chrome trace JSON
// (load it in https://ui.perfetto.dev or chrome://tracing), as marl's trace.h and .NET's
// TplEventSource do.
//
//   duet::tracing::start();
//   ... run ...
//   duet::tracing::stop();
//   duet::tracing::write_chrome_json("trace.json");
//
// or run any program with DUET_TRACE=trace.json in the environment: tracing starts before main()
// and the file is written at exit.
//
// Events, one track per thread (tid = the order in which threads first recorded; each track is
// named after its thread):
//   "suspend <method>"   a method (box or fiber) suspends: a zero-length slice that starts a flow
//   "resume <method>"    a slice for each resumption, ending the flow: the arrow from the
//                        suspension to the resumption is drawn across threads
//   "task created"       a method's box (or fiber) was created (instant)
//   "task completed"     a task completed (instant)
//   "fiber <name>"       a slice while a thread runs a fiber (from switch-in to switch-out)
//   "pool work item"     a slice per item a thread-pool worker runs
//   "timer fire"         a timer expired and its continuation was posted (instant)
//
// Compile-time: the trace points exist only when DUET_TRACING is defined (meson option
// `tracing`: auto = on in debug and debugoptimized builds, off in release); without it the
// functions below still exist (start() then records nothing). Run-time: recording is off until
// start(); while off each trace point costs one relaxed load and a predictable branch.
// Thread-safety: every function may be called from any thread; write_chrome_json() takes a
// snapshot (call it after stop() for a complete trace: an event recorded while it writes may be
// missed).
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace duet::tracing {

// start() / stop() / is_active() — recording on and off. start() clears earlier events.
void start() noexcept;
void stop() noexcept;
bool is_active() noexcept;
// compiled_in() — whether this library was built with the trace points (DUET_TRACING).
bool compiled_in() noexcept;

// write_chrome_json(out) / write_chrome_json(path) — every recorded event, as a Chrome trace
// ({"traceEvents": [...]}). The path form returns false when the file cannot be written.
void write_chrome_json(std::ostream& out);
bool write_chrome_json(const std::string& path);
// event_count() — events recorded since start().
std::size_t event_count() noexcept;

namespace detail {

extern std::atomic<bool> g_active;
inline bool active() noexcept { return g_active.load(std::memory_order_relaxed); }

// Phases (Chrome trace "ph"): B begin, E end, i instant, s flow start, f flow end.
// record(ph, name, id) — one event on the calling thread's track now. `name` is static storage.
void record(char ph, const char* name, const void* id) noexcept;
// suspended(owner, name) — the "suspend" slice with the flow start keyed by `owner`.
void suspended(const void* owner, const char* name) noexcept;
// resumed(owner, name) — opens the "resume" slice and ends owner's flow; close it with end().
void resumed(const void* owner, const char* name) noexcept;
// end() — closes the innermost open slice of this thread.
void end() noexcept;

}  // namespace detail
}  // namespace duet::tracing

// DUET_TRACE(stmt) — runs stmt (in duet::tracing::detail) only while recording; compiled out
// without DUET_TRACING.
#if defined(DUET_TRACING)
#define DUET_TRACE(...)                                                                   \
  do {                                                                                    \
    if (::duet::tracing::detail::active()) [[unlikely]] { ::duet::tracing::detail::__VA_ARGS__; } \
  } while (false)
#else
#define DUET_TRACE(...) \
  do {                  \
  } while (false)
#endif
