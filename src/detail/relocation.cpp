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
  // Moved into its box (relocation_moving paused these and recorded where): rebase and retry
  // them. Ended unboxed (it completed, or its box could not be allocated): end them before its
  // memory goes. Either way they are watched no more: the box never moves.
  const std::byte* const to = RelocationAccess::moved_to(s);
  const std::ptrdiff_t delta = to ? to - static_cast<const std::byte*>(s.begin()) : 0;
  std::lock_guard guard(g_lock);
  for_each_node(&s, [&](WatchNode& n) {
    if (to) {
      n.target->relocation_resume(delta);
    } else {
      n.target->relocation_orphan();
    }
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

void relocation_moving(const void* machine, void* to) noexcept {
  RelocationScope* s = relocation_top();
  while (s != nullptr && s->begin() != machine) s = s->parent();
  if (s == nullptr || s->watched() == 0) [[likely]] return;
  std::lock_guard guard(g_lock);
  for_each_node(s, [](WatchNode& n) {
    n.target->relocation_pause();
    return false;
  });
  RelocationAccess::moved_to(*s) = static_cast<const std::byte*>(to);
}

// The common path is a load, a branch and a tail call of operator new (g++ and clang emit a
// jump): the first suspension of every explicit/dsl method comes through here.
void* box_allocate(std::size_t size, const void* machine, std::size_t offset) noexcept {
  if (g_relocation_watches.load(std::memory_order_relaxed) != 0) [[unlikely]] {
    void* const mem = ::operator new(size, std::nothrow);
    if (mem != nullptr) relocation_moving(machine, static_cast<std::byte*>(mem) + offset);
    return mem;
  }
  return ::operator new(size, std::nothrow);
}

}  // namespace duet::detail
