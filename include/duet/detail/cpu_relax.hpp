// duet/detail/cpu_relax.hpp — cpu_relax(): the pause instruction of a spin-wait loop.
#pragma once

namespace duet::detail {

// cpu_relax() — tells the CPU this thread is spinning (x86 `pause`: saves power and the pipeline
// flush on exit from the loop; aarch64 `yield`); nothing elsewhere.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace duet::detail
