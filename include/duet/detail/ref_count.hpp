// duet/detail/ref_count.hpp — RefCount: the atomic count of an intrusively counted object.
//
// Thread-safety: every member may be called from any thread, except reset() (see there).
#pragma once

#include <atomic>
#include <cstdint>

namespace duet::detail {

// RefCount — a member that counts an object's references; its owner frees (or recycles) the
// object when drop() reports the last one. Not copyable, so neither is its owner.
class RefCount {
 public:
  explicit RefCount(std::uint32_t n) noexcept : refs_(n) {}
  RefCount(const RefCount&) = delete;
  RefCount& operator=(const RefCount&) = delete;

  // add_ref() — one more reference.
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // drop() — one reference fewer; true when it was the last (everything the other holders wrote
  // is visible to the caller, which then frees the object).
  [[nodiscard]] bool drop() noexcept { return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  // reset(n) — the count of an object nobody else can reach yet (a pooled object being reused).
  void reset(std::uint32_t n) noexcept { refs_.store(n, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> refs_;
};

}  // namespace duet::detail
