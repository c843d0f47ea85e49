// tests/semantic/explicit_steps.hpp — the steps the hand-written (explicit-style) machines of
// style_explicit.cpp and context_explicit.cpp repeat, each the lowering Roslyn emits for one
// piece of C#. A machine M has `int state_` and `builder_`, as Roslyn's do.
//
//   if (suspend_at(*this, aw_, x, n)) return;   aw = x.GetAwaiter();
//                                                if (!aw.IsCompleted) { state = n;
//                                                  builder.AwaitUnsafeOnCompleted(ref aw, ref this);
//                                                  return; }
//   r = resume_from(*this, aw_);                 state = -1; r = aw.GetResult(); aw = default;
//   fail(*this);                                 the outer catch: state = -2; builder.SetException(e);
//   finish(*this, v);                            state = -2; builder.SetResult(v);
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

namespace explicit_steps {

// suspend_at(m, aw, x, n) — takes x's awaiter into `aw`; when it has not completed, suspends the
// machine at resume point n and returns true (the caller returns from move_next()).
template <class M, class A, class X>
bool suspend_at(M& m, A& aw, X&& x, int n) {
  aw = std::forward<X>(x).get_awaiter();
  if (aw.is_completed()) return false;
  m.state_ = n;
  m.builder_.await_unsafe_on_completed(aw, m);
  return true;
}

// resume_from(m, aw) — the machine runs again; returns aw's result (or rethrows) and clears `aw`.
template <class M, class A>
auto resume_from(M& m, A& aw) {
  m.state_ = -1;
  if constexpr (std::is_void_v<decltype(aw.get_result())>) {
    aw.get_result();
    aw = {};
  } else {
    auto r = aw.get_result();
    aw = {};
    return r;
  }
}

// fail(m) — in the outer catch (...): the method ends with the exception being handled.
template <class M>
void fail(M& m) {
  m.state_ = -2;
  m.builder_.set_exception(std::current_exception());
}

// finish(m, v...) — the method returns v (nothing for a Task<> method).
template <class M, class... V>
void finish(M& m, V&&... v) {
  m.state_ = -2;
  m.builder_.set_result(std::forward<V>(v)...);
}

}  // namespace explicit_steps
