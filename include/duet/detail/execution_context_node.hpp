// duet/detail/execution_context_node.hpp — the immutable map behind ExecutionContext.
//
// Ground rules
// ------------
// Immutability. A node is built once (by AsyncLocal<T>::set_value, copy-on-write) and never
// modified afterwards, so any number of threads may read it without synchronisation. The empty
// (default) context is the null pointer: no node, no allocation, no reference counting.
//
// Layout. One allocation holds the header and `size` entries that follow it. An entry is keyed
// by the AsyncLocal's id (a process-wide counter, never reused, so a destroyed AsyncLocal whose
// address is reused can never read a stale value). Lookups are a linear scan: contexts hold a
// handful of locals, and a flat array is what .NET's small-map specialisations use too.
//
// Values. A value of a trivially copyable T of at most k_ec_inline_size bytes (and alignment at
// most 8) is stored *inline* in its entry: set_value then costs exactly one allocation (the new
// node). Any other T lives in a refcounted EcBox that nodes share; set_value then costs two (the
// box and the node), and copying the map to add another local only bumps the box's count.
//
// Change notifications. An entry whose AsyncLocal has a change callback carries a pointer to it
// (`notify`), and the node counts such entries (`notify_count`), so switching between two
// contexts without callbacks costs two loads and no walk. The AsyncLocal pointed to must outlive
// every context that holds its value (declare such locals static, as .NET code does).
//
// Reference count. `refs` counts ExecutionContext handles, captured continuations and the threads
// that have the node installed; the release that drops it to zero destroys the node and releases
// its boxes (ec_release below).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace duet::detail {

class AsyncLocalBase;

// k_ec_inline_size — bytes of a value stored inline in a map entry (see "Values").
inline constexpr std::size_t k_ec_inline_size = 16;

// ec_stores_inline<T> — whether AsyncLocal<T> keeps its value inline (one allocation per set).
template <class T>
inline constexpr bool ec_stores_inline = std::is_trivially_copyable_v<T> &&
                                         sizeof(T) <= k_ec_inline_size && alignof(T) <= 8;

// EcBox — the refcounted heap home of a value that is not stored inline. Immutable after
// construction; thread-safe reference counting.
struct EcBox {
  std::atomic<std::uint32_t> refs{1};
  EcBox() = default;
  EcBox(const EcBox&) = delete;
  EcBox& operator=(const EcBox&) = delete;
  virtual ~EcBox() = default;
};

// EcBoxOf<T> — an EcBox holding one T.
template <class T>
struct EcBoxOf final : EcBox {
  template <class... Args>
  explicit EcBoxOf(Args&&... args) : value(std::forward<Args>(args)...) {}
  const T value;
};

// EcEntry — one AsyncLocal's value in a map. Trivially copyable: nodes copy entries with memcpy
// and then add a reference to each box.
struct EcEntry {
  std::uint64_t key;        // the AsyncLocal's id
  AsyncLocalBase* notify;   // the AsyncLocal to call back on changes, or null (no callback)
  bool boxed;               // storage holds an EcBox* (true) or the value's bytes (false)
  alignas(8) unsigned char storage[k_ec_inline_size];

  // box() — the box of a boxed entry.
  EcBox* box() const noexcept {
    EcBox* b;
    std::memcpy(&b, storage, sizeof b);
    return b;
  }
};
static_assert(std::is_trivially_copyable_v<EcEntry>);

// ExecutionContextNode — header of an immutable map; `size` entries follow it in memory.
struct alignas(8) ExecutionContextNode {
  std::atomic<std::uint32_t> refs{1};
  std::uint32_t size = 0;          // number of entries
  std::uint32_t notify_count = 0;  // entries whose `notify` is not null

  EcEntry* entries() noexcept { return reinterpret_cast<EcEntry*>(this + 1); }
  const EcEntry* entries() const noexcept { return reinterpret_cast<const EcEntry*>(this + 1); }
};
static_assert(sizeof(ExecutionContextNode) % alignof(EcEntry) == 0);

// AsyncLocalBase — the untyped half of AsyncLocal<T>: its id and the change-notification hook.
class AsyncLocalBase {
 public:
  AsyncLocalBase(const AsyncLocalBase&) = delete;
  AsyncLocalBase& operator=(const AsyncLocalBase&) = delete;

  // value_changed(previous, current, thread_context_changed) — called by ec_notify_changes when
  // the thread switches contexts; `previous`/`current` are this local's entries in the old and
  // new maps (null: not set there). Implementations compare and run the user's callback.
  virtual void value_changed(const EcEntry* previous, const EcEntry* current,
                             bool thread_context_changed) noexcept = 0;

 protected:
  AsyncLocalBase() noexcept;
  ~AsyncLocalBase() = default;

  const std::uint64_t id_;
};

// ec_find(n, key) — the entry for `key` in `n` (null: not set, or n is the default context).
inline const EcEntry* ec_find(const ExecutionContextNode* n, std::uint64_t key) noexcept {
  if (!n) return nullptr;
  const EcEntry* e = n->entries();
  for (std::uint32_t i = 0, size = n->size; i < size; ++i) {
    if (e[i].key == key) return &e[i];
  }
  return nullptr;
}

// ec_with(base, e) — a new node: `base`'s entries with `e` added or replacing the entry of the
// same key (one allocation; refs = 1, owned by the caller). Takes over e's box reference, also
// when it throws std::bad_alloc (then the box is released).
ExecutionContextNode* ec_with(const ExecutionContextNode* base, const EcEntry& e);

// ec_box_release(b) — drops one reference to a box.
void ec_box_release(EcBox* b) noexcept;

// ec_destroy(n) — frees a node whose count reached zero and releases its boxes.
void ec_destroy(ExecutionContextNode* n) noexcept;

// ec_add_ref / ec_release — intrusive reference counting; null (the default context) is allowed
// and costs no atomic operation.
inline void ec_add_ref(ExecutionContextNode* n) noexcept {
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
}
inline void ec_release(ExecutionContextNode* n) noexcept {
  if (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) ec_destroy(n);
}

// ec_notify_changes(from, to) — runs the AsyncLocal change callbacks for values that differ
// between `from` and `to` (thread_context_changed = true). Called when a thread switches
// contexts (ec_set_current in core/continuation.hpp).
void ec_notify_changes(ExecutionContextNode* from, ExecutionContextNode* to) noexcept;

}  // namespace duet::detail
