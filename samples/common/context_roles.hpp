// context_roles.hpp — stable names for thread roles in the context samples (ui_context,
// deadlock, async_local). Thread ids differ from run to run; roles do not, so the samples'
// output can be compared against a golden file.
//
// Thread-safety: set_thread_role()/thread_role() act on the calling thread only. The samples
// written as explicit state machines never migrate a stack between threads, so a thread_local is
// safe here (fiber samples must not cache its address across a switch; the accessor is a
// function for that reason).
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
inline const char* thread_role() noexcept {
  if (const char* role = thread_role_slot()) return role;
  if (duet::is_thread_pool_thread()) return "pool thread";
  return "unnamed thread";
}

}  // namespace context_sample
