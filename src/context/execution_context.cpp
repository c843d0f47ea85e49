// execution_context.cpp — the thread's current ExecutionContext, the copy-on-write map, flow
// suppression and AsyncLocal change notifications.
//
// Reentrancy. A change callback may itself call set_value() or switch contexts, which replaces
// the thread's current map and could free the maps being compared. ec_notify_changes therefore
// holds a reference to both maps for the whole walk.
#include "duet/execution_context.hpp"

#include <atomic>
#include <cstring>

#include "duet/detail/execution_context_node.hpp"
#include "duet/errors.hpp"

namespace duet {
namespace detail {

namespace {
struct ThreadEc {
  ExecutionContextNode* current = nullptr;  // one reference owned
  bool flow_suppressed = false;
};
// thread_ec() — the calling thread's record. Not inlined: a migrating fiber must never keep
// another thread's address (DESIGN.md, "Threads, memory, errors").
[[gnu::noinline]] ThreadEc& thread_ec() noexcept {
  thread_local ThreadEc t;
  return t;
}

std::atomic<std::uint64_t> g_next_local_id{1};

void box_add_ref(EcBox* b) noexcept { b->refs.fetch_add(1, std::memory_order_relaxed); }

void destroy_node(ExecutionContextNode* n) noexcept {
  const EcEntry* e = n->entries();
  for (std::uint32_t i = 0; i < n->size; ++i) {
    if (e[i].boxed) ec_box_release(e[i].box());
  }
  n->~ExecutionContextNode();
  ::operator delete(static_cast<void*>(n));
}
}  // namespace

AsyncLocalBase::AsyncLocalBase() noexcept
    : id_(g_next_local_id.fetch_add(1, std::memory_order_relaxed)) {}

void ec_box_release(EcBox* b) noexcept {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete b;
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

void ec_add_ref(ExecutionContextNode* n) noexcept {
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
}

void ec_release(ExecutionContextNode* n) noexcept {
  if (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_node(n);
}

ExecutionContextNode* ec_current() noexcept { return thread_ec().current; }

void ec_set_current(ExecutionContextNode* n) noexcept {
  ThreadEc& t = thread_ec();
  ExecutionContextNode* old = t.current;
  if (old == n) return;
  ec_add_ref(n);
  t.current = n;
  ec_notify_changes(old, n);
  ec_release(old);
}

void ec_adopt_current(ExecutionContextNode* n) noexcept {
  ThreadEc& t = thread_ec();
  ExecutionContextNode* old = std::exchange(t.current, n);
  ec_release(old);
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

bool ec_flow_suppressed() noexcept { return thread_ec().flow_suppressed; }

void report_change_handler_threw(std::exception_ptr e) noexcept {
  std::exception_ptr named;
  try {
    named = std::make_exception_ptr(InvalidOperationError(
        "an AsyncLocal change handler threw during an ExecutionContext switch: no caller can "
        "receive it there, so a change handler must not throw when the thread's context changes "
        "(catch inside the handler). This local's switch notifications are now off. The "
        "handler threw: " + describe(e)));
  } catch (...) {
    named = std::current_exception();  // out of memory: report the std::bad_alloc
  }
  report_unhandled_exception(std::move(named));
}

}  // namespace detail

void ExecutionContext::throw_run_null() {
  throw InvalidOperationError(
      "ExecutionContext::run: the context is null (it was captured while flow was suppressed); "
      "capture it while flow is not suppressed, or call the function directly");
}

ExecutionContext::AsyncFlowControl ExecutionContext::suppress_flow() {
  auto& t = detail::thread_ec();
  if (t.flow_suppressed) {
    throw InvalidOperationError(
        "ExecutionContext::suppress_flow: flow is already suppressed on this thread; call "
        "restore_flow() (or let the AsyncFlowControl go out of scope) before suppressing again");
  }
  t.flow_suppressed = true;
  return AsyncFlowControl();
}

void ExecutionContext::restore_flow() {
  auto& t = detail::thread_ec();
  if (!t.flow_suppressed) {
    throw InvalidOperationError(
        "ExecutionContext::restore_flow: flow is not suppressed on this thread; call it only "
        "after suppress_flow()");
  }
  t.flow_suppressed = false;
}

ExecutionContext::AsyncFlowControl::~AsyncFlowControl() {
  if (active_) detail::thread_ec().flow_suppressed = false;
}

void ExecutionContext::AsyncFlowControl::undo() {
  if (!active_) {
    throw InvalidOperationError("AsyncFlowControl::undo: flow was already restored by this guard");
  }
  active_ = false;
  ExecutionContext::restore_flow();
}

}  // namespace duet
