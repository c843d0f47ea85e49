// tests/semantic/context_styles.hpp — the context-flow half of the semantic suite: AsyncLocal and
// SynchronizationContext scenarios that every style must pass, kept apart from styles.hpp so the
// two halves grow independently (a style adds style_<name>.cpp for styles.hpp and
// context_<name>.cpp for this file; tests/semantic/meson.build links whichever exist).
//
// test_context_styles.cpp runs every scenario once per registered ContextStyle, and checks that
// every registered Style (styles.hpp) has a ContextStyle of the same name — so a style cannot
// silently skip these scenarios.
//
// Each scenario is described in C#; every style must implement exactly that method.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

namespace styles {

// ResumePoint — where a method ran before and after one await: the thread and the current
// SynchronizationContext (null when none is installed).
struct ResumePoint {
  std::thread::id thread_before;
  duet::SynchronizationContext* context_before = nullptr;
  std::thread::id thread_after;
  duet::SynchronizationContext* context_after = nullptr;
};

// thread_id_now() — the calling thread's id, for ResumePoint. Read through this opaque function
// in every style: std::this_thread::get_id() is pthread_self(), which glibc declares
// __attribute__((const)), so inside one function the compiler may reuse the id it read before a
// fiber switch — after which the fiber may run on another thread (the fiber style's rule: never
// cache thread-local state across a switch). The volatile asm makes the function impure, so
// each call really reads the id.
[[gnu::noinline]] inline std::thread::id thread_id_now() noexcept {
  std::thread::id id = std::this_thread::get_id();
  asm volatile("" : "+m"(id));
  return id;
}

// ContextStyle — one implementation of every context scenario.
struct ContextStyle {
  const char* name;  // the name of the style's Style (styles.hpp)

  // async Task<string> LocalFlowsAcrossAwait(AsyncLocal<string> local, Task gate) {
  //   string seen = local.Value;          // the caller's value flows in
  //   local.Value = seen + "+callee";     // a change the caller must never see
  //   await gate;                         // may resume on another thread
  //   return seen + "|" + local.Value; }  // the method's own value survived the await
  duet::Task<std::string> (*local_flows_across_await)(duet::AsyncLocal<std::string>& local,
                                                      duet::Task<> gate);

  // async Task<string> ChildIsolation(AsyncLocal<string> local, Task gate) {
  //   local.Value = "parent";
  //   string child = await Child(local, gate);
  //   return child + "|" + local.Value; }          // "child|parent": the child's set stayed there
  // async Task<string> Child(AsyncLocal<string> local, Task gate) {
  //   string seen = local.Value; local.Value = "child"; await gate;
  //   return seen + ">" + local.Value; }           // "parent>child"
  duet::Task<std::string> (*child_isolation)(duet::AsyncLocal<std::string>& local, duet::Task<> gate);

  // async Task<ResumePoint> ResumeWhere(Task gate, bool continueOnCapturedContext) {
  //   var before = (CurrentThread, SynchronizationContext.Current);
  //   await gate.ConfigureAwait(continueOnCapturedContext);
  //   return (before, (CurrentThread, SynchronizationContext.Current)); }
  duet::Task<ResumePoint> (*resume_where)(duet::Task<> gate, bool continue_on_captured_context);
};

// registered_context_styles() — every ContextStyle linked into the test binary.
std::vector<const ContextStyle*>& registered_context_styles();

// ContextStyleRegistration — `static const ContextStyleRegistration reg(my_context_style);`.
struct ContextStyleRegistration {
  explicit ContextStyleRegistration(const ContextStyle& s) { registered_context_styles().push_back(&s); }
};

}  // namespace styles
