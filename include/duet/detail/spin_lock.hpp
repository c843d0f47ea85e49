// duet/detail/spin_lock.hpp — SpinLock: the one spin lock of the runtime (timer wheel, cancellation
// state), for critical sections of a few pointer operations that never block.
#pragma once

#include <atomic>
#include <thread>

#include "duet/detail/cpu_relax.hpp"

namespace duet::detail {

// SpinLock — test-and-test-and-set: one exchange when free; otherwise it spins on a plain load
// (k_spins pauses), then yields the CPU, until the lock looks free, and tries again. One byte.
// Thread-safe; not recursive. Declare it `mutable` where const members must lock.
class SpinLock {
 public:
  static constexpr int k_spins = 128;

  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  [[gnu::noinline]] void lock_slow() noexcept {
    for (;;) {
      int spins = 0;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < k_spins) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }

  std::atomic<bool> locked_{false};
};

}  // namespace duet::detail
