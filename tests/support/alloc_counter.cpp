// alloc_counter.cpp — replaces the global allocation functions with counting ones.
#include "alloc_counter.hpp"
#include "fault_injection.hpp"

#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_bytes{0};

// Fault injection (fault_injection.hpp): while g_fail_at != 0, allocation number g_fail_at
// (counted in g_fault_count) fails.
std::atomic<std::uint64_t> g_fail_at{0};
std::atomic<std::uint64_t> g_fault_count{0};
std::atomic<bool> g_fault_fired{false};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  if (const std::uint64_t k = g_fail_at.load(std::memory_order_acquire); k != 0) [[unlikely]] {
    if (g_fault_count.fetch_add(1, std::memory_order_acq_rel) + 1 == k) {
      g_fault_fired.store(true, std::memory_order_release);
      return nullptr;
    }
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
  g_fail_at.store(k, std::memory_order_release);
}
FailAt::~FailAt() { disarm(); }
void FailAt::disarm() noexcept { g_fail_at.store(0, std::memory_order_release); }
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
