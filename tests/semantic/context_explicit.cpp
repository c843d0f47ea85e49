// tests/semantic/context_explicit.cpp — every scenario of context_styles.hpp as an explicit state
// machine (the shape Roslyn generates; see style_explicit.cpp for the conventions).
#include <string>
#include <thread>
#include <utility>

#include "context_styles.hpp"
#include "explicit_steps.hpp"

namespace {

using duet::Task;
using explicit_steps::fail;
using explicit_steps::finish;
using explicit_steps::resume_from;
using explicit_steps::suspend_at;
using styles::ResumePoint;

template <class M>
auto start_machine(M sm) {
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// LocalFlowsAcrossAwaitSm — <LocalFlowsAcrossAwait>d__0.
struct LocalFlowsAcrossAwaitSm {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_{};
  duet::AsyncLocal<std::string>* local_ = nullptr;
  Task<> gate_{};
  std::string seen_{};
  duet::TaskAwaiter<void> awaiter_{};

  void move_next() {
    std::string result;
    try {
      if (state_ != 0) {
        seen_ = local_->value();
        local_->set_value(seen_ + "+callee");
        if (suspend_at(*this, awaiter_, gate_, 0)) return;
      }
      resume_from(*this, awaiter_);
      result = seen_ + "|" + local_->value();
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this, std::move(result));
  }
};

// ChildSm — <Child>d__2.
struct ChildSm {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_{};
  duet::AsyncLocal<std::string>* local_ = nullptr;
  Task<> gate_{};
  std::string seen_{};
  duet::TaskAwaiter<void> awaiter_{};

  void move_next() {
    std::string result;
    try {
      if (state_ != 0) {
        seen_ = local_->value();
        local_->set_value("child");
        if (suspend_at(*this, awaiter_, gate_, 0)) return;
      }
      resume_from(*this, awaiter_);
      result = seen_ + ">" + local_->value();
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this, std::move(result));
  }
};

// ChildIsolationSm — <ChildIsolation>d__1.
struct ChildIsolationSm {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_{};
  duet::AsyncLocal<std::string>* local_ = nullptr;
  Task<> gate_{};
  duet::TaskAwaiter<std::string> awaiter_{};

  void move_next() {
    std::string result;
    try {
      if (state_ != 0) {
        local_->set_value("parent");
        if (suspend_at(*this, awaiter_, start_machine(ChildSm{.local_ = local_, .gate_ = gate_}), 0)) return;
      }
      std::string child = resume_from(*this, awaiter_);
      result = child + "|" + local_->value();
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this, std::move(result));
  }
};

// ResumeWhereSm — <ResumeWhere>d__3.
struct ResumeWhereSm {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<ResumePoint> builder_{};
  Task<> gate_{};
  bool continue_on_captured_context_ = true;
  ResumePoint point_{};
  duet::TaskAwaiter<void> awaiter_{};  // configure_await keeps the awaiter type

  void move_next() {
    try {
      if (state_ != 0) {
        point_.thread_before = styles::thread_id_now();
        point_.context_before = duet::SynchronizationContext::current();
        if (suspend_at(*this, awaiter_, gate_.configure_await(continue_on_captured_context_), 0)) return;
      }
      resume_from(*this, awaiter_);
      point_.thread_after = styles::thread_id_now();
      point_.context_after = duet::SynchronizationContext::current();
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this, point_);
  }
};

const styles::ContextStyle k_explicit_context_style{
    .name = "explicit",
    .local_flows_across_await = [](duet::AsyncLocal<std::string>& local, Task<> gate) {
      return start_machine(LocalFlowsAcrossAwaitSm{.local_ = &local, .gate_ = std::move(gate)});
    },
    .child_isolation = [](duet::AsyncLocal<std::string>& local, Task<> gate) {
      return start_machine(ChildIsolationSm{.local_ = &local, .gate_ = std::move(gate)});
    },
    .resume_where = [](Task<> gate, bool continue_on_captured_context) {
      return start_machine(ResumeWhereSm{.gate_ = std::move(gate),
                                         .continue_on_captured_context_ = continue_on_captured_context});
    },
};

const styles::ContextStyleRegistration k_register(k_explicit_context_style);

}  // namespace
