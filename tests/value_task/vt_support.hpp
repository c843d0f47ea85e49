// vt_support.hpp — helpers shared by the ValueTask tests: allocation counting around a callable,
// a hand-opened awaitable that suspends without allocating, a recording continuation, a
// SynchronizationContext that records posts, and a small IValueTaskSource over
// ManualResetValueTaskSourceCore.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"

namespace vt_test {

// allocations_of(fn) — how many operator new calls fn() made (all threads; the tests keep the
// pool idle while they count).
template <class Fn>
std::uint64_t allocations_of(Fn&& fn) {
  duet::testing::AllocScope scope;
  std::forward<Fn>(fn)();
  return scope.allocations();
}

// EXPECT_ALLOCATIONS(n, stmt) — asserts that `stmt` allocates exactly n times.
#define EXPECT_ALLOCATIONS(n, ...) \
  EXPECT_EQ(::vt_test::allocations_of([&] { __VA_ARGS__; }), std::uint64_t{n}) << #__VA_ARGS__

// Gate — an awaitable that is never completed up front; open(v) resumes the one waiter inline on
// the calling thread. Suspending on it allocates nothing. Single-threaded use.
class Gate {
 public:
  class Awaiter {
   public:
    Awaiter() = default;
    explicit Awaiter(Gate* g) : g_(g) {}
    bool is_completed() const noexcept { return false; }
    void on_completed(duet::Continuation& c) noexcept {
      duet::detail::capture_execution_context(c);
      unsafe_on_completed(c);
    }
    void unsafe_on_completed(duet::Continuation& c) noexcept { g_->waiting_ = &c; }
    int get_result() const noexcept { return g_->value_; }

   private:
    Gate* g_ = nullptr;
  };
  Awaiter get_awaiter() noexcept { return Awaiter(this); }
  bool has_waiter() const noexcept { return waiting_ != nullptr; }
  void open(int v) {
    ASSERT_NE(waiting_, nullptr) << "Gate::open without a waiter";
    value_ = v;
    duet::run_continuation(std::exchange(waiting_, nullptr));
  }

 private:
  duet::Continuation* waiting_ = nullptr;
  int value_ = 0;
};

// Flag — a Continuation that records that (and where) it ran. Wait with wait_ran().
struct Flag : duet::Continuation {
  std::atomic<int> runs{0};
  std::thread::id thread;
  Flag() { invoke = &Flag::run; }
  static void run(duet::Continuation* c) noexcept {
    auto* self = static_cast<Flag*>(c);
    self->thread = std::this_thread::get_id();
    self->runs.fetch_add(1, std::memory_order_release);
    self->runs.notify_all();
  }
  void wait_ran() {
    while (runs.load(std::memory_order_acquire) == 0) runs.wait(0, std::memory_order_acquire);
  }
};

// RecordingContext — a SynchronizationContext whose post() only counts and keeps the node; the
// test runs it with drain().
class RecordingContext : public duet::SynchronizationContext {
 public:
  void post(duet::Continuation& c) noexcept override {
    ++posts;
    pending = &c;
  }
  void drain() {
    if (auto* c = std::exchange(pending, nullptr)) duet::run_continuation(c);
  }
  int posts = 0;
  duet::Continuation* pending = nullptr;
};

// TestSource<T> — an IValueTaskSource over ManualResetValueTaskSourceCore that counts
// abandonments.
template <class T>
class TestSource final : public duet::IValueTaskSource<T> {
 public:
  duet::ValueTaskSourceStatus get_status(short token) override { return core.get_status(token); }
  void on_completed(duet::Continuation& c, short token,
                    duet::ValueTaskSourceOnCompletedFlags flags) override {
    core.on_completed(c, token, flags);
  }
  T get_result(short token) override { return core.get_result(token); }
  void on_abandoned(short token) noexcept override {
    ++abandoned;
    abandoned_token = token;
  }
  duet::ValueTask<T> value_task() { return duet::ValueTask<T>(*this, core.version()); }

  duet::ManualResetValueTaskSourceCore<T> core;
  int abandoned = 0;
  short abandoned_token = -1;
};

// message_of(fn) — the what() of the InvalidOperationError fn throws ("" and a test failure if it
// throws nothing).
template <class Fn>
std::string message_of(Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
  } catch (const duet::InvalidOperationError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InvalidOperationError";
  return {};
}

}  // namespace vt_test
