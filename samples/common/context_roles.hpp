// context_roles.hpp — stable names for thread roles in the context samples (ui_context,
// deadlock, async_local). Thread ids differ from run to run; roles do not, so the samples'
// output can be compared against a golden file.
//
// Thread-safety: set_thread_role()/thread_role() act on the calling thread only. A fiber may
// resume on another thread after an await, so code on a fiber must not keep the address of a
// thread_local across one (see "Fibers migrate" in duet/fiber/fiber.hpp): thread_role() is a
// call the optimiser cannot see through, so each call reads the slot of the thread it runs on.
#pragma once

#include "duet/duet.hpp"

namespace context_sample {

// thread_role_slot() — the calling thread's role name, or null.
inline const char*& thread_role_slot() noexcept {
  thread_local const char* role = nullptr;
  return role;
}

// set_thread_role(role) — names the calling thread ("ui thread", "main thread").
inline void set_thread_role(const char* role) noexcept { thread_role_slot() = role; }

// thread_role() — the calling thread's role: the name it was given, else "pool thread" on a
// duet::default_scheduler() worker, else "unnamed thread".
[[gnu::noinline]] inline const char* thread_role() noexcept {
  asm volatile("" ::: "memory");
  if (const char* role = thread_role_slot()) return role;
  if (duet::is_thread_pool_thread()) return "pool thread";
  return "unnamed thread";
}

}  // namespace context_sample
