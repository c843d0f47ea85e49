// stack_pool.cpp — see stack_pool.hpp for the slab layout, the guard mechanisms and the pooling
// policy.
#include "stack_pool.hpp"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "duet/detail/fault_point.hpp"
#include "duet/fiber/fiber.hpp"

#if defined(DUET_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#endif

// Linux 6.13 (include/uapi/asm-generic/mman-common.h); Debian 12's libc headers predate it.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace duet::fiber {

namespace detail {
namespace {

// k_thread_cache — stacks a thread keeps for itself (no lock to take or give one).
constexpr int k_thread_cache = 32;
// k_slab_bytes / k_slab_max_stacks — a slab holds as many stacks as fit in k_slab_bytes, at
// least one and at most k_slab_max_stacks (64 KiB stacks: 120 per 8 MiB slab).
constexpr std::size_t k_slab_bytes = std::size_t{8} << 20;
constexpr std::size_t k_slab_max_stacks = 128;
// k_decay_interval_ns — the length of a decay interval: a stack that stayed in a shared list
// through a whole interval gets its pages returned (see stack_pool.hpp, "Returning memory").
constexpr std::uint64_t k_decay_interval_ns = 1'000'000'000;
// k_hot_floor — hot stacks per key that decay leaves resident however long they stay unused.
constexpr std::size_t k_hot_floor = 256;
struct CachedStack {
  void* sp;
  std::size_t size;
  StackKind kind;
};

std::atomic<std::size_t> g_carved{0};
std::atomic<std::size_t> g_slabs{0};
std::atomic<std::size_t> g_high_water{0};
std::atomic<bool> g_tracking{false};

std::size_t guard_bytes(StackKind kind) noexcept {
  return kind == StackKind::unguarded ? 0 : page_size();
}

// Pool — the free stacks of one (size, kind), and the slab being carved. Guarded by
// Shared::mutex.
struct Pool {
  std::size_t size;
  StackKind kind;
  // free — the tops (sp) of free stacks; a LIFO. Entries below cold_count have had their pages
  // returned to the OS; those above are hot. Popping from the back takes hot stacks first.
  std::vector<void*> free;
  std::size_t cold_count = 0;
  // Decay (see end_interval()): the fewest hot entries the list held since the current interval
  // began at interval_start_ns. The bottom hot_low hot entries were not touched since then.
  std::size_t hot_low = 0;
  std::uint64_t interval_start_ns = 0;
  std::size_t hot() const noexcept { return free.size() - cold_count; }
  char* carve_next = nullptr;  // base of the next uncarved slot of the current slab
  char* carve_end = nullptr;
  std::size_t stride() const noexcept { return size + guard_bytes(kind); }
};

// Shared — every pool. Leaked on purpose: thread caches flush into it from thread_local
// destructors, which may run after static destructors.
struct Shared {
  std::mutex mutex;
  std::vector<Pool*> pools;  // guarded by mutex; a handful (one per size and kind in use)
};
Shared& shared() noexcept {
  static Shared* const s = new Shared();
  return *s;
}

Pool* find_pool(Shared& sh, std::size_t size, StackKind kind) noexcept {
  for (Pool* p : sh.pools) {
    if (p->size == size && p->kind == kind) return p;
  }
  return nullptr;
}

const char* mechanism_name(StackKind kind) noexcept {
  return kind == StackKind::guard_madvise ? "madvise(MADV_GUARD_INSTALL)" : "mprotect(PROT_NONE)";
}

std::string max_map_count_text() {
  if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    long n = 0;
    const bool ok = std::fscanf(f, "%ld", &n) == 1;
    std::fclose(f);
    if (ok) return std::to_string(n);
  }
  return "unknown";
}

[[noreturn]] void throw_map_failure(std::size_t size, StackKind kind, const char* what, int err) {
  const bool guard = kind != StackKind::unguarded;
  std::string msg = "duet::fiber::async: could not " + std::string(what) + " for a " +
                    std::to_string(size) + "-byte fiber stack" +
                    (guard ? std::string(" guarded with ") + mechanism_name(kind) : "") + " (" +
                    std::strerror(err) + "; " + std::to_string(g_carved.load()) +
                    " stacks exist in " + std::to_string(g_slabs.load()) + " slabs). ";
  if (kind == StackKind::guard_mprotect && err == ENOMEM) {
    msg += "Each guarded stack is two kernel memory mappings with mprotect guards (this kernel "
           "has no MADV_GUARD_INSTALL, Linux >= 6.13, or DUET_FIBER_GUARD=mprotect forces it), "
           "and a process may hold at most vm.max_map_count of them (here " +
           max_map_count_text() +
           "). Raise the limit (sysctl vm.max_map_count=...), or create fibers without a guard "
           "page (FiberOptions::guard_page = false, or duet::fiber::set_default_guard_page(false)), "
           "or keep fewer fibers suspended at once.";
  } else {
    msg += "Use smaller stacks (FiberOptions::stack_size, duet::fiber::set_default_stack_size) "
           "or keep fewer fibers suspended at once.";
  }
  throw FiberStackError(msg);
}

// carve(pool) — the next slot of the pool's slab, guard installed; maps a new slab when the
// current one is used up. Called under Shared::mutex (growth only: reuse never gets here).
void* carve(Pool& pool) {
  const std::size_t stride = pool.stride();
  if (pool.carve_next == pool.carve_end) {
    const std::size_t slots = std::clamp<std::size_t>(k_slab_bytes / stride, 1, k_slab_max_stacks);
    void* base = ::mmap(nullptr, slots * stride, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) throw_map_failure(pool.size, pool.kind, "map a slab", errno);
    // A slab is big enough for transparent huge pages, which would make a stack's first touch
    // cost 2 MiB. Advice only: an error changes nothing.
    (void)::madvise(base, slots * stride, MADV_NOHUGEPAGE);
    pool.carve_next = static_cast<char*>(base);
    pool.carve_end = pool.carve_next + slots * stride;
    g_slabs.fetch_add(1, std::memory_order_relaxed);
  }
  char* const slot = pool.carve_next;
  if (pool.kind == StackKind::guard_madvise) {
    if (::madvise(slot, page_size(), MADV_GUARD_INSTALL) != 0) {
      throw_map_failure(pool.size, pool.kind, "install a guard page", errno);
    }
  } else if (pool.kind == StackKind::guard_mprotect) {
    if (::mprotect(slot, page_size(), PROT_NONE) != 0) {
      throw_map_failure(pool.size, pool.kind, "install a guard page", errno);
    }
  }
  pool.carve_next += stride;
  g_carved.fetch_add(1, std::memory_order_relaxed);
  return slot + stride;  // the top of the slot's stack
}

// return_pages(pool, first, last) — MADV_DONTNEED on the usable part of the free stacks
// pool.free[first, last); each run of adjacent slots is one call (the guards inside the run are
// kept: guard markers survive MADV_DONTNEED, and an mprotect guard has no pages to drop).
// Sorts that range. Called under Shared::mutex.
void return_pages(Pool& pool, std::size_t first, std::size_t last) noexcept {
  auto* const begin = pool.free.data() + first;
  auto* const end = pool.free.data() + last;
  std::sort(begin, end, [](void* a, void* b) { return a < b; });
  const std::size_t stride = pool.stride();
  for (auto* it = begin; it != end;) {
    char* const low = static_cast<char*>(*it) - pool.size;
    char* top = static_cast<char*>(*it);
    for (++it; it != end && static_cast<char*>(*it) == top + stride; ++it) top += stride;
    (void)::madvise(low, static_cast<std::size_t>(top - low), MADV_DONTNEED);
  }
}

// measure(s) — the deepest use of stack `s` since its pages were last returned: from its top
// down to the lowest resident page (a page is resident once touched).
// Cold and out of line: release() is on every fiber's path.
[[gnu::noinline, gnu::cold]] void measure(const CachedStack& s) noexcept {
  const std::size_t page = page_size();
  const std::size_t pages = s.size / page;
  auto* low = static_cast<char*>(s.sp) - s.size;
  const std::unique_ptr<unsigned char[]> resident(new (std::nothrow) unsigned char[pages]);
  if (!resident) return;
  if (::mincore(low, s.size, resident.get()) != 0) return;
  std::size_t lowest = pages;
  for (std::size_t i = 0; i < pages; ++i) {
    if (resident[i] & 1) {
      lowest = i;
      break;
    }
  }
  const std::size_t used = (pages - lowest) * page;
  std::size_t prev = g_high_water.load(std::memory_order_relaxed);
  while (used > prev && !g_high_water.compare_exchange_weak(prev, used, std::memory_order_relaxed)) {
  }
}

std::uint64_t coarse_monotonic_ns() noexcept {
  timespec ts{};
  (void)::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO, no system call
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// g_clock — the decay's clock (StackPool::set_clock replaces it in tests).
std::atomic<std::uint64_t (*)() noexcept> g_clock{&coarse_monotonic_ns};

// end_interval(pool, now) — ends the pool's decay interval: the hot entries that stayed in the
// list through all of it, less k_hot_floor, turn cold; a new interval begins at `now`.
void end_interval(Pool& pool, std::uint64_t now) noexcept {
  if (pool.hot_low > k_hot_floor) {
    const std::size_t n = pool.hot_low - k_hot_floor;
    return_pages(pool, pool.cold_count, pool.cold_count + n);
    pool.cold_count += n;
  }
  pool.hot_low = pool.hot();
  pool.interval_start_ns = now;
}

// decay(pool) — ends the pool's interval if it has lasted k_decay_interval_ns. Called on every
// use of the shared list, under Shared::mutex.
void decay(Pool& pool) noexcept {
  const std::uint64_t now = g_clock.load(std::memory_order_relaxed)();
  if (now < pool.interval_start_ns) {
    pool.interval_start_ns = now;  // a clock replaced by a test: start over
  } else if (now - pool.interval_start_ns >= k_decay_interval_ns) {
    end_interval(pool, now);
  }
}

// give_to_shared(items, n) — puts stacks on their pools' free lists (on top: hot), and ends the
// pools' decay intervals that are due.
void give_to_shared(const CachedStack* items, int n) noexcept {
  Shared& sh = shared();
  std::lock_guard<std::mutex> lk(sh.mutex);
  for (int i = 0; i < n; ++i) {
    Pool* const pool = find_pool(sh, items[i].size, items[i].kind);
    if (pool == nullptr) continue;  // impossible: every stack was carved from its pool
    try {
      pool->free.push_back(items[i].sp);
    } catch (...) {
      // No memory for the list entry: give the pages back and let the slot go (its address
      // range stays reserved; the process is out of memory anyway).
      (void)::madvise(static_cast<char*>(items[i].sp) - items[i].size, items[i].size,
                      MADV_DONTNEED);
      continue;
    }
    decay(*pool);
  }
}

// ThreadCache — a thread's private LIFO of stacks; flushed to the shared lists at thread exit.
struct ThreadCache {
  CachedStack items[k_thread_cache];
  int count = 0;
  ThreadCache() noexcept {}  // items need no initialisation
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  ~ThreadCache() { give_to_shared(items, count); }
};

// thread_cache() — the calling thread's cache. Not inlined (fibers migrate; see docs/design.md,
// "Threads, memory, errors").
[[gnu::noinline]] ThreadCache& thread_cache() noexcept {
  thread_local ThreadCache cache;
  return cache;
}

StackKind detect_guard_kind() noexcept {
  if (const char* forced = std::getenv("DUET_FIBER_GUARD")) {
    if (std::strcmp(forced, "mprotect") == 0) return StackKind::guard_mprotect;
    if (std::strcmp(forced, "auto") != 0 && std::strcmp(forced, "madvise") != 0) {
      std::fprintf(stderr,
                   "duet: DUET_FIBER_GUARD=%s is not understood (use mprotect, madvise or auto); "
                   "detecting the guard mechanism as for auto\n",
                   forced);
    }
  }
  // Probe on a private page: older kernels answer EINVAL for an unknown advice.
  const std::size_t page = page_size();
  void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return StackKind::guard_mprotect;
  const bool ok = ::madvise(p, page, MADV_GUARD_INSTALL) == 0;
  ::munmap(p, page);
  return ok ? StackKind::guard_madvise : StackKind::guard_mprotect;
}

}  // namespace

std::size_t page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

StackKind guard_kind() noexcept {
  static const StackKind kind = detect_guard_kind();
  return kind;
}

boost::context::stack_context StackPool::acquire(std::size_t size, StackKind kind) {
  if (duet::detail::fault_point(duet::detail::FaultSite::fiber_stack)) [[unlikely]] {
    throw_map_failure(size, kind, "take a stack from the pool (injected out-of-memory)", ENOMEM);
  }
  void* sp = nullptr;
  ThreadCache& tc = thread_cache();
  for (int i = tc.count; i-- > 0;) {  // newest first; almost always the top entry
    if (tc.items[i].size == size && tc.items[i].kind == kind) {
      sp = tc.items[i].sp;
      for (int j = i + 1; j < tc.count; ++j) tc.items[j - 1] = tc.items[j];
      --tc.count;
      break;
    }
  }
  if (sp == nullptr) {
    Shared& sh = shared();
    std::lock_guard<std::mutex> lk(sh.mutex);
    Pool* pool = find_pool(sh, size, kind);
    if (pool == nullptr) {
      auto fresh = std::make_unique<Pool>();
      fresh->size = size;
      fresh->kind = kind;
      fresh->interval_start_ns = g_clock.load(std::memory_order_relaxed)();
      sh.pools.push_back(fresh.get());
      pool = fresh.release();
    }
    if (!pool->free.empty()) {
      sp = pool->free.back();
      pool->free.pop_back();
      pool->cold_count = std::min(pool->cold_count, pool->free.size());
      pool->hot_low = std::min(pool->hot_low, pool->hot());
    } else {
      sp = carve(*pool);
    }
    decay(*pool);
  }
  boost::context::stack_context sctx;
  sctx.sp = sp;
  sctx.size = size;
  return sctx;
}

void StackPool::release(const boost::context::stack_context& sctx, StackKind kind) noexcept {
  const CachedStack s{sctx.sp, sctx.size, kind};
#if defined(DUET_FIBER_ASAN)
  // Frames abandoned by Boost.Context's exit path keep their redzones poisoned; a reused stack
  // must start clean.
  __asan_unpoison_memory_region(static_cast<char*>(s.sp) - s.size, s.size);
#endif
  if (g_tracking.load(std::memory_order_relaxed)) measure(s);
  ThreadCache& tc = thread_cache();
  if (tc.count == k_thread_cache) {
    // Full: hand the older half to the shared lists.
    constexpr int half = k_thread_cache / 2;
    give_to_shared(tc.items, half);
    for (int i = half; i < k_thread_cache; ++i) tc.items[i - half] = tc.items[i];
    tc.count -= half;
  }
  tc.items[tc.count++] = s;
}

void StackPool::set_clock(std::uint64_t (*now_ns)() noexcept) noexcept {
  g_clock.store(now_ns != nullptr ? now_ns : &coarse_monotonic_ns, std::memory_order_relaxed);
}

}  // namespace detail

StackStats stack_stats() {
  StackStats st;
  st.mapped = detail::g_carved.load(std::memory_order_relaxed);
  st.slabs = detail::g_slabs.load(std::memory_order_relaxed);
  {
    detail::Shared& sh = detail::shared();
    std::lock_guard<std::mutex> lk(sh.mutex);
    for (const detail::Pool* p : sh.pools) {
      st.shared_cached += p->free.size();
      st.returned += p->cold_count;
    }
  }
  st.high_water_bytes = detail::g_high_water.load(std::memory_order_relaxed);
  return st;
}

const char* guard_page_mechanism() noexcept {
  return detail::guard_kind() == detail::StackKind::guard_madvise ? "madvise" : "mprotect";
}

void set_stack_usage_tracking(bool on) noexcept {
  detail::g_tracking.store(on, std::memory_order_relaxed);
}

void reset_stack_high_water() noexcept { detail::g_high_water.store(0, std::memory_order_relaxed); }

void decay_stack_pool() noexcept {
  detail::Shared& sh = detail::shared();
  std::lock_guard<std::mutex> lk(sh.mutex);
  for (detail::Pool* p : sh.pools) detail::decay(*p);
}

void trim_stack_pool() noexcept {
  detail::ThreadCache& tc = detail::thread_cache();
  detail::give_to_shared(tc.items, tc.count);
  tc.count = 0;
  detail::Shared& sh = detail::shared();
  std::lock_guard<std::mutex> lk(sh.mutex);
  for (detail::Pool* p : sh.pools) {
    detail::return_pages(*p, p->cold_count, p->free.size());
    p->cold_count = p->free.size();
    p->hot_low = 0;
  }
}

}  // namespace duet::fiber
