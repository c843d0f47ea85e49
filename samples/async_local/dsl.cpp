// async_local/dsl.cpp — AsyncLocal<T> flowing with the ExecutionContext (seed 003 §4: "your
// CorrelationId ... is always available, no matter how many times your code hops between
// threads"), in the DUET_* macro DSL: the same methods as explicit.cpp; the builder saves and
// restores the context around every move_next(), whichever style wrote it.
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
#include <cstdio>
#include <string>
#include <utility>

#include "context_roles.hpp"
#include "duet/duet.hpp"
#include "duet/sm/dsl.hpp"

namespace {

using context_sample::thread_role;

duet::AsyncLocal<std::string> g_correlation_id(
    [](const duet::AsyncLocalValueChangedArgs<std::string>& args) {
      // Switches between threads' contexts happen on several threads at once; report only the
      // set_value changes, whose order the program fixes.
      if (!args.thread_context_changed) {
        std::printf("  (CorrelationId: '%s' -> '%s')\n", args.previous_value.c_str(),
                    args.current_value.c_str());
      }
    });

void log(const char* where_in_code) {
  const std::string id = g_correlation_id.value();
  std::printf("[%s] %s, on %s\n", id.empty() ? "<none>" : id.c_str(), where_in_code,
              thread_role());
}

// AuditAsync — `async Task AuditAsync()`.
struct AuditAsync : duet::AsyncMethod<AuditAsync> {
  void move_next() {
    DUET_BEGIN
      g_correlation_id.set_value(g_correlation_id.value() + "/audit");
      log("AuditAsync: set its own value");
      DUET_AWAIT(duet::yield());
      log("AuditAsync: after its own await");
    DUET_END
  }
};

// HandleRequestAsync — `async Task HandleRequestAsync(Task body)`.
struct HandleRequestAsync : duet::AsyncMethod<HandleRequestAsync> {
  duet::Task<> body_;  // parameter `body`

  explicit HandleRequestAsync(duet::Task<> body) : body_(std::move(body)) {}

  void move_next() {
    DUET_BEGIN
      g_correlation_id.set_value("req-42");
      log("HandleRequestAsync: started");
      DUET_AWAIT(body_);
      log("HandleRequestAsync: after the body arrived");
      DUET_AWAIT(duet::run([] { log("run(): inside the work item"); }));
      log("HandleRequestAsync: after run()");
      DUET_AWAIT(duet::start<AuditAsync>());
      log("HandleRequestAsync: after AuditAsync (the callee's value stayed with the callee)");
    DUET_END
  }
};

}  // namespace

int main() {
  context_sample::set_thread_role("main thread");
  log("main: before the request");
  duet::TaskCompletionSource<> body;
  duet::Task<> request = duet::start<HandleRequestAsync>(body.task());
  log("main: HandleRequestAsync returned at its first await; main's context is unchanged");
  duet::run([body]() mutable { body.set_result(); });  // the network delivers on a pool thread
  request.wait();
  log("main: request finished");
  return 0;
}
