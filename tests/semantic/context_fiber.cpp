// tests/semantic/context_fiber.cpp — every scenario of context_styles.hpp as straight-line code on a
// fiber (duet::fiber::async; `await x` is duet::await(x)). The fiber saves and restores the
// thread's ExecutionContext on every switch, and its awaits capture the SynchronizationContext,
// so the C# bodies carry over line for line.
#include <duet/fiber/fiber.hpp>

#include <string>
#include <thread>
#include <utility>

#include "context_styles.hpp"

namespace {

using duet::Task;
using duet::fiber::async;
using styles::ResumePoint;

Task<std::string> local_flows_across_await(duet::AsyncLocal<std::string>& local, Task<> gate) {
  return async([&local, gate = std::move(gate)] {
    const std::string seen = local.value();
    local.set_value(seen + "+callee");
    duet::await(gate);
    return seen + "|" + local.value();
  });
}

Task<std::string> child(duet::AsyncLocal<std::string>& local, Task<> gate) {
  return async([&local, gate = std::move(gate)] {
    const std::string seen = local.value();
    local.set_value("child");
    duet::await(gate);
    return seen + ">" + local.value();
  });
}

Task<std::string> child_isolation(duet::AsyncLocal<std::string>& local, Task<> gate) {
  return async([&local, gate = std::move(gate)] {
    local.set_value("parent");
    const std::string c = duet::await(child(local, gate));
    return c + "|" + local.value();
  });
}

Task<ResumePoint> resume_where(Task<> gate, bool continue_on_captured_context) {
  return async([gate = std::move(gate), continue_on_captured_context] {
    ResumePoint p;
    p.thread_before = styles::thread_id_now();
    p.context_before = duet::SynchronizationContext::current();
    duet::await(gate.configure_await(continue_on_captured_context));
    p.thread_after = styles::thread_id_now();
    p.context_after = duet::SynchronizationContext::current();
    return p;
  });
}

const styles::ContextStyle k_fiber_context_style{
    .name = "fiber",
    .local_flows_across_await = &local_flows_across_await,
    .child_isolation = &child_isolation,
    .resume_where = &resume_where,
};

const styles::ContextStyleRegistration k_register(k_fiber_context_style);

}  // namespace
