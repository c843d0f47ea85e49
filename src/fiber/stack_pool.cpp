// stack_pool.cpp — see stack_pool.hpp for the layout and the pooling policy.
#include "stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "duet/fiber/fiber.hpp"

#if defined(DUET_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace duet::fiber {

namespace detail {
namespace {

// k_thread_cache — stacks a thread keeps for itself (no lock to take or give one).
constexpr int k_thread_cache = 32;
// k_shared_cap — stacks the shared list keeps; more are unmapped on release.
constexpr std::size_t k_shared_cap = 1024;

struct CachedStack {
  void* sp;
  std::size_t size;
  bool guard;
};

std::atomic<std::size_t> g_mapped{0};
std::atomic<std::size_t> g_high_water{0};
std::atomic<bool> g_tracking{false};

// Shared — the shared list. Leaked on purpose: thread caches flush into it from thread_local
// destructors, which may run after static destructors.
struct Shared {
  std::mutex mutex;
  std::vector<CachedStack> stacks;  // guarded by mutex
};
Shared& shared() noexcept {
  static Shared* const s = new Shared();
  return *s;
}

void unmap(const CachedStack& s) noexcept {
  const std::size_t guard_bytes = s.guard ? page_size() : 0;
  auto* base = static_cast<char*>(s.sp) - s.size - guard_bytes;
  ::munmap(base, s.size + guard_bytes);
  g_mapped.fetch_sub(1, std::memory_order_relaxed);
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

[[noreturn]] void throw_map_failure(std::size_t size, bool guard, int err) {
  std::string msg = "duet::fiber::async: could not map a " + std::to_string(size) +
                    "-byte fiber stack" + (guard ? " with a guard page" : "") + " (" +
                    std::strerror(err) + "; " + std::to_string(g_mapped.load()) +
                    " stacks are mapped). ";
  if (guard && err == ENOMEM) {
    msg += "Each guarded stack is two kernel memory mappings and a process may hold at most "
           "vm.max_map_count of them (here " + max_map_count_text() +
           "). Raise the limit (sysctl vm.max_map_count=...), or create fibers without a guard "
           "page (FiberOptions::guard_page = false, or duet::fiber::set_default_guard_page(false)), "
           "or keep fewer fibers suspended at once.";
  } else {
    msg += "Use smaller stacks (FiberOptions::stack_size, duet::fiber::set_default_stack_size) "
           "or keep fewer fibers suspended at once.";
  }
  throw FiberStackError(msg);
}

CachedStack map_stack(std::size_t size, bool guard) {
  const std::size_t guard_bytes = guard ? page_size() : 0;
  const std::size_t total = size + guard_bytes;
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) throw_map_failure(size, guard, errno);
  if (guard && ::mprotect(base, guard_bytes, PROT_NONE) != 0) {
    const int err = errno;
    ::munmap(base, total);
    throw_map_failure(size, guard, err);
  }
  g_mapped.fetch_add(1, std::memory_order_relaxed);
  return {static_cast<char*>(base) + total, size, guard};
}

// measure(s) — the deepest use of stack `s` since it was mapped: from its top down to the lowest
// resident page (a page is resident once touched).
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

void give_to_shared(const CachedStack* items, int n) noexcept {
  Shared& sh = shared();
  int kept = 0;
  {
    std::lock_guard<std::mutex> lk(sh.mutex);
    for (; kept < n && sh.stacks.size() < k_shared_cap; ++kept) {
      try {
        sh.stacks.push_back(items[kept]);
      } catch (...) {
        break;
      }
    }
  }
  for (int i = kept; i < n; ++i) unmap(items[i]);
}

// ThreadCache — a thread's private LIFO of stacks; flushed to the shared list at thread exit.
struct ThreadCache {
  CachedStack items[k_thread_cache];
  int count = 0;
  ThreadCache() noexcept {}  // items need no initialisation
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  ~ThreadCache() { give_to_shared(items, count); }
};

// thread_cache() — the calling thread's cache. Not inlined (fibers migrate; see DESIGN.md).
[[gnu::noinline]] ThreadCache& thread_cache() noexcept {
  thread_local ThreadCache cache;
  return cache;
}

}  // namespace

std::size_t page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

boost::context::stack_context StackPool::acquire(std::size_t size, bool guard) {
  CachedStack s{};
  bool found = false;
  ThreadCache& tc = thread_cache();
  if (tc.count > 0 && tc.items[tc.count - 1].size == size && tc.items[tc.count - 1].guard == guard) {
    s = tc.items[--tc.count];
    found = true;
  } else {
    Shared& sh = shared();
    std::lock_guard<std::mutex> lk(sh.mutex);
    for (std::size_t i = sh.stacks.size(); i-- > 0;) {
      if (sh.stacks[i].size == size && sh.stacks[i].guard == guard) {
        s = sh.stacks[i];
        sh.stacks[i] = sh.stacks.back();
        sh.stacks.pop_back();
        found = true;
        break;
      }
    }
  }
  if (!found) s = map_stack(size, guard);
  boost::context::stack_context sctx;
  sctx.sp = s.sp;
  sctx.size = s.size;
  return sctx;
}

void StackPool::release(const boost::context::stack_context& sctx, bool guard) noexcept {
  const CachedStack s{sctx.sp, sctx.size, guard};
#if defined(DUET_FIBER_ASAN)
  // Frames abandoned by Boost.Context's exit path keep their redzones poisoned; a reused stack
  // must start clean.
  __asan_unpoison_memory_region(static_cast<char*>(s.sp) - s.size, s.size);
#endif
  if (g_tracking.load(std::memory_order_relaxed)) measure(s);
  ThreadCache& tc = thread_cache();
  if (tc.count == k_thread_cache) {
    // Full: hand the older half to the shared list.
    constexpr int half = k_thread_cache / 2;
    give_to_shared(tc.items, half);
    for (int i = half; i < k_thread_cache; ++i) tc.items[i - half] = tc.items[i];
    tc.count -= half;
  }
  tc.items[tc.count++] = s;
}

}  // namespace detail

StackStats stack_stats() {
  StackStats st;
  st.mapped = detail::g_mapped.load(std::memory_order_relaxed);
  {
    detail::Shared& sh = detail::shared();
    std::lock_guard<std::mutex> lk(sh.mutex);
    st.shared_cached = sh.stacks.size();
  }
  st.high_water_bytes = detail::g_high_water.load(std::memory_order_relaxed);
  return st;
}

void set_stack_usage_tracking(bool on) noexcept {
  detail::g_tracking.store(on, std::memory_order_relaxed);
}

void reset_stack_high_water() noexcept { detail::g_high_water.store(0, std::memory_order_relaxed); }

void trim_stack_pool() noexcept {
  detail::ThreadCache& tc = detail::thread_cache();
  for (int i = 0; i < tc.count; ++i) detail::unmap(tc.items[i]);
  tc.count = 0;
  std::vector<detail::CachedStack> all;
  {
    detail::Shared& sh = detail::shared();
    std::lock_guard<std::mutex> lk(sh.mutex);
    all.swap(sh.stacks);
  }
  for (const auto& s : all) detail::unmap(s);
}

}  // namespace duet::fiber
