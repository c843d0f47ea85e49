// async_local — explicit style: AuditAsync and HandleRequestAsync as the state machines Roslyn
// generates; the builder saves and restores the ExecutionContext around every move_next(). The
// program is driver.hpp.
#include "driver.hpp"

namespace {

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
