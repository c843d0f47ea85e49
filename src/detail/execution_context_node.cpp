// execution_context_node.cpp — the immutable map behind ExecutionContext: building a map,
// freeing one, and the AsyncLocal change notifications a switch between two maps causes.
//
// Reentrancy. A change callback may itself call set_value() or switch contexts, which replaces
// the thread's current map and could free the maps being compared. ec_notify_changes therefore
// holds a reference to both maps for the whole walk.
#include "duet/detail/execution_context_node.hpp"

#include <atomic>
#include <cstring>
#include <new>

namespace duet::detail {

namespace {
std::atomic<std::uint64_t> g_next_local_id{1};

void box_add_ref(EcBox* b) noexcept { b->refs.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

AsyncLocalBase::AsyncLocalBase() noexcept
    : id_(g_next_local_id.fetch_add(1, std::memory_order_relaxed)) {}

void ec_box_release(EcBox* b) noexcept {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete b;
}

void ec_destroy(ExecutionContextNode* n) noexcept {
  const EcEntry* e = n->entries();
  for (std::uint32_t i = 0; i < n->size; ++i) {
    if (e[i].boxed) ec_box_release(e[i].box());
  }
  n->~ExecutionContextNode();
  ::operator delete(static_cast<void*>(n));
}

ExecutionContextNode* ec_with(const ExecutionContextNode* base, const EcEntry& e) {
  const std::uint32_t base_size = base ? base->size : 0;
  const EcEntry* const old = ec_find(base, e.key);
  const std::uint32_t size = old ? base_size : base_size + 1;
  void* mem = ::operator new(sizeof(ExecutionContextNode) + size * sizeof(EcEntry), std::nothrow);
  if (!mem) {
    if (e.boxed) ec_box_release(e.box());
    throw std::bad_alloc();
  }
  auto* n = ::new (mem) ExecutionContextNode;
  n->size = size;
  EcEntry* out = n->entries();
  if (base_size) std::memcpy(static_cast<void*>(out), base->entries(), base_size * sizeof(EcEntry));
  std::uint32_t notify = 0;
  for (std::uint32_t i = 0; i < base_size; ++i) {
    if (&base->entries()[i] == old) {
      out[i] = e;  // replaced: the old box keeps its reference in `base` only
    } else if (out[i].boxed) {
      box_add_ref(out[i].box());
    }
    if (out[i].notify) ++notify;
  }
  if (!old) {
    out[base_size] = e;
    if (e.notify) ++notify;
  }
  n->notify_count = notify;
  return n;
}

void ec_notify_changes(ExecutionContextNode* from, ExecutionContextNode* to) noexcept {
  const std::uint32_t from_notify = from ? from->notify_count : 0;
  const std::uint32_t to_notify = to ? to->notify_count : 0;
  if (from_notify == 0 && to_notify == 0) return;
  ec_add_ref(from);  // see "Reentrancy"
  ec_add_ref(to);
  if (from_notify) {
    for (std::uint32_t i = 0; i < from->size; ++i) {
      const EcEntry& e = from->entries()[i];
      if (e.notify) e.notify->value_changed(&e, ec_find(to, e.key), true);
    }
  }
  if (to_notify) {
    for (std::uint32_t i = 0; i < to->size; ++i) {
      const EcEntry& e = to->entries()[i];
      // Locals present in both maps were handled above (when `from` had the callback, which it
      // does for the same key: `notify` is a property of the local, not of the value).
      if (e.notify && !ec_find(from, e.key)) e.notify->value_changed(nullptr, &e, true);
    }
  }
  ec_release(to);
  ec_release(from);
}

}  // namespace duet::detail
