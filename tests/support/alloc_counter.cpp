// alloc_counter.cpp — replaces the global allocation functions with counting ones.
#include "alloc_counter.hpp"
#include "fault_injection.hpp"

#include <cstdlib>
#include <new>

#include "duet/detail/fault_point.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_bytes{0};

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
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
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
  return {g_allocations.load(std::memory_order_relaxed), g_bytes.load(std::memory_order_relaxed)};
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
