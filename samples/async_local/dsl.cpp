// async_local — DSL style: the same methods as explicit.cpp in the DUET_* macro DSL; the builder
// saves and restores the ExecutionContext around every move_next(), whichever style wrote it. The
// program is driver.hpp.
#include "driver.hpp"

namespace {

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
      DUET_AWAIT(audit_async());
      log("HandleRequestAsync: after AuditAsync (the callee's value stayed with the callee)");
    DUET_END
  }
};


duet::Task<> audit_async() { return duet::start<AuditAsync>(); }

duet::Task<> handle_request_async(duet::Task<> body) {
  return duet::start<HandleRequestAsync>(std::move(body));
}

}  // namespace
