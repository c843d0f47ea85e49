// tests/semantic/context_dsl.cpp — every scenario of context_styles.hpp written with the DUET_*
// macros (the builder flows the ExecutionContext and the await captures the
// SynchronizationContext exactly as for the explicit machines: only move_next() differs).
#include <string>
#include <thread>
#include <utility>

#include <duet/sm/dsl.hpp>

#include "context_styles.hpp"

namespace {

using duet::Task;
using styles::ResumePoint;

struct LocalFlowsAcrossAwait : duet::AsyncMethod<LocalFlowsAcrossAwait, std::string> {
  duet::AsyncLocal<std::string>* local_;
  Task<> gate_;
  std::string seen_;
  LocalFlowsAcrossAwait(duet::AsyncLocal<std::string>& local, Task<> gate)
      : local_(&local), gate_(std::move(gate)) {}
  void move_next() {
    DUET_BEGIN
      seen_ = local_->value();
      local_->set_value(seen_ + "+callee");
      DUET_AWAIT(gate_);
      DUET_RETURN(seen_ + "|" + local_->value());
    DUET_END
  }
};

struct Child : duet::AsyncMethod<Child, std::string> {
  duet::AsyncLocal<std::string>* local_;
  Task<> gate_;
  std::string seen_;
  Child(duet::AsyncLocal<std::string>* local, Task<> gate) : local_(local), gate_(std::move(gate)) {}
  void move_next() {
    DUET_BEGIN
      seen_ = local_->value();
      local_->set_value("child");
      DUET_AWAIT(gate_);
      DUET_RETURN(seen_ + ">" + local_->value());
    DUET_END
  }
};

struct ChildIsolation : duet::AsyncMethod<ChildIsolation, std::string> {
  duet::AsyncLocal<std::string>* local_;
  Task<> gate_;
  std::string child_;
  ChildIsolation(duet::AsyncLocal<std::string>& local, Task<> gate) : local_(&local), gate_(std::move(gate)) {}
  void move_next() {
    DUET_BEGIN
      local_->set_value("parent");
      DUET_AWAIT_INTO(child_, duet::start<Child>(local_, gate_));
      DUET_RETURN(child_ + "|" + local_->value());
    DUET_END
  }
};

struct ResumeWhere : duet::AsyncMethod<ResumeWhere, ResumePoint> {
  Task<> gate_;
  bool continue_on_captured_context_;
  ResumePoint point_;
  ResumeWhere(Task<> gate, bool continue_on_captured_context)
      : gate_(std::move(gate)), continue_on_captured_context_(continue_on_captured_context) {}
  void move_next() {
    DUET_BEGIN
      point_.thread_before = styles::thread_id_now();
      point_.context_before = duet::SynchronizationContext::current();
      DUET_AWAIT(gate_.configure_await(continue_on_captured_context_));
      point_.thread_after = styles::thread_id_now();
      point_.context_after = duet::SynchronizationContext::current();
      DUET_RETURN(point_);
    DUET_END
  }
};

const styles::ContextStyle k_dsl_context_style{
    .name = "dsl",
    .local_flows_across_await = [](duet::AsyncLocal<std::string>& local, Task<> gate) {
      return duet::start<LocalFlowsAcrossAwait>(local, std::move(gate));
    },
    .child_isolation = [](duet::AsyncLocal<std::string>& local, Task<> gate) {
      return duet::start<ChildIsolation>(local, std::move(gate));
    },
    .resume_where = [](Task<> gate, bool continue_on_captured_context) {
      return duet::start<ResumeWhere>(std::move(gate), continue_on_captured_context);
    },
};

const styles::ContextStyleRegistration k_register(k_dsl_context_style);

}  // namespace
