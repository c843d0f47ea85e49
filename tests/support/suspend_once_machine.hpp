// suspend_once_machine.hpp — the reference "Task<int> method with one awaiter" whose box the
// layout target of issue 15 item 4 (<= 128 bytes) is stated for, shared by the mechanism test
// (tests/core/test_builder.cpp, which static_asserts the size) and the benchmark that times it
// (bench/bench_core.cpp, SuspendResume).
//
// `async Task<int> F(Task<int> t) { return await t + 1; }` in Roslyn's shape: one int state, the
// builder, the hoisted parameter and one stored awaiter.
#pragma once

#include <exception>
#include <utility>

#include <duet/duet.hpp>

namespace duet::testing {

// SuspendOnceMachineT<Tag> — the machine; Tag only makes distinct types: bench/bench_diag builds
// it in two translation units with and without the diagnostics hooks, each with a tag from its
// own anonymous namespace, so the two instantiations never merge.
template <class Tag>
struct SuspendOnceMachineT {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  duet::Task<int> source_;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    const int num = state_;
    int result = 0;
    try {
      duet::TaskAwaiter<int> awaiter;
      if (num != 0) {
        awaiter = duet::get_awaiter(std::move(source_));
        if (!awaiter.is_completed()) {
          state_ = 0;
          awaiter_ = awaiter;
          builder_.await_unsafe_on_completed(awaiter, *this);
          return;
        }
      } else {
        awaiter = std::move(awaiter_);
        awaiter_ = {};
        state_ = -1;
      }
      result = awaiter.get_result() + 1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

using SuspendOnceMachine = SuspendOnceMachineT<void>;

// SuspendOnceBox — the box that machine lives in once it suspended.
using SuspendOnceBox = duet::detail::AsyncStateMachineBox<SuspendOnceMachine, int>;

}  // namespace duet::testing
