// continuation.cpp — the await protocol's out-of-line half (core/continuation.hpp): the thread's
// ambient state, completing a continuation stack, dispatch and run-with-restore.
#include "duet/core/continuation.hpp"

#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/detail/assert.hpp"
#include "duet/detail/relocation.hpp"
#include "../detail/shuffle_hook.hpp"

namespace duet {

namespace detail {

namespace {

// Ambient — the calling thread's ambient state (see the header).
struct Ambient {
  SynchronizationContext* sync = nullptr;
  ExecutionContextNode* ec = nullptr;  // one reference owned
  bool flow_suppressed = false;
  int inline_depth = 0;  // dispatch_continuation's nesting counter
  RelocationScope* relocation_top = nullptr;  // innermost open scope (detail/relocation.hpp)
};

thread_local Ambient t_ambient;

// ambient() — the calling thread's record. Not inlined: a fiber that migrates between threads
// must never keep another thread's address (a caller that runs code which may switch fibers
// between two uses re-reads it through this call).
[[gnu::noinline]] Ambient& ambient() noexcept { return t_ambient; }

// ambient_leaf() — the same record, inlined: only for functions that call nothing that could
// switch fibers between taking the address and their last use of it (the hot accessors below).
[[gnu::always_inline]] inline Ambient& ambient_leaf() noexcept { return t_ambient; }

void sentinel_invoke(Continuation*) noexcept {
  DUET_ASSERT(false, "the completed-operation sentinel continuation was invoked");
}

}  // namespace

SynchronizationContext* current_sync_context() noexcept { return ambient_leaf().sync; }
void set_current_sync_context(SynchronizationContext* ctx) noexcept { ambient_leaf().sync = ctx; }

ExecutionContextNode* ec_current() noexcept { return ambient_leaf().ec; }

void ec_set_current(ExecutionContextNode* n) noexcept {
  Ambient& a = ambient();
  ExecutionContextNode* old = a.ec;
  if (old == n) return;
  ec_add_ref(n);
  a.ec = n;
  ec_notify_changes(old, n);
  ec_release(old);
}

void ec_adopt_current(ExecutionContextNode* n) noexcept {
  ec_release(std::exchange(ambient().ec, n));
}

bool ec_flow_suppressed() noexcept { return ambient_leaf().flow_suppressed; }

AmbientView ambient_view() noexcept {
  const Ambient& a = ambient_leaf();
  return {a.sync, a.ec, a.flow_suppressed};
}

// A program without duet's sockets never pushes a scope (relocation_enabled), so ambient_leave
// finds its scope on top only when ambient_enter pushed it: scopes are popped in LIFO order, and
// one that was not pushed cannot be the top.
AmbientView ambient_enter(RelocationScope& s) noexcept {
  Ambient& a = ambient_leaf();
  if (relocation_enabled()) {
    RelocationAccess::parent(s) = a.relocation_top;
    a.relocation_top = &s;
  }
  return {a.sync, a.ec, a.flow_suppressed};
}

AmbientView ambient_leave(RelocationScope& s) noexcept {
  Ambient& a = ambient_leaf();  // relocation_close below posts continuations, never switches fibers
  if (a.relocation_top == &s) {
    a.relocation_top = s.parent();
    if (s.watched() != 0) [[unlikely]] relocation_close(s);
  }
  return {a.sync, a.ec, a.flow_suppressed};
}

RelocationScope*& relocation_top() noexcept { return ambient().relocation_top; }
void ec_set_flow_suppressed(bool on) noexcept { ambient_leaf().flow_suppressed = on; }

Continuation* completed_sentinel() noexcept {
  static Continuation sentinel{&sentinel_invoke};
  return &sentinel;
}

void dispatch_continuations(Continuation* newest_first, bool force_async) noexcept {
  Continuation* ordered = nullptr;  // reversed: registration order
  while (newest_first) {
    Continuation* next = newest_first->next;
    newest_first->next = ordered;
    ordered = newest_first;
    newest_first = next;
  }
  // The task may be destroyed by any continuation: touch only the nodes. Only the first node may
  // run inline; the later awaits are queued (force_async), as .NET's RunContinuations.
  bool later = false;
  while (ordered) {
    Continuation* c = ordered;
    ordered = c->next;
    c->next = nullptr;
    const bool queue = force_async || (later && !c->run_synchronously);
    later = true;
    dispatch_continuation(*c, queue);
  }
}

void dispatch_continuation(Continuation& c, bool force_async) noexcept {
  SynchronizationContext* ctx = c.context;
  Ambient& a = ambient();  // one lookup for the context and the depth below
  // One compare in the common case (no context captured, none current). A context captured
  // elsewhere gets the node; no captured context on a thread with a context of its own: the pool.
  if (ctx != a.sync) [[unlikely]] {
    if (ctx) {
      ctx->post(c);
      return;
    }
    if (!c.run_synchronously) {  // a completion action runs here: it resumes no method
      default_scheduler().post(c);
      return;
    }
  }
  int& depth = a.inline_depth;
  // The schedule shuffler (test builds) posts some continuations that could run inline.
  const bool shuffled = shuffle::on() && shuffle::one_in(2);
  if (force_async || depth >= k_max_inline_depth || shuffled) {
    if (ctx) {
      ctx->post(c);
    } else {
      default_scheduler().post(c);
    }
    return;
  }
  if (shuffle::on()) shuffle::preempt();
  ++depth;
  // run_continuation's fast path (the default context on this thread, none to flow), with the
  // thread's record read once after the run for both the depth and the context check.
  if (!a.ec && (!c.flow_execution_context || !c.execution_context)) {
    c.flow_execution_context = false;
    c.invoke(&c);
    Ambient& after = ambient();  // re-read: the continuation may have switched fibers
    if (after.ec) ec_set_current(nullptr);
    --after.inline_depth;
    return;
  }
  run_continuation(&c);
  --ambient().inline_depth;  // re-read: the continuation may have switched fibers
}

}  // namespace detail

void run_continuation(Continuation* c) noexcept {
  detail::ExecutionContextNode* const saved = detail::ec_current();
  if (!c->flow_execution_context) {
    if (!saved) {  // fast path: default context, nothing to flow
      c->invoke(c);
      if (detail::ec_current()) detail::ec_set_current(nullptr);
      return;
    }
    detail::EcScope restore;
    c->invoke(c);
    return;
  }
  detail::ExecutionContextNode* ec = std::exchange(c->execution_context, nullptr);
  c->flow_execution_context = false;
  if (!saved && !ec) {  // fast path: default flowing into default
    c->invoke(c);
    if (detail::ec_current()) detail::ec_set_current(nullptr);
    return;
  }
  {
    detail::EcScope restore;
    if (saved != ec) detail::ec_set_current(ec);
    c->invoke(c);
  }
  detail::ec_release(ec);
}

}  // namespace duet
