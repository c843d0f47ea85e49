// alloc_counter.hpp — counts every operator new in the process (all threads), for tests and
// benchmarks that assert or report allocations. Link alloc_counter.cpp into the executable: it
// replaces the global operator new/delete family.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace duet::testing {

// AllocStats — a snapshot of the process-wide counters.
struct AllocStats {
  std::uint64_t allocations = 0;  // calls to any operator new
  std::uint64_t bytes = 0;        // bytes requested by them
};

// alloc_stats() — the counters now: the sum of every thread's (alloc_counter.cpp). Thread-safe
// (relaxed atomics): an allocation that happens-before the call is counted.
AllocStats alloc_stats() noexcept;

// AllocScope — counts allocations between its construction and the call of allocations()/bytes().
class AllocScope {
 public:
  AllocScope() noexcept : start_(alloc_stats()) {}
  std::uint64_t allocations() const noexcept { return alloc_stats().allocations - start_.allocations; }
  std::uint64_t bytes() const noexcept { return alloc_stats().bytes - start_.bytes; }

 private:
  AllocStats start_;
};

}  // namespace duet::testing
