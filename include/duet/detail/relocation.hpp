// duet/detail/relocation.hpp — I/O buffers inside a state machine survive its move into the box.
//
// The hazard
// ----------
// An explicit or dsl state machine starts running unboxed, in its caller's frame, inside the
// builder's start(); at its first real suspension the builder moves it into a heap box
// (sm/method_builder_core.hpp, MethodBuilderCore::suspend). An operation started before that
// move with a pointer into the machine — a socket receive into a member buffer, a send from one —
// that had to wait keeps the OLD address: when the data arrives, the I/O thread would write into
// (or read from) a frame that is gone.
//
// The rule that fixes it
// ----------------------
// MethodBuilderCore::start opens a RelocationScope covering the unboxed machine's bytes,
// [&sm, &sm + sizeof(SM)), for the duration of the synchronous run; scopes nest (a method started
// from inside another's start()) and form a per-thread chain. An operation that goes pending with
// a pointer into an open scope of its thread (relocation_find) is "watched" (relocation_watch):
//  * moving — just before the move, the builder asks every operation watched by the machine's
//    scope to pause (relocation_pause: the I/O thread leaves its memory alone and remembers that
//    it skipped);
//  * moved — right after, each is rebased by the distance the machine moved
//    (relocation_resume(delta): old_base -> new_base + offset) and retried, and stops being
//    watched: the box never moves again;
//  * the machine ends unboxed (its scope closes with operations still watched: it completed, or
//    its box could not be allocated) — each is ended with an InvalidOperationError naming this
//    rule (relocation_orphan) instead of touching freed memory.
// A fiber's stack never moves: nothing is watched there (no scope covers a fiber's locals).
//
// Cost: nothing unless the program links duet's sockets (relocation_enabled(), below). Then:
// start() already saves and restores the thread's ambient state with two out-of-line calls
// (core/continuation.hpp, AmbientScope); the scope rides on them (ambient_enter pushes it,
// ambient_leave pops it: the chain lives in the thread's ambient record), so it costs three
// stores into start()'s frame. The first suspension reads one process-wide counter of watched
// operations (zero: nothing to move). Nothing else on the hot path: operations look for a scope
// only when they have to wait.
//
// Locks: one process-wide mutex guards the watch list; it is taken only by watched operations
// (rare: between an operation going pending and its machine's first suspension). It is taken
// before an operation's own lock (relocation_* callbacks run under it), never after.
//
// Thread-safety: a scope is pushed, popped, moved and searched by the thread that runs the
// machine's start(); watched operations may finish (relocation_unwatch) on any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace duet::detail {

class RelocationScope;

// RelocationTarget — an operation that keeps a pointer into a machine's memory while it waits.
// Its callbacks run under the relocation lock (see "Locks"), on the scope's thread.
class RelocationTarget {
 public:
  // relocation_pause() — the memory is about to move: stop touching it (leave the operation
  // queued; remember any readiness skipped).
  virtual void relocation_pause() noexcept = 0;
  // relocation_resume(delta) — the memory moved by `delta` bytes (0: it stayed): rebase the
  // pointers into it and carry on (retry what the pause skipped).
  virtual void relocation_resume(std::ptrdiff_t delta) noexcept = 0;
  // relocation_orphan() — the machine ended without moving into a box: its memory is about to
  // be freed. End the operation (if it still waits) with an InvalidOperationError naming the rule.
  virtual void relocation_orphan() noexcept = 0;

 protected:
  virtual ~RelocationTarget() = default;
  // watched — set while the operation is in a scope's watch list; its finish must call
  // relocation_unwatch first (an atomic: read without the lock on the finish path).
  std::atomic<bool> relocation_watched_{false};
  friend struct RelocationAccess;
};

// RelocationScope — see "The rule that fixes it". Lives in MethodBuilderCore::start's frame.
// It is opened and closed by an AmbientScope (core/continuation.hpp), whose out-of-line enter and
// leave calls push it onto and pop it off the thread's chain: declare the RelocationScope first,
// then `AmbientScope restore(scope);`.
class RelocationScope {
 public:
  RelocationScope(const void* begin, std::size_t size) noexcept
      : begin_(static_cast<const std::byte*>(begin)), end_(begin_ + size) {}
  RelocationScope(const RelocationScope&) = delete;
  RelocationScope& operator=(const RelocationScope&) = delete;

  // contains(p, n) — [p, p + n) lies inside the scope's machine.
  bool contains(const void* p, std::size_t n) const noexcept {
    const auto b = reinterpret_cast<std::uintptr_t>(p);
    const auto lo = reinterpret_cast<std::uintptr_t>(begin_);
    const auto hi = reinterpret_cast<std::uintptr_t>(end_);
    return b >= lo && b <= hi && n <= hi - b;
  }
  const void* begin() const noexcept { return begin_; }
  RelocationScope* parent() const noexcept { return parent_; }
  // watched() — operations this scope still watches (only the scope's thread adds any).
  std::uint32_t watched() const noexcept { return watched_.load(std::memory_order_acquire); }

 private:
  friend struct RelocationAccess;

  const std::byte* begin_;
  const std::byte* end_;
  RelocationScope* parent_ = nullptr;  // set by ambient_enter
  std::atomic<std::uint32_t> watched_{0};
};

// relocation_chain_slot() — the calling thread's innermost scope, by reference (it lives in the
// thread's ambient record: core/continuation.hpp): for a fiber switch, which runs on one thread
// throughout and gives each stack its own chain.
RelocationScope*& relocation_chain_slot() noexcept;

// relocation_top() — the same slot (defined with the ambient record, src/core/continuation.cpp).
RelocationScope*& relocation_top() noexcept;

// relocation_close(s) — `s` was popped with operations still watched: the machine ends unboxed
// (it completed, or its box could not be allocated), so each is orphaned before its memory goes.
// Called by ambient_leave when s.watched() != 0.
void relocation_close(RelocationScope& s) noexcept;

// g_relocation_watches — how many operations are watched, process-wide. The first suspension
// reads it (relaxed): an operation watched by this thread's own machine was counted by this
// thread, before the suspension, so a zero means there is nothing of this machine's to move.
extern std::atomic<std::uint32_t> g_relocation_watches;

// relocation_find(p, n) — the calling thread's open scope whose machine contains [p, p + n)
// (innermost first), or null. Out of line; one thread_local read when no scope is open.
RelocationScope* relocation_find(const void* p, std::size_t n) noexcept;

// relocation_watch(scope, target) — watches `target` for `scope` until resumed, orphaned or
// unwatched. Throws std::bad_alloc (nothing watched then).
void relocation_watch(RelocationScope& scope, RelocationTarget& target);

// relocation_unwatch(target) — `target` finished: no longer watched. Call before freeing or
// reusing it; a no-op when it is not watched.
void relocation_unwatch(RelocationTarget& target) noexcept;

// relocation_moving_slow(machine) — the builder is about to move the unboxed machine at `machine`:
// pauses what its scope watches and returns the scope, or null when it watches nothing (the
// usual case). Call it only when relocation_any_watched(): the builder's common path reads that
// one counter and skips the whole relocation (sm/method_builder_core.hpp, create_box_relocating).
RelocationScope* relocation_moving_slow(const void* machine) noexcept;
// relocation_enabled() / enable_relocation() — whether builders open scopes at all. Only socket
// operations watch buffers, so src/net/socket.cpp enables it during static initialisation: a
// program that links duet's sockets gets the scopes from before main(), one that does not pays
// one load of this flag per start() instead of a scope (issue 15's suspend-once budget).
extern std::atomic<bool> g_relocation_enabled;
inline bool relocation_enabled() noexcept { return g_relocation_enabled.load(std::memory_order_relaxed); }
inline void enable_relocation() noexcept { g_relocation_enabled.store(true, std::memory_order_relaxed); }

// relocation_any_watched() — some operation is watched, anywhere: one relaxed load.
inline bool relocation_any_watched() noexcept {
  return g_relocation_watches.load(std::memory_order_relaxed) != 0;
}

// relocation_moved(scope, to) — the machine of `scope` (returned by relocation_moving_slow) now lives
// at `to`: rebases and resumes what the scope watches, which is watched no more (the box never
// moves). Null `to`: it did not move (its box could not be allocated): resumed, and still
// watched until the scope closes.
void relocation_moved(RelocationScope& scope, const void* to) noexcept;

// RelocationAccess — the watched flag and the scope's count (src/detail/relocation.cpp and
// relocation_finish).
struct RelocationAccess {
  static bool watched(const RelocationTarget& t) noexcept {
    return t.relocation_watched_.load(std::memory_order_acquire);
  }
  static void set_watched(RelocationTarget& t, bool on) noexcept {
    t.relocation_watched_.store(on, std::memory_order_release);
  }
  static std::atomic<std::uint32_t>& count(RelocationScope& s) noexcept { return s.watched_; }
  static RelocationScope*& parent(RelocationScope& s) noexcept { return s.parent_; }
};

// relocation_finish(target) — what a target's finish calls first: relocation_unwatch when it is
// watched (one atomic load otherwise).
inline void relocation_finish(RelocationTarget& target) noexcept {
  if (RelocationAccess::watched(target)) [[unlikely]] relocation_unwatch(target);
}

}  // namespace duet::detail
