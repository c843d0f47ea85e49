// async_local — AsyncLocal<T> flowing with the ExecutionContext (seed 003 §4: "your
// CorrelationId ... is always available, no matter how many times your code hops between
// threads").
//
//   static AsyncLocal<string> CorrelationId = new(args => { if (!args.ThreadContextChanged)
//       Console.WriteLine($"  (CorrelationId: '{args.PreviousValue}' -> '{args.CurrentValue}')"); });
//
//   async Task HandleRequestAsync(Task body)
//   {
//       CorrelationId.Value = "req-42";
//       await body;                                   // the body arrives on a pool thread
//       Log("after the body arrived");
//       await Task.Run(() => Log("inside Task.Run"));  // work item flows the context
//       await AuditAsync();                           // the callee changes the value...
//       Log("after AuditAsync");                      // ...which does not reach the caller
//   }
//
//   async Task AuditAsync()
//   {
//       CorrelationId.Value = CorrelationId.Value + "/audit";
//       await Task.Yield();
//       Log("audit, after its own await");
//   }
//
// The driver, shared by the three styles: main(), the AsyncLocal and the log. explicit.cpp,
// dsl.cpp and fiber.cpp define the two async methods, each in its own style; in all three the
// value set inside a method follows it across threads, and a callee's change never reaches its
// caller.
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <duet/duet.hpp>

#include "context_roles.hpp"

namespace {

duet::AsyncLocal<std::string> g_correlation_id(
    [](const duet::AsyncLocalValueChangedArgs<std::string>& args) {
      // Switches between threads' contexts happen on several threads at once; report only the
      // set_value changes, whose order the program fixes.
      if (!args.thread_context_changed) {
        std::printf("  (CorrelationId: '%s' -> '%s')\n", args.previous_value.c_str(),
                    args.current_value.c_str());
      }
    });

// log(where) — prints the current CorrelationId and the thread's role. Not inlined and opaque to
// the optimiser: it reads thread-local state, and a fiber may resume on another thread between two
// calls (see "Fibers migrate" in duet/fiber/fiber.hpp).
[[gnu::noinline]] void log(const char* where_in_code) {
  asm volatile("" ::: "memory");
  const std::string id = g_correlation_id.value();
  std::printf("[%s] %s, on %s\n", id.empty() ? "<none>" : id.c_str(), where_in_code,
              context_sample::thread_role());
}

duet::Task<> audit_async();                            // AuditAsync; one per style
duet::Task<> handle_request_async(duet::Task<> body);  // HandleRequestAsync; one per style

}  // namespace

int main() {
  context_sample::set_thread_role("main thread");
  log("main: before the request");
  duet::TaskCompletionSource<> body;
  duet::Task<> request = handle_request_async(body.task());
  log("main: HandleRequestAsync returned at its first await; main's context is unchanged");
  duet::run([body]() mutable { body.set_result(); });  // the network delivers on a pool thread
  request.wait();
  log("main: request finished");
  return 0;
}
