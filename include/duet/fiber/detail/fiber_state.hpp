// duet/fiber/detail/fiber_state.hpp — the fiber control block: task state, resumption node and
// switching, in one object.
//
// Ground rules (read before changing anything here)
// -------------------------------------------------
// One object. FiberState<T, Fn> is at once the Task<T>'s shared state (it derives from
// TaskState<T>), the Continuation that resumes the fiber (through FiberBase), and the home of the
// user's function and of the fiber's result until it is published. Creating a fiber takes
// this object from a per-thread block cache (operator new when it is empty; see "Control-block
// cache" below); resuming it allocates nothing. The stack comes from the pool
// (src/fiber/stack_pool.cpp) and goes back to it the moment the fiber finishes, before its task
// is published, so a finished task pins no stack.
//
// Who runs where. The "resumer" is the code that switches into the fiber: start() (the caller of
// async()) or the continuation (run by a pool worker, a SynchronizationContext's thread, or
// inline by the completing thread). switch_in() runs on the resumer's stack, switches to the
// fiber, and regains control when the fiber either suspends or finishes:
//  * suspend: the fiber stores which awaiter to register with (register_fn_/register_arg_) and
//    switches back. The resumer — now off the fiber's stack, on its own — captures the
//    ExecutionContext and calls the awaiter's unsafe_on_completed(*this). This is the suspension
//    race resolved: the continuation becomes visible to other threads only once the fiber is
//    fully switched out, so no thread can resume a fiber that is still running (registering
//    before the switch would let a completing thread jump onto a stack still in use). It is the
//    guarantee Boost.Context's resume_with gives, obtained without the extra ontop call: the
//    fiber always suspends into its resumer, whose code after the jump is exactly "the other
//    side of the switch". After the registration call the resumer must not touch the fiber: it
//    may already run elsewhere, or be finished and freed.
//  * finish: the fiber's bottom frame (entry) makes a last jump to the resumer, passing
//    k_finished; the resumer, now off the dead stack, returns it to the pool, restores its own
//    contexts and publishes the stored result or exception, which may run continuations inline
//    — on the resumer's stack, never on the finished fiber's.
// Switching uses Boost.Context's raw fcontext layer (make_fcontext + jump_fcontext, through
// jump() below): two jumps to create and finish a fiber, one per switch, no
// ontop calls, and no return-stack-buffer pollution.
// A registration that throws faults the call, as in the state-machine styles (docs/design.md,
// "A registration that throws"): the resumer switches straight back into the fiber (it was
// never registered, so nobody else can resume it), whose await() keeps the exception as the
// call's fault and unwinds the stack with RegistrationUnwind. That type derives from nothing,
// so the method's typed catch blocks let it pass and its destructors run; a catch (...) that
// swallows it does not save the call (run_body keeps the first fault).
//
// References. A new FiberState has one, the Task's that async() returns. Until the fiber first
// suspends, nothing but that Task (still inside async()) can reach the state, so a fiber that
// finishes in its first slice completes through the core's unshared paths (plain stores, no
// atomic read-modify-write) and needs no reference of its own. At the first suspension — still
// inside async(), before the continuation is registered — the resumer adds a "running"
// reference with a plain store (share()); publish() releases it after completion. The running
// reference keeps the state alive while suspended and until the fiber finishes.
//
// Contexts. switch_in() saves the resuming thread's SynchronizationContext and C++
// exception-handling globals (the Itanium ABI __cxa_eh_globals: the chain of exceptions being
// handled and the uncaught count) before the switch and restores them after; the fiber's own EH
// globals are kept here while it is suspended. So a fiber suspended inside a catch handler can
// migrate, and nothing the fiber sets leaks to its resumer. The ExecutionContext is handled as
// for a state-machine box: captured into the Continuation at suspension, installed by
// run_continuation when it resumes, and the resumer's restored by run_continuation afterwards
// (by start()'s EcScope for the first run).
//
// Thread-local state. The running fiber is found through current_fiber(), a non-inlined
// accessor, and every thread-local the runtime uses is re-read after each switch.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/context/detail/fcontext.hpp>

#include "duet/core/continuation.hpp"
#include "duet/core/task.hpp"
#include "duet/diag/diagnostics.hpp"
#include "duet/detail/relocation.hpp"
#include "duet/diag/trace.hpp"

// Sanitizer selectors: under AddressSanitizer every switch is announced with
// __sanitizer_{start,finish}_switch_fiber (stack bounds, fake stacks); under ThreadSanitizer each
// fiber is a TSan fiber (__tsan_create_fiber / __tsan_switch_to_fiber / __tsan_destroy_fiber), so
// TSan follows a fiber that migrates between threads instead of crashing on a foreign stack. A
// switch synchronises (the default flags): the resumer's writes happen-before the fiber's code,
// and the fiber's before the resumer's code after the switch, as the jump really orders them.
#if defined(__SANITIZE_ADDRESS__)
#define DUET_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DUET_FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define DUET_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DUET_FIBER_TSAN 1
#endif
#endif
#if defined(DUET_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

// Elsewhere (or with DUET_FIBER_NO_JUMP_ASM defined) jump() is a plain call of jump_fcontext.
#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(DUET_FIBER_NO_JUMP_ASM)
#define DUET_FIBER_JUMP_ASM 1
#endif

namespace duet::fiber::detail {

// ---- the context switch ------------------------------------------------------------------
//
// Why not just call jump_fcontext? The CPU predicts every `ret` from its return stack buffer
// (RSB), which `call` pushes and `ret` pops. jump_fcontext is called (one push) but leaves by an
// indirect `jmp` into the other context (no pop). Switching to a fiber and back therefore leaves
// the fiber's push on top of the resumer's RSB, and every `ret` the resumer then makes out of
// switch_in / the continuation / run_continuation is predicted from the wrong entry and
// mispredicts (measured: about 4 mispredictions, two thirds of the cost of a suspend/resume
// round trip). jump() pushes the return address itself and jumps to jump_fcontext, so a switch
// leaves the RSB as it found it: code on both sides returns to where it was predicted to.
//
// Contract (the same as jump_fcontext's): jump(to, data) saves the current context, resumes
// `to`, and returns when someone jumps back here, yielding that side's saved context (fctx) and
// the data it passed. The callee-saved registers, MXCSR and the x87 control word survive the
// jump; everything the ABI lets a call clobber is declared clobbered.
//
// Red zone. A leaf function may keep data in the 128 bytes below %rsp without moving %rsp; the
// asm steps over that area before pushing the return address.

using fcontext_t = boost::context::detail::fcontext_t;
using transfer_t = boost::context::detail::transfer_t;

// jump(to, data) — switch to context `to`, passing `data`; returns what the side that switches
// back passes. Not thread-safe by nature: `to` must be a suspended context nobody else resumes.
inline transfer_t jump(fcontext_t to, void* data) noexcept {
#if defined(DUET_FIBER_JUMP_ASM)
  void* fctx;
  void* out;
#if defined(__AVX512F__)
  // AVX-512's extra vector and mask registers are call-clobbered too.
#define DUET_FIBER_JUMP_AVX512_CLOBBERS                                                          \
  , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",  \
      "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5", "k6", \
      "k7"
#else
#define DUET_FIBER_JUMP_AVX512_CLOBBERS
#endif
  asm volatile(
      "subq $128, %%rsp\n\t"                      // keep out of the red zone
      "leaq 1f(%%rip), %%rcx\n\t"
      "pushq %%rcx\n\t"                            // the return address jump_fcontext expects
      "jmp *jump_fcontext@GOTPCREL(%%rip)\n"       // no call: the RSB is not touched
      "1:\n\t"
      "addq $128, %%rsp\n\t"
      : "=a"(fctx), "=d"(out), "+D"(to), "+S"(data)
      :
      : "rcx", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
        "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
        "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)",
        "st(7)" DUET_FIBER_JUMP_AVX512_CLOBBERS);
#undef DUET_FIBER_JUMP_AVX512_CLOBBERS
  return transfer_t{fctx, out};
#else
  return boost::context::detail::jump_fcontext(to, data);
#endif
}


// EhGlobals — a copy of the Itanium C++ ABI's per-thread __cxa_eh_globals (the exceptions being
// handled, and the number thrown but not yet caught). Swapped on every switch (see "Contexts").
struct EhGlobals {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

// Control-block cache. FiberState objects up to k_block_max bytes (alignment at most the
// default new alignment) come from a per-thread cache of freed blocks, in k_block_granule size
// classes, instead of operator new: a block freed on one thread is reused by the next fiber
// created there. The cache keeps at most k_block_cache blocks per class; more go back to
// operator delete, as do a thread's cached blocks when it exits. Blocks are plain operator new
// memory, so any thread may free any block. Under AddressSanitizer a cached block is poisoned
// (but for its link word), so a use after free is still reported.
inline constexpr std::size_t k_block_granule = 64;
inline constexpr std::size_t k_block_max = 512;
inline constexpr std::size_t k_block_cache = 32;

// allocate_block(size) / free_block(p, size) — a block of at least `size` bytes from / back to
// the calling thread's cache. Precondition: size <= k_block_max. allocate_block throws
// std::bad_alloc. Thread-safe (per-thread state, reached through these non-inlined calls).
[[gnu::noinline]] void* allocate_block(std::size_t size);
[[gnu::noinline]] void free_block(void* p, std::size_t size) noexcept;

// RegistrationUnwind — what await() throws through a fiber whose registration failed (see "A
// registration that throws"); derives from nothing, so only catch (...) sees it.
struct RegistrationUnwind {};

// FiberBase — the non-template part of the control block: the Continuation that resumes the
// fiber, the two Boost.Context fcontext handles, and the switching code (src/fiber/fiber.cpp).
// Thread-safety: owned by whichever side currently runs the fiber (see the ground rules).

class FiberBase : public Continuation {
 public:
  FiberBase(const FiberBase&) = delete;
  FiberBase& operator=(const FiberBase&) = delete;

  // start(stack_size, guard) — maps a stack and runs the fiber until its first suspension or its
  // end. `stack_size` 0 and `guard` -1 mean the global defaults. Called once, by async(), on the
  // caller's thread. Throws ArgumentError / FiberStackError before anything ran (the Task
  // that async() holds then frees the state).
  void start(std::size_t stack_size, int guard);

  // suspend(awaiter) — from inside the fiber: switch out, have the resumer register this fiber's
  // continuation with `awaiter`, and return once resumed (on any thread). When the registration
  // threw, throws RegistrationUnwind (see the ground rules). Precondition: this is the running fiber; awaiter is not completed.
  template <class Aw>
  void suspend(Aw& awaiter) {
    register_fn_ = &register_thunk<Aw>;
    register_arg_ = std::addressof(awaiter);
    // The switch itself is inline: the fiber resumes straight into this code, without a chain
    // of returns the CPU's return predictor would miss after the stack change. It touches no
    // thread-local state.
#if defined(DUET_FIBER_ASAN)
    asan_start_switch_out();
#endif
#if defined(DUET_FIBER_TSAN)
    // Called here, not through a helper: TSan keeps a shadow call stack per fiber, and a helper
    // entered on this fiber would return on the resumer's, unbalancing both.
    __tsan_switch_to_fiber(tsan_resumer_, 0);
#endif
    DUET_DIAG_HOOK(diag_note_suspended(awaiter));
    DUET_TRACE(suspended(this, name_ ? name_ : "fiber"));
    caller_ = jump(caller_, nullptr).fctx;
#if defined(DUET_FIBER_ASAN)
    asan_finish_switch_in();
#endif
    DUET_DIAG_HOOK(duet::diagnostics::detail::note_resumed(this));
    if (register_error_) [[unlikely]] unwind_after_register_error();
  }

  // set_name(name) — FiberOptions::name: what diagnostics call this fiber (static storage).
  void set_name(const char* name) noexcept { name_ = name; }
  const char* name() const noexcept { return name_ ? name_ : "fiber"; }

  // stack_size() — the usable size of this fiber's stack.
  std::size_t stack_size() const noexcept { return stack_size_; }
  // guard_low() — the lowest address of the guard page (null when unguarded). For the overflow
  // handler.
  const void* guard_low() const noexcept { return guard_low_; }

 protected:
  explicit FiberBase(duet::detail::TaskStateBase* task) noexcept {
    this->invoke = &FiberBase::resume_thunk;
    this->owner = task;
  }
  ~FiberBase();

  // run_body() — runs the user's function on the fiber's stack and stores its result or
  // exception (into fault_). Never throws.
  virtual void run_body() noexcept = 0;
  // diag_self_key() — what an awaiter of this fiber's result names as its key (diagnostics): the
  // task state; async_value's fiber, its IValueTaskSource; a function with a diag_self_key()
  // member (an async stream's body), what that says.
  virtual const void* diag_self_key() const noexcept { return this->owner; }
  // publish() — completes the task from what run_body() stored, then releases the running
  // reference if shared_ (after which `this` may be gone).
  virtual void publish() noexcept = 0;
  // share() — adds the running reference (unshared: a plain store). Called once, by the resumer
  // at the first suspension, before the continuation is registered.
  virtual void share() noexcept = 0;

  // shared_ — the fiber has suspended at least once: other threads may hold the state, and the
  // running reference exists.
  bool shared_ = false;

  // fault_ — the exception that escaped the user's function, or the one its failed registration
  // threw (which wins: see "A registration that throws").
  std::exception_ptr fault_;

  // keep_fault() — in run_body's catch (...): records the escaping exception, unless a failed
  // registration already decided the call's fault.
  void keep_fault() noexcept {
    if (!fault_) fault_ = std::current_exception();
  }

 private:
  // diag_note_suspended(awaiter) — the registry record of this fiber suspending on `awaiter`,
  // with the return addresses of its own stack (captured here, while still running on it).
  template <class Aw>
  [[gnu::cold, gnu::noinline]] void diag_note_suspended(const Aw& awaiter) noexcept {
    duet::diagnostics::FrameRecord rec;
    rec.owner = this;
    rec.self_key = diag_self_key();
    rec.name = name_ ? name_ : "fiber";
    rec.style = duet::diagnostics::Style::fiber;
    duet::diagnostics::detail::describe_awaiter(awaiter, rec.awaited);
    if (rec.awaited.kind == duet::diagnostics::AwaitKind::parked) return;  // not an await
    duet::diagnostics::detail::capture_stack(rec, 1);
    duet::diagnostics::detail::note_suspended(rec);
  }

  template <class Aw>
  static void register_thunk(void* awaiter, Continuation& c) {
    static_cast<Aw*>(awaiter)->unsafe_on_completed(c);
  }
  static void resume_thunk(Continuation* c) noexcept;

  void switch_in() noexcept;
#if defined(DUET_FIBER_ASAN)
  void asan_start_switch_out() noexcept;
  void asan_finish_switch_in() noexcept;
#endif

  [[noreturn]] static void entry(transfer_t t) noexcept;
  [[noreturn]] void unwind_after_register_error();

  fcontext_t fiber_ = nullptr;   // the suspended fiber (stale while it runs, null after it ended)
  fcontext_t caller_ = nullptr;  // the resumer, as seen from inside the running fiber
  void (*register_fn_)(void*, Continuation&) = nullptr;  // set by suspend(), used by the resumer
  void* register_arg_ = nullptr;                         // the awaiter, on the fiber's stack
  std::exception_ptr register_error_;                    // thrown by a registration (see rules)
  EhGlobals eh_;                                         // the fiber's EH globals while switched out
  std::size_t stack_size_ = 0;
  std::uint8_t stack_kind_ = 0;  // src/fiber/stack_pool.hpp's StackKind; 0: unguarded
  void* guard_low_ = nullptr;
  void* stack_low_ = nullptr;
  const char* name_ = nullptr;  // FiberOptions::name
  // The fiber's open relocation scopes while it is switched out (a method started inside the
  // fiber suspended it mid-start): the chain is per stack, not per thread (detail/relocation.hpp).
  duet::detail::RelocationScope* relocation_chain_ = nullptr;
#if defined(DUET_FIBER_ASAN)
  void* asan_fake_stack_ = nullptr;
  const void* asan_resumer_bottom_ = nullptr;
  std::size_t asan_resumer_size_ = 0;
#endif
#if defined(DUET_FIBER_TSAN)
  void* tsan_fiber_ = nullptr;    // this fiber's TSan fiber (null before start and after the end)
  void* tsan_resumer_ = nullptr;  // the TSan fiber of the current resumer
#endif
};

// FiberState<T, Fn> — the whole control block for a fiber running Fn and producing T.
template <class T, class Fn>
class FiberState final : public duet::detail::TaskState<T>, public FiberBase {
 public:
  template <class F>
  explicit FiberState(F&& fn)
      : duet::detail::TaskState<T>(1), FiberBase(this), fn_(std::in_place, std::forward<F>(fn)) {}

  // create(fn) — a new control block (one reference), from the block cache when it fits.
  template <class F>
  static FiberState* create(F&& fn) {
    if constexpr (k_cached) {
      void* mem = allocate_block(sizeof(FiberState));
      try {
        return ::new (mem) FiberState(std::forward<F>(fn));
      } catch (...) {
        free_block(mem, sizeof(FiberState));
        throw;
      }
    } else {
      return new FiberState(std::forward<F>(fn));
    }
  }

 private:
  static constexpr bool k_cached = sizeof(FiberState<T, Fn>) <= k_block_max &&
                                   alignof(FiberState<T, Fn>) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__;

  void destroy() noexcept override {
    if constexpr (k_cached) {
      this->~FiberState();
      free_block(this, sizeof(FiberState));
    } else {
      delete this;
    }
  }

  const void* diag_self_key() const noexcept override {
    if constexpr (requires(const Fn& f) { { f.diag_self_key() } -> std::convertible_to<const void*>; }) {
      if (fn_) return fn_->diag_self_key();
    }
    return FiberBase::diag_self_key();
  }

  void run_body() noexcept override {
    try {
      if constexpr (std::is_void_v<T>) {
        (*fn_)();
      } else {
        result_.emplace((*fn_)());
      }
    } catch (...) {
      keep_fault();
    }
    fn_.reset();  // captured resources go when the function ends, not when the last Task does
  }

  void publish() noexcept override {
    if (!shared_) {  // finished in the first slice: the Task in async() is the only reference
      if (fault_) {
        this->try_complete_exception(std::move(fault_));
      } else if constexpr (std::is_void_v<T>) {
        this->complete_value_unshared();
      } else {
        try {
          this->complete_value_unshared(std::move(*result_));
        } catch (...) {
          this->try_complete_exception(std::current_exception());
        }
      }
      return;
    }
    if (fault_) {
      this->try_complete_exception(std::move(fault_));
    } else if constexpr (std::is_void_v<T>) {
      this->try_complete_value();
    } else {
      this->try_complete_value(std::move(*result_));
    }
    this->release();  // the running reference
  }

  void share() noexcept override { this->add_ref_unshared(); }

  std::optional<Fn> fn_;
  [[no_unique_address]] std::conditional_t<std::is_void_v<T>, char, std::optional<T>> result_{};
};

// current_fiber() — the fiber running on the calling thread, or null. Not inlined: a fiber that
// migrates must never reuse another thread's address.
[[gnu::noinline]] FiberBase* current_fiber() noexcept;

// throw_await_outside_fiber() — the InvalidOperationError for duet::await outside a fiber.
[[noreturn]] void throw_await_outside_fiber();

// thread_switch_count() — how many times the calling thread has switched into a fiber (tests use
// it to prove the fast path does not switch).
[[gnu::noinline]] std::uint64_t thread_switch_count() noexcept;

}  // namespace duet::fiber::detail
