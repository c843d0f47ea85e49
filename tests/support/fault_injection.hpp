// fault_injection.hpp — out-of-memory injection for tests: while a FailAt(k) is alive, the k-th
// call of any replaced operator new in the process (all threads, counted from the FailAt's
// construction) fails: the throwing forms throw std::bad_alloc, the nothrow forms return null.
// Link alloc_counter.cpp into the executable (it holds the replaced allocation functions).
// Memory the library pools itself counts too: a fiber control block from the per-thread cache
// and a fiber stack from the stack pool are allocation points (detail/fault_point.hpp); failing
// one throws std::bad_alloc / FiberStackError from duet::fiber::async.
//
// The usual loop (tests/fault/test_fault_injection.cpp): run a scenario under FailAt(k) for
// k = 1, 2, ... until fired() is false — the scenario then ran to its end without an injected
// failure, so every allocation point it reaches was failed once.
#pragma once

#include <cstdint>

namespace duet::testing {

// AllocationSite — the kind of allocation point the injected failure hit.
enum class AllocationSite {
  none,                 // not fired (yet)
  operator_new,         // a replaced operator new (throwing or nothrow form)
  fiber_control_block,  // a fiber control block from the per-thread cache
  fiber_stack,          // a fiber stack from the stack pool
};

// FailAt — arms the injection for its lifetime. One at a time (not nestable).
class FailAt {
 public:
  explicit FailAt(std::uint64_t k) noexcept;
  ~FailAt();
  FailAt(const FailAt&) = delete;
  FailAt& operator=(const FailAt&) = delete;

  // fired() — whether the k-th allocation happened (and failed).
  bool fired() const noexcept;
  // fired_site() — where the k-th allocation was (none until fired()).
  AllocationSite fired_site() const noexcept;
  // allocations() — allocations counted since construction.
  std::uint64_t allocations() const noexcept;
  // disarm() — stops injecting (fired() keeps its value); the destructor does it too.
  void disarm() noexcept;
};

}  // namespace duet::testing
