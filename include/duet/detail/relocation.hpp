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
//  * moving — the box's allocation, just before the move, asks every operation watched by the
//    machine's scope to pause (relocation_pause: the I/O thread leaves its memory alone and
//    remembers that it skipped) and records in the scope where the machine is going;
//  * moved — when start() closes the scope (after move_next returned: nothing of the machine
//    runs on this thread in between, and the old bytes are still there), each is rebased by the
//    distance the machine moved (relocation_resume(delta): old_base -> new_base + offset) and
//    retried, and stops being watched: the box never moves again;
//  * the machine ends unboxed (its scope closes with operations still watched and no move
//    recorded: it completed, or its box could not be allocated) — each is ended with an
//    InvalidOperationError naming this rule (relocation_orphan) instead of touching freed memory.
// A fiber's stack never moves: nothing is watched there (no scope covers a fiber's locals).
//
// Cost: nothing unless the program links duet's sockets (relocation_enabled(), below); even then,
// nothing inline on the await hot path (issue 15's suspend-once budget):
//  * start() already saves and restores the thread's ambient state with two out-of-line calls
//    (core/continuation.hpp, AmbientScope); the scope rides on them (ambient_enter pushes it,
//    ambient_leave pops it and, when it watches operations, closes it: the chain lives in the
//    thread's ambient record), so the builder pays the two stores that build the scope;
//  * the first suspension allocates the box through box_allocate, an out-of-line call that reads
//    one process-wide counter of watched operations (zero: nothing to move) and tail-calls
//    operator new. A pooled box (no allocation) makes the same check inline.
// Operations look for a scope only when they have to wait.
// Limitation: socket.cpp switches the scopes on during its static initialisation. A method started
// from another translation unit's static initialiser that runs earlier gets no scope, so its
// member buffers are not followed; start such I/O from main() (or later), or keep its buffers
// off the machine (e.g. in a std::unique_ptr member).
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
  const std::byte* moved_to_ = nullptr;  // set by relocation_moving (the scope's thread only)
};

// relocation_chain_slot() — the calling thread's innermost scope, by reference (it lives in the
// thread's ambient record: core/continuation.hpp): for a fiber switch, which runs on one thread
// throughout and gives each stack its own chain.
RelocationScope*& relocation_chain_slot() noexcept;

// relocation_top() — the same slot (defined with the ambient record, src/core/continuation.cpp).
RelocationScope*& relocation_top() noexcept;

// relocation_close(s) — `s` was popped with operations still watched: when its machine moved
// (relocation_moving recorded where), each is rebased and resumed; otherwise the machine ends
// unboxed (it completed, or its box could not be allocated) and each is orphaned before its
// memory goes. Called by ambient_leave when s.watched() != 0.
void relocation_close(RelocationScope& s) noexcept;

// g_relocation_watches — how many operations are watched, process-wide. The box's allocation
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

// box_allocate(size, machine, offset) — ::operator new(size, std::nothrow) for the box that will
// hold the unboxed machine at `machine` at byte `offset` of the box; before returning, when the
// machine's scope watches operations, relocation_moving(machine, box + offset). Null: out of
// memory (nothing paused; the machine stays where it is and the scope's close orphans them).
// Declared malloc-like (gnu::malloc, alloc_size): the caller's compiler then knows the box aliases
// nothing, as it knows of operator new, and the move into the box costs what it did inline.
[[gnu::malloc, gnu::alloc_size(1)]] void* box_allocate(std::size_t size, const void* machine,
                                                      std::size_t offset) noexcept;

// relocation_moving(machine, to) — the builder is about to move the unboxed machine at `machine`
// to `to`: pauses what the machine's scope watches and records `to` in the scope, whose close
// rebases and resumes them. A no-op when the scope watches nothing (the usual case).
void relocation_moving(const void* machine, void* to) noexcept;

// relocation_enabled() / enable_relocation() — whether builders open scopes at all. Only socket
// operations watch buffers, so src/net/socket.cpp enables it during static initialisation: a
// program that links duet's sockets gets the scopes from before main(), one that does not pays
// no scope (ambient_enter reads this flag, out of line).
extern std::atomic<bool> g_relocation_enabled;
inline bool relocation_enabled() noexcept { return g_relocation_enabled.load(std::memory_order_relaxed); }
inline void enable_relocation() noexcept { g_relocation_enabled.store(true, std::memory_order_relaxed); }

// relocation_any_watched() — some operation is watched, anywhere: one relaxed load.
inline bool relocation_any_watched() noexcept {
  return g_relocation_watches.load(std::memory_order_relaxed) != 0;
}

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
  static const std::byte*& moved_to(RelocationScope& s) noexcept { return s.moved_to_; }
};

// relocation_finish(target) — what a target's finish calls first: relocation_unwatch when it is
// watched (one atomic load otherwise).
inline void relocation_finish(RelocationTarget& target) noexcept {
  if (RelocationAccess::watched(target)) [[unlikely]] relocation_unwatch(target);
}

}  // namespace duet::detail
