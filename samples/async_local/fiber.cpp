// async_local — fiber style. A fiber's switch-out captures the ExecutionContext into its
// continuation and the resumption installs it again, on whichever thread resumes the fiber; when
// the fiber switches back to its caller (or ends), the caller's own context is restored. So the
// value set inside a fiber follows it across threads, and a callee fiber's change never reaches
// its caller — exactly as with the state machines. The program is driver.hpp.
#include "driver.hpp"

namespace {

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
