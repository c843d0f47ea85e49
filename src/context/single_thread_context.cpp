// single_thread_context.cpp — the message loop and the deadlock check (see the header's essay).
//
// Lifetime races. A thread that posts, completes an operation or calls complete() may be the
// last to touch the context before the owner sees the effect, returns from its pump and destroys
// the context. Every such writer therefore notifies the condition variable *while holding*
// mutex_: the owner cannot observe the change before the writer unlocks, and after unlocking the
// writer touches nothing of the context.
#include "duet/context/single_thread_context.hpp"

#include <exception>
#include <string>

#include "duet/core/errors.hpp"
#include "duet/detail/assert.hpp"
#include "duet/diag/diagnostics.hpp"

namespace duet {

namespace {

// WakeNode — run_until's completion signal: registered on the awaited task, it is posted back to
// this context (or runs inline on the owner), so the pump sees the completion in queue order.
// Two references: the registration and run_until, so either may outlive the other (run_until
// leaves early when an item throws).
struct WakeNode final : Continuation {
  std::atomic<int> refs{2};
  std::atomic<bool> done{false};

  static void fire(Continuation* c) noexcept {
    auto* self = static_cast<WakeNode*>(c);
    self->done.store(true, std::memory_order_release);
    self->release();
  }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// SendNode — send()'s request, on the sender's stack. The sender waits on `cv`; the owner
// signals under `m`, so the sender cannot return (and free the node) before the owner is done.
struct SendNode final : Continuation {
  const std::function<void()>* fn = nullptr;
  std::exception_ptr error;
  std::mutex m;
  std::condition_variable cv;
  bool done = false;

  static void run(Continuation* c) noexcept {
    auto* self = static_cast<SendNode*>(c);
    try {
      (*self->fn)();
    } catch (...) {
      self->error = std::current_exception();
    }
    std::lock_guard<std::mutex> lk(self->m);
    self->done = true;
    self->cv.notify_one();
  }
};

const char* const k_deadlock_message =
    "sync-over-async deadlock detected. This thread owns a SingleThreadContext (a "
    "UI-style loop) and is blocked in wait()/result() on a task, but that task cannot complete "
    "until a continuation queued to this same context runs -- and only this thread runs that "
    "queue. The cycle: this thread waits for the task -> the task waits for an await "
    "continuation posted to this thread's context -> the continuation waits for this thread. "
    "(.NET hangs forever here.) Fix either way: await the task instead of blocking on it (async "
    "all the way up), or use configure_await(false) on every await down the chain so its "
    "continuations do not need this context.";

// deadlock_message(task) — the message, followed by the await chain that closes the cycle when
// diagnostics are enabled (diag/diagnostics.hpp), or by how to get it.
std::string deadlock_message(const detail::TaskStateBase& task) {
  std::string m = k_deadlock_message;
  if (!diagnostics::is_enabled()) {
    return m + " To see the await chain that closes the cycle in this message, enable "
               "duet::diagnostics (diagnostics::enable() or DUET_DIAGNOSTICS=1).";
  }
  const std::string chain = diagnostics::dump_chain_of(static_cast<const void*>(&task));
  if (chain.empty()) return m + " (diagnostics: the blocked task is not a suspended method.)";
  return m + "\nThe await chain of the blocked task:\n" + chain;
}

}  // namespace

// Pump — one pumping call: binds the owner, installs this context as current for the call.
class SingleThreadContext::Pump {
 public:
  Pump(SingleThreadContext& ctx, const char* who) : scope_(&ctx) { ctx.bind_owner(who); }

 private:
  SyncContextScope scope_;
};

SingleThreadContext::SingleThreadContext() noexcept = default;

SingleThreadContext::~SingleThreadContext() {
  SyncContextScope scope(this);
  for (;;) {
    Continuation* c;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      c = pop_locked();
    }
    if (!c) break;
    try {
      run_item(c);
    } catch (...) {
      detail::report_unhandled_exception(std::current_exception());
    }
  }
}

void SingleThreadContext::bind_owner(const char* who) {
  const std::thread::id me = std::this_thread::get_id();
  std::thread::id expected{};
  if (owner_.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) return;
  if (expected == me) return;
  throw InvalidOperationError(
      std::string("SingleThreadContext::") + who +
      ": this context is already pumped by another thread. A SingleThreadContext belongs to the "
      "one thread that first pumps it (the seeds' UI thread); post() work to it from other "
      "threads instead of pumping it there");
}

void SingleThreadContext::post(Continuation& c) noexcept {
  c.next = nullptr;
  std::lock_guard<std::mutex> lk(mutex_);
  if (tail_) {
    tail_->next = &c;
  } else {
    head_ = &c;
  }
  tail_ = &c;
  ++count_;
  if (blocked_on_ && !deadlock_.load(std::memory_order_relaxed) && note_needed_locked(c)) {
    deadlock_.store(true, std::memory_order_release);
    blocked_on_->poke_waiters();
  }
  cv_.notify_all();  // under the lock: see "Lifetime races"
}

Continuation* SingleThreadContext::pop_locked() noexcept {
  Continuation* c = head_;
  if (!c) return nullptr;
  head_ = c->next;
  if (!head_) tail_ = nullptr;
  c->next = nullptr;
  --count_;
  return c;
}

void SingleThreadContext::run_item(Continuation* c) {
  std::exception_ptr escaped;
  {
    detail::PostedExceptionSink sink(&escaped);
    run_continuation(c);
  }
  if (escaped) std::rethrow_exception(escaped);
}

bool SingleThreadContext::run_one() {
  Pump pump(*this, "run_one");
  Continuation* c;
  {
    std::lock_guard<std::mutex> lk(mutex_);
    c = pop_locked();
  }
  if (!c) return false;
  run_item(c);
  return true;
}

std::size_t SingleThreadContext::run_until_empty() {
  Pump pump(*this, "run_until_empty");
  std::size_t ran = 0;
  for (;;) {
    Continuation* c;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      c = pop_locked();
    }
    if (!c) return ran;
    ++ran;
    run_item(c);
  }
}

template <class KeepGoing>
void SingleThreadContext::pump_while(KeepGoing keep_going) {
  for (;;) {
    Continuation* c;
    {
      std::unique_lock<std::mutex> lk(mutex_);
      cv_.wait(lk, [&] { return head_ != nullptr || !keep_going(); });
      if (!head_) return;  // keep_going() turned false and nothing is queued
      c = pop_locked();
    }
    run_item(c);
    {
      std::lock_guard<std::mutex> lk(mutex_);
      if (!keep_going() && !head_) return;
    }
  }
}

void SingleThreadContext::run_until_state(detail::TaskStateBase& task) {
  Pump pump(*this, "run_until");
  if (task.is_completed()) return;
  auto* wake = new WakeNode;
  wake->invoke = &WakeNode::fire;
  wake->context = this;
  struct Release {
    WakeNode* w;
    ~Release() { w->release(); }
  } release{wake};
  task.add_continuation(*wake);
  for (;;) {
    if (wake->done.load(std::memory_order_acquire)) return;
    Continuation* c;
    {
      std::unique_lock<std::mutex> lk(mutex_);
      cv_.wait(lk, [&] { return head_ != nullptr; });
      c = pop_locked();
    }
    run_item(c);
  }
}

void SingleThreadContext::run() {
  Pump pump(*this, "run");
  pump_while([this] { return !completed_; });
}

void SingleThreadContext::complete() noexcept {
  std::lock_guard<std::mutex> lk(mutex_);
  completed_ = true;
  cv_.notify_all();
}

void SingleThreadContext::run_until_operations_complete() {
  Pump pump(*this, "run_until_operations_complete");
  pump_while([this] { return operations_.load(std::memory_order_acquire) != 0; });
}

void SingleThreadContext::operation_started() noexcept {
  operations_.fetch_add(1, std::memory_order_acq_rel);
}

void SingleThreadContext::operation_completed() noexcept {
  std::lock_guard<std::mutex> lk(mutex_);
  const long before = operations_.fetch_sub(1, std::memory_order_acq_rel);
  DUET_ASSERT(before > 0, "SingleThreadContext::operation_completed without operation_started");
  if (before == 1) cv_.notify_all();  // under the lock: see "Lifetime races"
}

std::size_t SingleThreadContext::pending_count() const noexcept {
  std::lock_guard<std::mutex> lk(mutex_);
  return count_;
}

bool SingleThreadContext::is_owner_blocked() const noexcept {
  std::lock_guard<std::mutex> lk(mutex_);
  return blocked_on_ != nullptr;
}

void SingleThreadContext::send(const std::function<void()>& fn) {
  const std::thread::id owner = owner_.load(std::memory_order_acquire);
  if (owner == std::this_thread::get_id() ||
      (owner == std::thread::id{} && SynchronizationContext::current() == this)) {
    fn();
    return;
  }
  SendNode node;
  node.invoke = &SendNode::run;
  node.fn = &fn;
  post(node);
  std::unique_lock<std::mutex> lk(node.m);
  node.cv.wait(lk, [&] { return node.done; });
  if (node.error) std::rethrow_exception(node.error);
}

bool SingleThreadContext::needs_before(const Continuation& c,
                                       const detail::TaskStateBase& target) const noexcept {
  // Depth-first over owner -> continuation stack -> owner (see "Why walking the chain is safe").
  constexpr int k_stack = 64;
  const detail::TaskStateBase* stack[k_stack];
  int top = 0;
  int budget = k_deadlock_walk_budget;
  if (!c.owner) return false;
  stack[top++] = c.owner;
  while (top > 0) {
    const detail::TaskStateBase* t = stack[--top];
    if (t == &target) return true;
    if (--budget == 0) return false;
    const Continuation* n = t->continuation_head();
    if (n == detail::TaskStateBase::completed_sentinel()) continue;
    for (; n; n = n->next) {
      if (!n->owner) continue;
      if (top == k_stack) return false;  // too wide to follow: do not diagnose
      stack[top++] = n->owner;
    }
  }
  return false;
}

void SingleThreadContext::blocking_wait(detail::TaskStateBase& task) {
  detail::TaskStateBase* const one = &task;
  block_on(task, &one, 1);
}

void SingleThreadContext::blocking_wait_any(detail::TaskStateBase& latch,
                                            const std::vector<detail::TaskStateBase*>& tasks) {
  if (tasks.size() > 64) {  // beyond what needed_ can mark: not diagnosed
    latch.wait_blocking();
    return;
  }
  block_on(latch, tasks.data(), tasks.size());
}

bool SingleThreadContext::note_needed_locked(const Continuation& c) noexcept {
  for (std::size_t i = 0; i < blocked_count_; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (!(needed_ & bit) && needs_before(c, *blocked_tasks_[i])) needed_ |= bit;
  }
  const std::uint64_t all = blocked_count_ == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << blocked_count_) - 1;
  return needed_ == all;
}

void SingleThreadContext::block_on(detail::TaskStateBase& poke, detail::TaskStateBase* const* tasks,
                                   std::size_t n) {
  if (!is_owner_thread()) {
    std::thread::id expected{};
    // A thread that has this context current and blocks before anyone pumped it is the one that
    // would pump it: it becomes the owner.
    if (!owner_.compare_exchange_strong(expected, std::this_thread::get_id(),
                                        std::memory_order_acq_rel)) {
      poke.wait_blocking();
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lk(mutex_);
    DUET_ASSERT(blocked_on_ == nullptr, "the owning thread blocked twice at once");
    blocked_on_ = &poke;
    blocked_tasks_ = tasks;
    blocked_count_ = n;
    needed_ = 0;
    deadlock_.store(false, std::memory_order_relaxed);
    for (const Continuation* c = head_; c; c = c->next) {
      if (note_needed_locked(*c)) {
        deadlock_.store(true, std::memory_order_relaxed);
        break;
      }
    }
  }
  if (!deadlock_.load(std::memory_order_relaxed)) {
    poke.wait_blocking([this] { return deadlock_.load(std::memory_order_acquire); });
  }
  bool deadlocked;
  {
    std::lock_guard<std::mutex> lk(mutex_);
    blocked_on_ = nullptr;
    blocked_tasks_ = nullptr;
    blocked_count_ = 0;
    deadlocked = deadlock_.exchange(false, std::memory_order_relaxed);
  }
  // The chain dumped is the first awaited task's (for wait_any, every one of them is needed).
  if (deadlocked && !poke.is_completed()) throw DeadlockError(deadlock_message(*tasks[0]));
}

}  // namespace duet
