// duet/fiber/detail/switch.hpp — the one context switch every fiber uses: Boost.Context's
// jump_fcontext, entered without a `call`.
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
#pragma once

#include <boost/context/detail/fcontext.hpp>

// Elsewhere (or with DUET_FIBER_NO_JUMP_ASM defined) jump() is a plain call of jump_fcontext.
#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(DUET_FIBER_NO_JUMP_ASM)
#define DUET_FIBER_JUMP_ASM 1
#endif

namespace duet::fiber::detail {

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

}  // namespace duet::fiber::detail
