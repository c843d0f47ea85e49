// duet/detail/work_stealing_ring.hpp — the bounded per-worker run queue of the ThreadPool.
//
// WorkStealingRing<T, N> is a fixed-capacity Chase-Lev deque (Chase & Lev, SPAA 2005, in the
// C11 formulation of Lê, Pop, Cohen & Zappa Nardelli, PPoPP 2013) holding pointers. One thread,
// the owner, pushes and pops at the bottom; any thread steals from the top. The owner's end is
// LIFO on purpose: a worker runs the item it posted last (hot in cache; for fork/join trees such
// as skynet that is a depth-first walk whose live set is O(depth x fan-out) instead of the whole
// tree), while thieves take the oldest items, which in a tree are the biggest pieces of work.
// Fairness (the oldest item cannot wait forever behind a busy bottom) is the pool's job: every
// 61st pick it takes the top of its own ring (see thread_pool.cpp).
//
// Ground rules
//  * Indices are 64-bit and only grow (`top` never decreases; `bottom` moves back by one only
//    inside pop() and is restored at once); slot of index i is buf_[i % N]. They cannot wrap.
//  * Items live in [top, bottom). size = bottom - top, 0 <= size <= N outside pop().
//  * Only the owner writes `bottom` and the slots. Everyone (owner included) claims an item at
//    the top with a CAS of `top` from t to t + 1; the winner owns buf_[t % N]'s item.
//  * The owner takes an item at the bottom without a CAS while at least one other item stays in
//    the ring (t < b after it moved bottom down): a thief can only claim index t < b, so the
//    two can never want the same index. When exactly one item is left (t == b), the owner races
//    the thieves for it with the same CAS on `top` as they use.
//
// The races, and why each is safe
//  * push vs steal: the owner writes the slot, then publishes it with a release store of
//    `bottom`; a thief reads `bottom` with acquire before it reads the slot, so it sees the item
//    and everything the poster wrote before posting. push refuses when b - top >= N, so it never
//    overwrites a slot a thief may still read: a slot is reused only after `top` moved past it,
//    and a thief that read the old content then fails its CAS (top changed) and drops what it
//    read.
//  * pop vs steal (the Dekker pair): pop stores bottom = b - 1, then a seq_cst fence, then loads
//    top; steal loads top, a seq_cst fence, then loads bottom. With both fences at least one side
//    sees the other's write: either the thief sees the smaller bottom (and finds the ring empty
//    or claims an index below it), or the owner sees the thief's advanced top (and treats the
//    bottom item as the last one, racing with the CAS). Without the fences both could take the
//    same last item (the store-buffer reordering of x86 permits exactly that).
//  * steal vs steal: the CAS on `top` lets exactly one of them claim index t; a loser returns
//    `abort` and may retry.
//
// Stealing half. steal_half_into(victim, into) moves up to half of the victim's items, one CAS
// per item, into the thief's own ring (which the thief owns, so it pushes there). Per-item claims
// keep the proof above unchanged (a batch claim of [t, t + n) would need a second protocol
// against the owner's bottom pops, as Go's and tokio's FIFO rings have, which pop at the top).
// The thief returns one of the stolen items to run at once.
//
// Model-checked in tests/core/test_work_stealing_ring.cpp: this very code, instantiated with
// model atomics, under an explorer that enumerates every interleaving of its atomic operations
// (owner push/pop against one or two thieves, steal and steal-half, a full ring; unbounded or
// bounded to 2-3 preemptions) with sequentially consistent operations, so it checks who may
// take which index, not the fences (argued above). Removing pop's last-item CAS makes it fail
// within a few hundred executions. A many-seed stress of the real type on real threads also
// runs under ThreadSanitizer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "duet/detail/assert.hpp"

namespace duet::detail {

// StdSync — the real synchronisation primitives. The model checker substitutes its own, whose
// every operation is a scheduling point (tests/core/test_work_stealing_ring.cpp), the way loom
// replaces std::sync.
struct StdSync {
  template <class U>
  using atomic = std::atomic<U>;
  static void fence_seq_cst() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
};

// WorkStealingRing<T, N, Sync> — see the header. N must be a power of two. Thread-safety:
// push() and pop() from the owner only; steal(), steal_half_into()'s source side and
// approx_size() from any thread.
template <class T, std::size_t N, class Sync = StdSync>
class WorkStealingRing {
  static_assert(N >= 2 && (N & (N - 1)) == 0, "the capacity must be a power of two");

 public:
  // StealResult — the outcome of one steal attempt.
  enum class Steal {
    success,  // the item was claimed and returned
    empty,    // the ring was empty when looked at
    abort,    // another thread claimed the top first; retrying may succeed
  };

  static constexpr std::size_t capacity = N;

  // push(item) — adds `item` at the bottom. Owner only. Returns false (and keeps nothing) when
  // the ring is full.
  bool push(T* item) noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_acquire);
    if (b - t >= static_cast<std::int64_t>(N)) return false;
    slot(b).store(item, std::memory_order_relaxed);
    bottom_.store(b + 1, std::memory_order_release);
    return true;
  }

  // pop() — removes and returns the bottom (newest) item, or null when empty. Owner only.
  T* pop() noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    bottom_.store(b, std::memory_order_relaxed);
    Sync::fence_seq_cst();
    std::int64_t t = top_.load(std::memory_order_relaxed);
    if (t > b) {  // empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    T* item = slot(b).load(std::memory_order_relaxed);
    if (t == b) {  // the last item: race the thieves for it
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
        item = nullptr;
      }
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return item;
  }

  // steal(out) — claims the top (oldest) item into `out`. Any thread, the owner included.
  Steal steal(T*& out) noexcept {
    std::int64_t t = top_.load(std::memory_order_acquire);
    Sync::fence_seq_cst();
    const std::int64_t b = bottom_.load(std::memory_order_acquire);
    if (t >= b) return Steal::empty;
    T* item = slot(t).load(std::memory_order_relaxed);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      return Steal::abort;
    }
    out = item;
    return Steal::success;
  }

  // top_index() — the index of the oldest item (it only grows); any thread. Lets the owner see
  // whether its oldest item has been waiting.
  std::int64_t top_index() const noexcept { return top_.load(std::memory_order_relaxed); }

  // approx_size() — bottom - top as seen now; exact only when no one else touches the ring.
  // Any thread; for heuristics (is there anything to steal, pending_work_item_count).
  std::size_t approx_size() const noexcept {
    const std::int64_t t = top_.load(std::memory_order_relaxed);
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    return b > t ? static_cast<std::size_t>(b - t) : 0;
  }

  // steal_half_into(into) — moves up to half (rounded up) of this ring's items, oldest first, into
  // `into` (a ring the calling thread owns) and returns one more item to run at once, or null
  // when nothing could be claimed. The number moved is bounded by the room left in `into`
  // (thieves take from others only when their own ring is empty, so that never binds in the
  // pool: half of a ring always fits).
  T* steal_half_into(WorkStealingRing& into) noexcept {
    std::size_t want = (approx_size() + 1) / 2;
    const std::size_t room = N - into.approx_size();
    if (want > room + 1) want = room + 1;
    T* first = nullptr;
    for (int aborts = 0; want > 0;) {
      T* item = nullptr;
      const Steal r = steal(item);
      if (r == Steal::empty) break;
      if (r == Steal::abort) {
        if (++aborts > 4) break;  // contended: keep what we have
        continue;
      }
      --want;
      if (!first) {
        first = item;
      } else {
        const bool pushed = into.push(item);
        DUET_ASSERT(pushed, "steal_half_into: the thief's ring had no room for a stolen item");
        (void)pushed;
      }
    }
    return first;
  }

 private:
  typename Sync::template atomic<T*>& slot(std::int64_t i) noexcept {
    return buf_[static_cast<std::size_t>(i) & (N - 1)];
  }

  // top_ — the next index to steal; written only by successful CASes.
  alignas(64) typename Sync::template atomic<std::int64_t> top_{0};
  // bottom_ — one past the newest item; written only by the owner.
  alignas(64) typename Sync::template atomic<std::int64_t> bottom_{0};
  // buf_ — the slots; relaxed atomics because a thief may read a slot the owner is rewriting
  // (it then fails its CAS and drops the value).
  typename Sync::template atomic<T*> buf_[N] = {};
};

}  // namespace duet::detail
