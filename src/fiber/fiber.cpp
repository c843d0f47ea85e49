// fiber.cpp — switching into and out of fibers, the options, and the stack-overflow report.
//
// Read the ground rules in include/duet/fiber/detail/fiber_state.hpp first. This file adds:
//
// Per-thread state. ThreadFiberState (the running fiber, the address of the thread's C++ EH
// globals, a switch counter) is a constant-initialised thread_local, so the SIGSEGV handler
// may read it. Code that runs on a fiber reaches it only through current_fiber() and
// thread_switch_count(), which are not inlined: after a switch the fiber may be on another
// thread, and a cached TLS address would be the old thread's. switch_in() runs on the resumer's
// side, which never changes thread, and reads it directly.
//
// Overflow report. The first start() installs a SIGSEGV/SIGBUS handler (SA_ONSTACK). Each thread
// that switches into a fiber gets an alternate signal stack on its first switch, unless it
// already has one (a sanitizer's, for instance), because the handler cannot run on the stack
// that just overflowed. The handler reports a fault in (or just below) the running fiber's guard
// page and aborts; any other fault is passed to the previous handler, or re-raised with the
// default action.
#include "duet/fiber/fiber.hpp"

#include <cxxabi.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#if defined(DUET_FIBER_TSAN)
#include <iterator>
#include <mutex>
#endif


#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/detail/fault_point.hpp"
#include "duet/diag/trace.hpp"
#include "stack_pool.hpp"

#if defined(DUET_FIBER_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace duet::fiber {

namespace detail {
namespace {

struct ThreadFiberState {
  FiberBase* current;        // the fiber running on this thread, or null
  EhGlobals* eh;             // this thread's __cxa_eh_globals; null until its first switch
  std::uint64_t switches;    // switches into fibers made by this thread
};
constinit thread_local ThreadFiberState t_state{nullptr, nullptr, 0};

// k_finished — what a fiber's last jump passes to its resumer (a suspension passes null).
char k_finished;

// ---- control-block cache (see fiber_state.hpp) --------------------------------------------

constexpr std::size_t k_block_classes = k_block_max / k_block_granule;

// BlockCache — a thread's free blocks: one intrusive LIFO per size class. Trivially destructible,
// so it stays usable while the thread exits; BlockCacheDrain empties it then and marks it dead
// (later frees go straight to operator delete).
struct BlockCache {
  void* head[k_block_classes];
  std::uint32_t count[k_block_classes];
  bool drain_registered;
  bool dead;
};
constinit thread_local BlockCache t_blocks{};

void drain(BlockCache& bc) noexcept {
  for (std::size_t c = 0; c < k_block_classes; ++c) {
    while (void* p = bc.head[c]) {
      bc.head[c] = *static_cast<void**>(p);
#if defined(DUET_FIBER_ASAN)
      __asan_unpoison_memory_region(p, (c + 1) * k_block_granule);
#endif
      ::operator delete(p);
    }
    bc.count[c] = 0;
  }
}

struct BlockCacheDrain {
  BlockCacheDrain() = default;
  BlockCacheDrain(const BlockCacheDrain&) = delete;
  BlockCacheDrain& operator=(const BlockCacheDrain&) = delete;
  ~BlockCacheDrain() {
    t_blocks.dead = true;
    drain(t_blocks);
  }
};

[[gnu::noinline]] void register_block_drain(BlockCache& bc) noexcept {
  bc.drain_registered = true;
  thread_local BlockCacheDrain drainer;
  (void)drainer;
}

std::atomic<std::size_t> g_default_stack_size{k_default_stack_size};
std::atomic<bool> g_default_guard{true};

// eh_globals() — the calling thread's __cxa_eh_globals (Itanium C++ ABI 2.2.2: a pointer to the
// chain of caught exceptions, then the uncaught count).
EhGlobals* eh_globals() noexcept { return reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals()); }

// ---- alternate signal stack --------------------------------------------------------------

constexpr std::size_t k_altstack_size = 64 * 1024;

// AltStack — the alternate signal stack this thread mapped; removed when the thread exits.
struct AltStack {
  void* mem = nullptr;
  AltStack() = default;
  AltStack(const AltStack&) = delete;
  AltStack& operator=(const AltStack&) = delete;
  ~AltStack() {
    if (!mem) return;
    stack_t cur{};
    if (::sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == mem) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
    ::munmap(mem, k_altstack_size);
  }
};

// first_switch_on_thread(ts) — per-thread set-up, once: the EH globals' address and an
// alternate signal stack.
[[gnu::noinline]] void first_switch_on_thread(ThreadFiberState& ts) noexcept {
  ts.eh = eh_globals();
  stack_t cur{};
  if (::sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;  // one exists
  thread_local AltStack alt;
  void* mem = ::mmap(nullptr, k_altstack_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mem == MAP_FAILED) return;  // no report on overflow then, but nothing else breaks
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = k_altstack_size;
  ss.ss_flags = 0;
  if (::sigaltstack(&ss, nullptr) != 0) {
    ::munmap(mem, k_altstack_size);
    return;
  }
  alt.mem = mem;
}

// ---- the fault handler (async-signal-safe code only) ------------------------------------

struct sigaction g_old_segv;
struct sigaction g_old_bus;

// Appender — builds the report in a fixed buffer without allocating.
struct Appender {
  char buf[1024];
  std::size_t len = 0;
  void str(const char* s) noexcept {
    while (*s && len < sizeof(buf)) buf[len++] = *s++;
  }
  void dec(std::size_t v) noexcept {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v && n < 24);
    while (n && len < sizeof(buf)) buf[len++] = tmp[--n];
  }
  void hex(std::uintptr_t v) noexcept {
    str("0x");
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v && n < 20);
    while (n && len < sizeof(buf)) buf[len++] = tmp[--n];
  }
};

[[noreturn]] void report_overflow(const FiberBase& f, std::uintptr_t addr) noexcept {
  static Appender a;  // static: the alternate stack is small
  a.len = 0;
  a.str("duet: fatal: fiber stack overflow: a fiber ran past the end of its ");
  a.dec(f.stack_size());
  a.str("-byte stack (fault at ");
  a.hex(addr);
  a.str(", in or just below its guard page). Give this fiber a larger stack with "
        "duet::fiber::async(fn, duet::fiber::FiberOptions{}.with_stack_size(N)), or raise the default for every fiber with "
        "duet::fiber::set_default_stack_size(N) (now ");
  a.dec(g_default_stack_size.load(std::memory_order_relaxed));
  a.str(" bytes).\n");
  std::size_t off = 0;
  while (off < a.len) {
    const ssize_t w = ::write(STDERR_FILENO, a.buf + off, a.len - off);
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGABRT, &dfl, nullptr);
  std::abort();
}

void chain(int sig, siginfo_t* info, void* uc) noexcept {
  const struct sigaction& old = sig == SIGSEGV ? g_old_segv : g_old_bus;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) {
      old.sa_sigaction(sig, info, uc);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: reinstall it and return; the faulting instruction faults again.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
}

void on_fault(int sig, siginfo_t* info, void* uc) noexcept {
  const FiberBase* f = t_state.current;
  if (f && f->guard_low()) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const auto guard = reinterpret_cast<std::uintptr_t>(f->guard_low());
    // "Just below": a frame bigger than the guard page can step over it.
    constexpr std::uintptr_t k_slack = 64 * 1024;
    if (addr + k_slack >= guard && addr < guard + page_size()) report_overflow(*f, addr);
  }
  chain(sig, info, uc);
}

bool install_fault_handler() noexcept {
  struct sigaction sa {};
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, &g_old_segv);
  ::sigaction(SIGBUS, &sa, &g_old_bus);
  return true;
}

std::size_t round_to_pages(std::size_t n) noexcept {
  const std::size_t page = page_size();  // a power of two
  return (n + page - 1) & ~(page - 1);
}

void check_stack_size(std::size_t bytes, const char* who) {
  if (bytes < k_min_stack_size || bytes > k_max_stack_size) {
    throw ArgumentError(std::string(who) + ": a fiber stack size must lie in [" +
                        std::to_string(k_min_stack_size) + ", " + std::to_string(k_max_stack_size) +
                        "] bytes; got " + std::to_string(bytes));
  }
}

#if defined(DUET_FIBER_TSAN)
// TSan fibers are recycled. __tsan_create_fiber costs tens of milliseconds in the TSan runtime of
// g++ 12 / clang 14 (it builds a whole thread state; measured 20-30 ms against 1 us for a switch),
// which made a test of 20 000 short fibers take minutes. A finished fiber's TSan fiber goes to this
// list and the next fiber takes it. No race is hidden by the reuse: the next fiber starts after the
// list's mutex, which orders it after everything the finished one did, as a pool thread running
// one work item after another.
// (A fiber abandoned unfinished is destroyed, not recycled: its TSan state may hold its locks.)
// A fixed array: it never allocates (so taking a fiber cannot throw after the stack is taken) and
// is trivially destructible (fibers may finish during static destruction).
struct TsanFiberCache {
  std::mutex mutex;
  std::size_t count = 0;
  void* fibers[4096];
};
TsanFiberCache g_tsan_fibers;

void* tsan_fiber_acquire() noexcept {
  {
    std::lock_guard<std::mutex> lock(g_tsan_fibers.mutex);
    if (g_tsan_fibers.count != 0) return g_tsan_fibers.fibers[--g_tsan_fibers.count];
  }
  return __tsan_create_fiber(0);
}

void tsan_fiber_release(void* f) noexcept {
  {
    std::lock_guard<std::mutex> lock(g_tsan_fibers.mutex);
    if (g_tsan_fibers.count != std::size(g_tsan_fibers.fibers)) {
      g_tsan_fibers.fibers[g_tsan_fibers.count++] = f;
      return;
    }
  }
  __tsan_destroy_fiber(f);
}
#endif

}  // namespace

FiberBase* current_fiber() noexcept { return t_state.current; }  // itself never inlined

void* allocate_block(std::size_t size) {
  DUET_ASSERT(size != 0 && size <= k_block_max, "allocate_block: size out of range");
  const std::size_t c = (size - 1) / k_block_granule;
  BlockCache& bc = t_blocks;
  if (void* p = bc.head[c]) {
    // A cached block is an allocation too: out-of-memory injection counts it (fault_point.hpp).
    if (duet::detail::fault_point(duet::detail::FaultSite::fiber_control_block)) [[unlikely]] {
      throw std::bad_alloc();
    }
    bc.head[c] = *static_cast<void**>(p);
    --bc.count[c];
#if defined(DUET_FIBER_ASAN)
    __asan_unpoison_memory_region(p, (c + 1) * k_block_granule);
#endif
    return p;
  }
  return ::operator new((c + 1) * k_block_granule);
}

void free_block(void* p, std::size_t size) noexcept {
  const std::size_t c = (size - 1) / k_block_granule;
  BlockCache& bc = t_blocks;
  if (bc.count[c] < k_block_cache && !bc.dead) [[likely]] {
    if (!bc.drain_registered) [[unlikely]] register_block_drain(bc);
    *static_cast<void**>(p) = bc.head[c];
    bc.head[c] = p;
    ++bc.count[c];
#if defined(DUET_FIBER_ASAN)
    // A cached block is dead memory: everything but the link traps a use after free.
    __asan_poison_memory_region(static_cast<char*>(p) + sizeof(void*),
                                (c + 1) * k_block_granule - sizeof(void*));
#endif
    return;
  }
  ::operator delete(p);
}

std::uint64_t thread_switch_count() noexcept { return t_state.switches; }

void throw_await_outside_fiber() {
  throw InvalidOperationError(
      "duet::await was called outside a fiber: it suspends the running fiber, and this code does "
      "not run on one. Put the code in duet::fiber::async(fn) and await inside fn, or block on "
      "the task with task.wait() / task.result() instead (never on a thread whose "
      "SynchronizationContext the task needs to finish).");
}

FiberBase::~FiberBase() {
#if defined(DUET_FIBER_TSAN)
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);  // started, never finished
#endif
  duet::detail::ec_release(execution_context);
}

void FiberBase::resume_thunk(Continuation* c) noexcept { static_cast<FiberBase*>(c)->switch_in(); }

void FiberBase::start(std::size_t stack_size, int guard) {
  // Throws before anything ran; the Task in async() owns the only reference and frees the state.
  {
    std::size_t size = stack_size;
    if (size == 0) {
      size = g_default_stack_size.load(std::memory_order_relaxed);
    } else {
      check_stack_size(size, "duet::fiber::async (FiberOptions::stack_size)");
    }
    size = round_to_pages(size);
    const bool guarded = guard < 0 ? g_default_guard.load(std::memory_order_relaxed) : guard != 0;
    const StackKind kind = guarded ? guard_kind() : StackKind::unguarded;
    const boost::context::stack_context sctx = StackPool::acquire(size, kind);
    stack_size_ = sctx.size;
    stack_kind_ = static_cast<std::uint8_t>(kind);
    stack_low_ = static_cast<char*>(sctx.sp) - sctx.size;
    guard_low_ = guarded ? static_cast<char*>(stack_low_) - page_size() : nullptr;
    fiber_ = boost::context::detail::make_fcontext(sctx.sp, sctx.size, &FiberBase::entry);
#if defined(DUET_FIBER_TSAN)
    tsan_fiber_ = tsan_fiber_acquire();
#endif
  }
  static const bool handler_installed = install_fault_handler();
  (void)handler_installed;
  // Run to the first suspension, then give the caller back its ExecutionContext (switch_in
  // restores the SynchronizationContext; on later resumptions run_continuation restores the
  // ExecutionContext).
  duet::detail::EcScope restore;
  switch_in();
}

// entry(t) — the bottom frame of every fiber: t.data is the FiberBase, t.fctx its first resumer.
// It never returns: the last jump hands the resumer k_finished, and the resumer gives the stack
// back to the pool. Nothing with a destructor is alive in this frame at that jump.
void FiberBase::entry(transfer_t t) noexcept {
  auto* const self = static_cast<FiberBase*>(t.data);
  self->caller_ = t.fctx;
#if defined(DUET_FIBER_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &self->asan_resumer_bottom_, &self->asan_resumer_size_);
#endif
  self->run_body();
#if defined(DUET_FIBER_ASAN)
  __sanitizer_start_switch_fiber(nullptr, self->asan_resumer_bottom_, self->asan_resumer_size_);
#endif
#if defined(DUET_FIBER_TSAN)
  __tsan_switch_to_fiber(self->tsan_resumer_, 0);  // the resumer recycles this TSan fiber
#endif
  jump(self->caller_, &k_finished);
  __builtin_unreachable();  // nobody resumes a finished fiber
}

#if defined(DUET_FIBER_ASAN)
void FiberBase::asan_start_switch_out() noexcept {
  __sanitizer_start_switch_fiber(&asan_fake_stack_, asan_resumer_bottom_, asan_resumer_size_);
}
void FiberBase::asan_finish_switch_in() noexcept {
  __sanitizer_finish_switch_fiber(asan_fake_stack_, &asan_resumer_bottom_, &asan_resumer_size_);
}
#endif

void FiberBase::unwind_after_register_error() {
  fault_ = std::exchange(register_error_, nullptr);
  throw RegistrationUnwind{};
}

void FiberBase::switch_in() noexcept {
  // The resumer's side of the switch never leaves its thread, so the TLS address computed here
  // stays valid after the fiber switches back.
  ThreadFiberState& ts = t_state;
  if (ts.eh == nullptr) [[unlikely]] first_switch_on_thread(ts);
  ++ts.switches;
  FiberBase* const prev = ts.current;
  SynchronizationContext* const saved_sc = duet::detail::current_sync_context();
  EhGlobals* const eh = ts.eh;
  const EhGlobals thread_eh = *eh;
  // Relocation scopes are per stack: the fiber runs with its own chain, the resumer gets its own
  // back (detail/relocation.hpp). Only in a program that opens scopes at all.
  duet::detail::RelocationScope** const scopes =
      duet::detail::relocation_enabled() ? &duet::detail::relocation_chain_slot() : nullptr;
  duet::detail::RelocationScope* const thread_scopes = scopes ? *scopes : nullptr;

  bool finished = false;
  for (;;) {
    *eh = eh_;
    ts.current = this;
    if (scopes) *scopes = relocation_chain_;
#if defined(DUET_FIBER_ASAN)
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, stack_low_, stack_size_);
#endif
#if defined(DUET_FIBER_TSAN)
    tsan_resumer_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
    DUET_TRACE(resumed(this, name()));
    const transfer_t back = jump(fiber_, this);
    DUET_TRACE(end());
#if defined(DUET_FIBER_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    ts.current = prev;
    eh_ = *eh;
    *eh = thread_eh;
    if (scopes) {
      relocation_chain_ = *scopes;
      *scopes = thread_scopes;
    }
    if (back.data == &k_finished) {  // the fiber ended: its stack goes back to the pool
      fiber_ = nullptr;
#if defined(DUET_FIBER_TSAN)
      tsan_fiber_release(std::exchange(tsan_fiber_, nullptr));
#endif
      boost::context::stack_context sctx;
      sctx.sp = static_cast<char*>(stack_low_) + stack_size_;
      sctx.size = stack_size_;
      StackPool::release(sctx, static_cast<StackKind>(stack_kind_));
      finished = true;
      break;
    }
    // Suspended: the other side of the switch. The fiber's SynchronizationContext and
    // ExecutionContext are still installed, so the awaiter and the capture see the fiber's.
    fiber_ = back.fctx;
    if (!shared_) [[unlikely]] {  // first suspension: still inside async(), nothing registered
      shared_ = true;
      share();
    }
    duet::detail::capture_execution_context(*this);
    try {
      register_fn_(register_arg_, *this);
      break;  // from here on `this` belongs to whoever resumes it
    } catch (...) {
      register_error_ = std::current_exception();  // resume at once; await() unwinds
    }
  }

  // The resumer's SynchronizationContext comes back here; its ExecutionContext is restored by
  // whoever called us (run_continuation, or start()'s EcScope), as for a state-machine box.
  if (duet::detail::current_sync_context() != saved_sc) {
    duet::detail::set_current_sync_context(saved_sc);
  }
  if (finished) publish();
}

}  // namespace detail

void set_default_stack_size(std::size_t bytes) {
  detail::check_stack_size(bytes, "duet::fiber::set_default_stack_size");
  detail::g_default_stack_size.store(bytes, std::memory_order_relaxed);
}

std::size_t default_stack_size() noexcept {
  return detail::g_default_stack_size.load(std::memory_order_relaxed);
}

void set_default_guard_page(bool on) noexcept {
  detail::g_default_guard.store(on, std::memory_order_relaxed);
}

bool default_guard_page() noexcept { return detail::g_default_guard.load(std::memory_order_relaxed); }

bool in_fiber() noexcept { return detail::current_fiber() != nullptr; }

std::size_t current_stack_size() noexcept {
  const detail::FiberBase* f = detail::current_fiber();
  return f ? f->stack_size() : 0;
}

// Both are opaque to the optimiser: out of line, and the asm barrier keeps even a whole-program
// (LTO) optimiser from inferring them const and merging two calls across an await.
std::thread::id current_thread_id() noexcept {
  asm volatile("" ::: "memory");
  return std::this_thread::get_id();
}

std::uint64_t switch_count() noexcept {
  asm volatile("" ::: "memory");
  return detail::thread_switch_count();
}

}  // namespace duet::fiber
