// async_local/explicit.cpp — AsyncLocal<T> flowing with the ExecutionContext (seed 003 §4: "your
// CorrelationId ... is always available, no matter how many times your code hops between
// threads"), written as explicit state machines.
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

// AuditStateMachine — `<AuditAsync>d__1`.
struct AuditStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::YieldAwaitable::YieldAwaiter awaiter_;

  void move_next() {
    try {
      if (state_ != 0) {
        g_correlation_id.set_value(g_correlation_id.value() + "/audit");
        log("AuditAsync: set its own value");
        awaiter_ = duet::yield().get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      awaiter_.get_result();
      log("AuditAsync: after its own await");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> audit_async() {
  AuditStateMachine sm;
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// HandleRequestStateMachine — `<HandleRequestAsync>d__0`: three awaits of one awaiter type share
// one field (Roslyn's <>u__1).
struct HandleRequestStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  duet::Task<> body_;                     // parameter `body`
  duet::TaskAwaiter<void> task_awaiter_;  // <>u__1

  void move_next() {
    try {
      switch (state_) {
        case 0: goto resume_0;
        case 1: goto resume_1;
        case 2: goto resume_2;
        default: break;
      }
      g_correlation_id.set_value("req-42");
      log("HandleRequestAsync: started");
      task_awaiter_ = body_.get_awaiter();
      if (!task_awaiter_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(task_awaiter_, *this);
        return;
      }
    resume_0:
      state_ = -1;
      task_awaiter_.get_result();
      task_awaiter_ = {};
      log("HandleRequestAsync: after the body arrived");

      task_awaiter_ = duet::run([] { log("run(): inside the work item"); }).get_awaiter();
      if (!task_awaiter_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(task_awaiter_, *this);
        return;
      }
    resume_1:
      state_ = -1;
      task_awaiter_.get_result();
      task_awaiter_ = {};
      log("HandleRequestAsync: after run()");

      task_awaiter_ = audit_async().get_awaiter();
      if (!task_awaiter_.is_completed()) {
        state_ = 2;
        builder_.await_unsafe_on_completed(task_awaiter_, *this);
        return;
      }
    resume_2:
      state_ = -1;
      task_awaiter_.get_result();
      task_awaiter_ = {};
      log("HandleRequestAsync: after AuditAsync (the callee's value stayed with the callee)");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

duet::Task<> handle_request_async(duet::Task<> body) {
  HandleRequestStateMachine sm;
  sm.body_ = std::move(body);
  sm.builder_.start(sm);
  return sm.builder_.task();
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
