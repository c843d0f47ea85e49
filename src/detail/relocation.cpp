// src/detail/relocation.cpp — the relocation scopes' chain and the watch list
// (duet/detail/relocation.hpp).
#include "duet/detail/relocation.hpp"

#include <mutex>
#include <new>

namespace duet::detail {

std::atomic<std::uint32_t> g_relocation_watches{0};
constinit std::atomic<bool> g_relocation_enabled{false};

namespace {

// WatchNode — one watched operation. The list is process-wide and short: an operation is in it
// only between going pending and its machine's first suspension.
struct WatchNode {
  RelocationScope* scope;
  RelocationTarget* target;
  WatchNode* next;
};

std::mutex g_lock;             // guards g_watches, the nodes and the scopes' counts ("Locks")
WatchNode* g_watches = nullptr;

// forget(node) — the node's target is watched no more: the scope's count, then the target's flag
// as the last touch of the target (a finish that reads it false may free the target at once).
void forget(WatchNode& n) noexcept {
  g_relocation_watches.fetch_sub(1, std::memory_order_relaxed);
  RelocationAccess::count(*n.scope).fetch_sub(1, std::memory_order_release);
  RelocationAccess::set_watched(*n.target, false);
}

// for_each_node(scope, fn) — fn(node) for every node of `scope`, under g_lock; fn returns true to
// unlink and free the node (it then clears the target's flag as the last touch of the target).
template <class Fn>
void for_each_node(RelocationScope* scope, Fn fn) noexcept {
  WatchNode** link = &g_watches;
  while (WatchNode* n = *link) {
    if (n->scope == scope && fn(*n)) {
      *link = n->next;
      delete n;
    } else {
      link = &n->next;
    }
  }
}

}  // namespace

void relocation_close(RelocationScope& s) noexcept {
  // The machine ends unboxed with operations still pointing into it: end them before its memory
  // goes.
  std::lock_guard guard(g_lock);
  for_each_node(&s, [](WatchNode& n) {
    n.target->relocation_orphan();
    forget(n);
    return true;
  });
}

RelocationScope*& relocation_chain_slot() noexcept { return relocation_top(); }

RelocationScope* relocation_find(const void* p, std::size_t n) noexcept {
  for (RelocationScope* s = relocation_top(); s != nullptr; s = s->parent()) {
    if (s->contains(p, n)) return s;
  }
  return nullptr;
}

void relocation_watch(RelocationScope& scope, RelocationTarget& target) {
  auto* const node = new WatchNode{&scope, &target, nullptr};
  std::lock_guard guard(g_lock);
  node->next = g_watches;
  g_watches = node;
  RelocationAccess::count(scope).fetch_add(1, std::memory_order_relaxed);
  g_relocation_watches.fetch_add(1, std::memory_order_relaxed);
  RelocationAccess::set_watched(target, true);
}

void relocation_unwatch(RelocationTarget& target) noexcept {
  std::lock_guard guard(g_lock);
  for (WatchNode** link = &g_watches; *link != nullptr; link = &(*link)->next) {
    WatchNode* const n = *link;
    if (n->target != &target) continue;
    *link = n->next;
    forget(*n);
    delete n;
    return;
  }
  RelocationAccess::set_watched(target, false);
}

RelocationScope* relocation_moving_slow(const void* machine) noexcept {
  RelocationScope* s = relocation_top();
  while (s != nullptr && s->begin() != machine) s = s->parent();
  if (s == nullptr || s->watched() == 0) [[likely]] return nullptr;
  std::lock_guard guard(g_lock);
  for_each_node(s, [](WatchNode& n) {
    n.target->relocation_pause();
    return false;
  });
  return s;
}

void relocation_moved(RelocationScope& scope, const void* to) noexcept {
  const std::ptrdiff_t delta =
      to ? static_cast<const std::byte*>(to) - static_cast<const std::byte*>(scope.begin()) : 0;
  std::lock_guard guard(g_lock);
  for_each_node(&scope, [&](WatchNode& n) {
    n.target->relocation_resume(delta);
    if (!to) return false;  // not moved: still watched until the scope closes
    forget(n);
    return true;
  });
}

}  // namespace duet::detail
