// tests/diag/diag_chain.hpp — three async methods written in each style, for the diagnostics
// tests (tests/semantic/test_diagnostics.cpp) and the gdb test's target (gdb_target.cpp):
//   async Task<int> Leaf(Task<int> t)   { return await t + 1; }
//   async Task<int> Middle(Task<int> t) { return await Leaf(t) + 1; }
//   async Task<int> Root(Task<int> t)   { return await Middle(t) + 1; }
// named "Leaf", "Middle", "Root" (DUET_ASYNC_NAME-style duet_async_name() in the machines,
// FiberOptions::name in fibers); and an async iterator, "Gated", as an explicit and a dsl machine
// (the fiber one is a lambda: tests/semantic/test_diagnostics.cpp):
//   async IAsyncEnumerable<int> Gated(Task gate) { await gate; yield return 1; } The fiber's body is diag_fiber_body, a named external function,
// so its frame's stack names it. Include it in one translation unit per program (it defines the
// fiber functions).
#pragma once

#include <exception>
#include <utility>

#include <duet/duet.hpp>

namespace diag_styles {

inline constexpr const char* k_names[] = {"Leaf", "Middle", "Root"};

template <int Level>
duet::Task<int> explicit_call(duet::Task<int> t);
template <int Level>
duet::Task<int> dsl_call(duet::Task<int> t);

// ExplicitSm<Level> — a Roslyn-shaped machine: await (Level 0: t; else the level below) + 1.
template <int Level>
struct ExplicitSm {
  static constexpr const char* duet_async_name() noexcept { return k_names[Level]; }
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  duet::Task<int> t_;
  duet::TaskAwaiter<int> awaiter_;

  void move_next() {
    int r;
    try {
      if (state_ != 0) {
        if constexpr (Level == 0) {
          awaiter_ = t_.get_awaiter();
        } else {
          awaiter_ = explicit_call<Level - 1>(t_).get_awaiter();
        }
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      } else {
        state_ = -1;
      }
      r = awaiter_.get_result();
      awaiter_ = duet::TaskAwaiter<int>();
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(r + 1);
  }
};

template <int Level>
duet::Task<int> explicit_call(duet::Task<int> t) {
  ExplicitSm<Level> sm;
  sm.t_ = std::move(t);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

// DslSm<Level> — the same method in the DUET_* DSL.
template <int Level>
struct DslSm : duet::AsyncMethod<DslSm<Level>, int> {
  static constexpr const char* duet_async_name() noexcept { return k_names[Level]; }
  duet::Task<int> t_;
  int v_ = 0;
  explicit DslSm(duet::Task<int> t) : t_(std::move(t)) {}

  duet::Task<int> next() {
    if constexpr (Level == 0) {
      return t_;
    } else {
      return dsl_call<Level - 1>(t_);
    }
  }
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(v_, next());
      DUET_RETURN(v_ + 1);
    DUET_END
  }
};

template <int Level>
duet::Task<int> dsl_call(duet::Task<int> t) {
  return duet::start<DslSm<Level>>(std::move(t));
}

// async IAsyncEnumerable<int> Gated(Task gate) { await gate; yield return 1; }
// explicit: the iterator Roslyn would generate, by hand.
struct GatedExplicit : duet::AsyncIterator<GatedExplicit, int> {
  DUET_ASYNC_NAME("Gated")
  duet::Task<> gate_;
  duet::TaskAwaiter<void> awaiter1_;  // <>u__1
  explicit GatedExplicit(duet::Task<> gate) : gate_(std::move(gate)) {}
  void move_next() {
    try {
      switch (state_) {
        case 0:
          goto resume0;
        case 1:
          goto resume1;
        default:
          break;
      }
      awaiter1_ = gate_.get_awaiter();
      if (!awaiter1_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(awaiter1_, *this);
        return;
      }
    resume0:
      state_ = -1;
      awaiter1_.get_result();
      state_ = 1;  // yield return 1;
      yield_return(1);
      return;
    resume1:
      state_ = -1;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};
// dsl
struct GatedDsl : duet::AsyncIterator<GatedDsl, int> {
  DUET_ASYNC_NAME("Gated")
  duet::Task<> gate_;
  explicit GatedDsl(duet::Task<> gate) : gate_(std::move(gate)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(gate_);
      DUET_YIELD_RETURN(1);
    DUET_END
  }
};

}  // namespace diag_styles

// The fiber bodies: named, non-inlined, external functions, so the fiber's captured stack can
// be symbolized in-process (dladdr) and by gdb.
duet::Task<int> diag_fiber_call(int level, duet::Task<int> t);
[[gnu::noinline]] int diag_fiber_body(int level, duet::Task<int> t) {
  const int r = level == 0 ? duet::await(t) : duet::await(diag_fiber_call(level - 1, t));
  asm volatile("" ::: "memory");  // keep the call a call (no tail call through the await)
  return r + 1;
}
duet::Task<int> diag_fiber_call(int level, duet::Task<int> t) {
  return duet::fiber::async([level, t] { return diag_fiber_body(level, t); },
                            duet::fiber::FiberOptions{}.with_name(diag_styles::k_names[level]));
}
