// stack_pool.hpp — fixed-size fiber stacks: carved from slabs, guarded, pooled per thread.
//
// The one place that knows how a fiber stack is made; fiber.cpp hands the stacks to Boost.Context's
// make_fcontext and gives them back here when the fiber ends.
//
// Slabs. Stacks are not mapped one by one: a slab is one anonymous mapping (MAP_NORESERVE, so
// untouched pages cost neither memory nor commit charge) cut into up to k_slab_max_stacks slots
// of the same size. A slot is carved (its guard installed) the first time it is handed out.
// Layout of one slot (addresses grow to the right):
//
//   [ guard page ][ usable stack: `size` bytes ............................ ] sp
//   ^ slot base   ^ stack_low                                                ^ top = next slot
//
// Guards. A guarded slot's lowest page becomes a guard in one of two ways, chosen once per
// process (guard_kind()):
//  * madvise(MADV_GUARD_INSTALL) (Linux >= 6.13): the page table gets guard markers; the mapping
//    is not split, so a slab stays ONE kernel mapping whatever its guards, and adjacent slabs
//    merge. A million guarded stacks fit under the default vm.max_map_count (65530).
//  * mprotect(PROT_NONE), the fallback when the kernel refuses the madvise (detected at run time
//    on a one-page probe mapping; DUET_FIBER_GUARD=mprotect forces it, for tests). Each guard
//    splits the slab: two mappings per guarded stack, so about 32 000 guarded stacks at the
//    default limit; beyond it acquire() throws FiberStackError naming the limit and the fixes.
// A touch of either guard raises SIGSEGV at an address inside the guard page, which is what
// fiber.cpp's overflow report looks for; the report is the same in both modes.
//
// Pool. Stacks are keyed by (usable size, StackKind). A released stack goes to the releasing
// thread's cache (LIFO, k_thread_cache entries: hot pages, no lock), overflowing by halves into
// the shared free list of its key, under a mutex. Stacks migrate with their fibers, so a stack
// is often released on another thread than the one that acquired it; that is fine. Slabs are
// never unmapped: a stack is carved once and recycled from then on, so a steady stream of
// short-lived fibers makes no mmap, munmap or mprotect at all (one madvise per stack when first
// carved in the madvise mode, one mprotect in the fallback).
//
// Returning memory. Pooled stacks keep the pages they touched resident (no page faults on
// reuse). What goes back to the OS is decided by time, per key, in decay intervals of
// k_decay_interval_ns (1 s): each pool remembers the fewest hot entries its shared list held
// since the interval began (hot_low). As the list is a LIFO, its bottom hot_low hot entries were
// not taken once during the interval. When an interval ends, those, less a floor of k_hot_floor,
// get MADV_DONTNEED (adjacent slots in one call) and turn "cold": the pages go back to the OS, the
// address range and the guards stay. So a workload that keeps 20 000 fibers alive batch after
// batch reuses their pages forever (no refault, no madvise), and after a burst the stacks no
// longer needed go back one interval after their last use. The pool has no thread of its own:
// an interval ends at the next use of the key's shared list (a thread taking a stack from it or
// giving stacks to it), or at decay_stack_pool(), which a process idle after a burst may call
// from a timer. trim_stack_pool() turns every stack of the shared lists and of the calling
// thread's cache cold at once. (Up to wave 2 the shared list kept a fixed 1024 hot stacks and
// returned the rest at once; a stress run holding 17 000 fibers then spent half its time
// refaulting stack pages.)
#pragma once

#include <cstddef>
#include <cstdint>

#include <boost/context/stack_context.hpp>

namespace duet::fiber::detail {

// page_size() — the system page size.
std::size_t page_size() noexcept;

// StackKind — how a stack is guarded (stored in the fiber as a byte; 0 must stay "unguarded").
enum class StackKind : std::uint8_t { unguarded = 0, guard_madvise = 1, guard_mprotect = 2 };

// guard_kind() — the kind every guarded stack of this process gets (detected on first use).
StackKind guard_kind() noexcept;

// StackPool — the process-wide pool. All members are thread-safe.
struct StackPool {
  // acquire(size, kind) — a stack with `size` usable bytes (a page multiple). Throws
  // FiberStackError when the kernel refuses a slab mapping or a guard.
  static boost::context::stack_context acquire(std::size_t size, StackKind kind);
  // release(sctx, kind) — gives a stack back, `kind` as acquired. Any thread.
  static void release(const boost::context::stack_context& sctx, StackKind kind) noexcept;
  // set_clock(now_ns) — the clock of the decay intervals, in nanoseconds (nullptr: the real
  // CLOCK_MONOTONIC_COARSE). For tests, which step time by hand.
  static void set_clock(std::uint64_t (*now_ns)() noexcept) noexcept;
};

}  // namespace duet::fiber::detail
