// alloc_counter.cpp — replaces the global allocation functions with counting ones.
#include "alloc_counter.hpp"
#include "fault_injection.hpp"

#include <cstdlib>
#include <new>

#include "duet/detail/fault_point.hpp"

namespace {
// Per-thread counters. A shared atomic counter costs every allocation a locked add (several
// nanoseconds here, and a contended cache line between pool workers), which the benchmarks that
// report allocs/op would then include in their figures. Instead each thread owns a slot that only
// it writes (a load and a store, no read-modify-write); alloc_stats() sums the slots. A thread
// claims a free slot at its first allocation and frees it at exit; a slot keeps its counts, and
// the next thread to claim it adds to them, so the sum only ever grows. A thread that finds no
// free slot, or allocates after its slot was freed (late thread-exit destructors), counts in the
// shared fallback atomics.
struct alignas(64) Slot {
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<bool> used{false};
};
constexpr int k_slots = 1024;
Slot g_slots[k_slots];
std::atomic<int> g_slots_high{0};  // slots [0, high) may hold counts
std::atomic<std::uint64_t> g_shared_allocations{0};
std::atomic<std::uint64_t> g_shared_bytes{0};

// Trivially destructible thread-locals: usable during any thread-exit destructor.
thread_local Slot* t_slot = nullptr;
thread_local bool t_slot_released = false;

// SlotRelease — frees the thread's slot at thread exit.
struct SlotRelease {
  ~SlotRelease() {
    if (t_slot) t_slot->used.store(false, std::memory_order_release);
    t_slot = nullptr;
    t_slot_released = true;
  }
};
thread_local SlotRelease t_slot_release;

Slot* claim_slot() noexcept {
  if (t_slot_released) return nullptr;
  for (int i = 0; i < k_slots; ++i) {
    Slot& s = g_slots[i];
    if (s.used.load(std::memory_order_relaxed) || s.used.exchange(true, std::memory_order_acquire)) {
      continue;
    }
    int high = g_slots_high.load(std::memory_order_relaxed);
    while (high < i + 1 &&
           !g_slots_high.compare_exchange_weak(high, i + 1, std::memory_order_release,
                                               std::memory_order_relaxed)) {
    }
    (void)&t_slot_release;  // odr-use: registers the thread-exit release
    t_slot = &s;
    return &s;
  }
  return nullptr;
}

void count_allocation(std::size_t n) noexcept {
  Slot* s = t_slot;
  if (s == nullptr) [[unlikely]] s = claim_slot();
  if (s == nullptr) [[unlikely]] {
    g_shared_allocations.fetch_add(1, std::memory_order_relaxed);
    g_shared_bytes.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  s->allocations.store(s->allocations.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  s->bytes.store(s->bytes.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Fault injection (fault_injection.hpp): while g_fail_at != 0, allocation number g_fail_at
// (counted in g_fault_count) fails.
std::atomic<std::uint64_t> g_fail_at{0};
std::atomic<std::uint64_t> g_fault_count{0};
std::atomic<bool> g_fault_fired{false};
std::atomic<duet::testing::AllocationSite> g_fired_site{duet::testing::AllocationSite::none};

// injection_point(site) — counts one allocation point while armed; true: it is the k-th, fail it.
bool injection_point(duet::testing::AllocationSite site) noexcept {
  const std::uint64_t k = g_fail_at.load(std::memory_order_acquire);
  if (k == 0) return false;
  if (g_fault_count.fetch_add(1, std::memory_order_acq_rel) + 1 != k) return false;
  g_fired_site.store(site, std::memory_order_relaxed);
  g_fault_fired.store(true, std::memory_order_release);
  return true;
}

// library_fault_hook(site) — the library's pooled acquisitions (detail/fault_point.hpp).
bool library_fault_hook(duet::detail::FaultSite site) noexcept {
  return injection_point(site == duet::detail::FaultSite::fiber_stack
                             ? duet::testing::AllocationSite::fiber_stack
                             : duet::testing::AllocationSite::fiber_control_block);
}

void* counted_alloc(std::size_t n, std::size_t align) {
  count_allocation(n);
  if (g_fail_at.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    if (injection_point(duet::testing::AllocationSite::operator_new)) return nullptr;
  }
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    n = (n + align - 1) / align * align;
    p = std::aligned_alloc(align, n);
  }
  return p;
}
}  // namespace

namespace duet::testing {
AllocStats alloc_stats() noexcept {
  AllocStats total{g_shared_allocations.load(std::memory_order_relaxed),
                   g_shared_bytes.load(std::memory_order_relaxed)};
  const int high = g_slots_high.load(std::memory_order_acquire);
  for (int i = 0; i < high; ++i) {
    total.allocations += g_slots[i].allocations.load(std::memory_order_relaxed);
    total.bytes += g_slots[i].bytes.load(std::memory_order_relaxed);
  }
  return total;
}

FailAt::FailAt(std::uint64_t k) noexcept {
  g_fault_count.store(0, std::memory_order_relaxed);
  g_fault_fired.store(false, std::memory_order_relaxed);
  g_fired_site.store(AllocationSite::none, std::memory_order_relaxed);
  duet::detail::set_fault_hook(&library_fault_hook);
  g_fail_at.store(k, std::memory_order_release);
}
FailAt::~FailAt() { disarm(); }
void FailAt::disarm() noexcept {
  g_fail_at.store(0, std::memory_order_release);
  duet::detail::set_fault_hook(nullptr);
}
AllocationSite FailAt::fired_site() const noexcept {
  return g_fired_site.load(std::memory_order_relaxed);
}
bool FailAt::fired() const noexcept { return g_fault_fired.load(std::memory_order_acquire); }
std::uint64_t FailAt::allocations() const noexcept {
  return g_fault_count.load(std::memory_order_acquire);
}
}  // namespace duet::testing

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n, alignof(std::max_align_t))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_alloc(n, static_cast<std::size_t>(a))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, alignof(std::max_align_t));
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n, alignof(std::max_align_t));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
