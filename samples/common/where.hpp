// where.hpp — where(): a stable name for the calling thread's role ("the main thread", "a
// thread-pool thread", "another thread"), for samples whose output shows where a method resumed.
// Thread ids differ from run to run; roles do not. Not inlined, and opaque to the optimiser:
// pthread_self() is declared const, so inside one function two reads of the thread id may be
// merged across an await — and after the await a fiber runs on another thread (see "Fibers
// migrate" in duet/fiber/fiber.hpp).
#pragma once

#include <thread>

#include "duet/duet.hpp"

namespace samples {

// g_main_thread — the thread that ran static initialisation: main()'s.
inline const std::thread::id g_main_thread = std::this_thread::get_id();

[[gnu::noinline]] inline const char* where() {
  asm volatile("" ::: "memory");
  if (std::this_thread::get_id() == g_main_thread) return "the main thread";
  if (duet::is_thread_pool_thread()) return "a thread-pool thread";
  return "another thread";
}

}  // namespace samples
