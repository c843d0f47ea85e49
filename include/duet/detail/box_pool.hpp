// duet/detail/box_pool.hpp — BoxPool<Box>: the one pool of reusable objects behind the pooled
// ValueTask forms (PoolingAsyncValueTaskMethodBuilder's state-machine boxes, the fiber objects of
// duet::fiber::async_value). One pool per Box type, i.e. per state-machine type or call site, as
// .NET pools per state-machine type.
//
// Shape. A one-object per-thread slot in front of a small shared list (k_shared_cap objects,
// under a mutex). An object remembers the slot of the thread that rented it (Pooled::pool_home,
// compared by address only, never dereferenced from another thread). Given back on that thread,
// it goes back into the slot (the hot path of a synchronous call or of a same-thread loop: no
// lock); given back on another thread — the one that completed or consumed the operation — it
// goes to the shared list, where the next rent on any thread finds it. So a suspending call
// allocates nothing in steady state whichever thread consumes it. Objects beyond the list's
// capacity are freed. A thread's slot is freed at thread exit; the shared list is never
// destroyed (threads may still give back into it during static destruction).
//
// Thread-safety: rent() and give_back() may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>

namespace duet::detail {

// Pooled — the base of a pooled object: the slot of the thread that rented it.
struct Pooled {
  const void* pool_home = nullptr;
};

// BoxPool<Box> — see the header. Box derives from Pooled, is default-constructible, and is
// cleared by its owner before give_back().
template <class Box>
class BoxPool {
 public:
  // k_shared_cap — objects the shared list keeps; more are freed.
  static constexpr std::size_t k_shared_cap = 64;

  // rent() — an object from this thread's slot, the shared list, or `new Box()` (which may throw
  // std::bad_alloc); its pool_home is the calling thread's slot.
  static Box* rent() {
    ThreadSlot& mine = thread_slot();
    Box* b = std::exchange(mine.box, nullptr);
    if (b == nullptr) {
      Shared& sh = shared();
      if (sh.count.load(std::memory_order_relaxed) != 0) {
        std::lock_guard<std::mutex> lk(sh.mutex);
        const std::size_t n = sh.count.load(std::memory_order_relaxed);
        if (n != 0) {
          sh.count.store(n - 1, std::memory_order_relaxed);
          b = sh.items[n - 1];
        }
      }
      if (b == nullptr) b = new Box();
    }
    b->pool_home = &mine;
    return b;
  }

  // give_back(b) — pools a cleared object (see the header). Precondition: nobody uses it.
  static void give_back(Box* b) noexcept {
    ThreadSlot& mine = thread_slot();
    if (&mine == b->pool_home && mine.box == nullptr) {
      mine.box = b;
      return;
    }
    {
      Shared& sh = shared();
      std::lock_guard<std::mutex> lk(sh.mutex);
      const std::size_t n = sh.count.load(std::memory_order_relaxed);
      if (n < k_shared_cap) {
        sh.items[n] = b;
        sh.count.store(n + 1, std::memory_order_relaxed);
        return;
      }
    }
    if (mine.box == nullptr) {
      mine.box = b;
      return;
    }
    delete b;
  }

 private:
  struct ThreadSlot {
    Box* box = nullptr;
    ThreadSlot() = default;
    ThreadSlot(const ThreadSlot&) = delete;
    ThreadSlot& operator=(const ThreadSlot&) = delete;
    ~ThreadSlot() { delete box; }
  };
  struct Shared {
    std::mutex mutex;
    std::atomic<std::size_t> count{0};  // written under mutex, peeked without it
    Box* items[k_shared_cap] = {};      // guarded by mutex
  };

  // thread_slot() — the calling thread's one-object cache. Not inlined (fibers migrate).
  [[gnu::noinline]] static ThreadSlot& thread_slot() noexcept {
    thread_local ThreadSlot slot;
    return slot;
  }
  // shared() — the shared list; leaked on purpose (see the header).
  static Shared& shared() {
    static Shared* const s = new Shared();
    return *s;
  }
};

}  // namespace duet::detail
