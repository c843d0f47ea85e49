// async_local/fiber.cpp — AsyncLocal<T> flowing with the ExecutionContext (seed 003 §4: "your
// CorrelationId ... is always available, no matter how many times your code hops between
// threads"), in the fiber style.
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
// Each async method is a fiber. A fiber's switch-out captures the ExecutionContext into its
// continuation and the resumption installs it again, on whichever thread resumes the fiber; when
// the fiber switches back to its caller (or ends), the caller's own context is restored. So the
// value set inside a fiber follows it across threads, and a callee fiber's change never reaches
// its caller — exactly as with the state machines.
#include <cstdio>
#include <string>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/fiber/fiber.hpp"

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

duet::Task<> audit_async() {
  return duet::fiber::async([] {
    g_correlation_id.set_value(g_correlation_id.value() + "/audit");
    log("AuditAsync: set its own value");
    duet::await(duet::yield());
    log("AuditAsync: after its own await");
  });
}

duet::Task<> handle_request_async(duet::Task<> body) {
  return duet::fiber::async([body = std::move(body)] {
    g_correlation_id.set_value("req-42");
    log("HandleRequestAsync: started");
    duet::await(body);
    log("HandleRequestAsync: after the body arrived");
    duet::await(duet::run([] { log("run(): inside the work item"); }));
    log("HandleRequestAsync: after run()");
    duet::await(audit_async());
    log("HandleRequestAsync: after AuditAsync (the callee's value stayed with the callee)");
  });
}

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
