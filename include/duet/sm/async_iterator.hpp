// duet/sm/async_iterator.hpp — AsyncIterator<Self, T>: the base of an async iterator written as a
// state machine (C#'s `async IAsyncEnumerable<T> M() { ... yield return x; ... }`), by hand
// (explicit style) or with DUET_YIELD_RETURN (sm/dsl_stream.hpp); and make_async_stream<M>.
//
// The shape Roslyn generates for an async iterator: one class that is the enumerable, the
// enumerator and the IValueTaskSource<bool> behind MoveNextAsync (its promise is a
// ManualResetValueTaskSourceCore<bool>), with <>1__state, the builder, the hoisted locals, the
// awaiters, <>2__current and <>w__disposeMode. Here:
//   state_        -1 running / not started, >= 0 the yield or await it is suspended at, -2 done;
//   builder_      AsyncIteratorBuilder: await_[unsafe_]on_completed resumes move_next() on this
//                 same object (it is already on the heap: nothing is boxed), set_result() ends the
//                 stream (move_next_async -> false), set_exception() faults it;
//   awaiter_, dsl_  as duet::AsyncMethod's (the DSL macros work unchanged);
//   yield_return(v)  <>2__current = v and the promise completes true: call it, then `return`;
//   dispose_mode()   true when move_next() was re-entered to dispose: leave at the yield as
//                 `yield break` would, through the finally code.
//
//   struct Count : duet::AsyncIterator<Count, int> {         // explicit style
//     int n_, i_ = 0;
//     explicit Count(int n) : n_(n) {}
//     void move_next() {
//       switch (state_) { case -1: break; case 0: goto resume0; default: return; }
//       for (i_ = 0; i_ < n_; ++i_) {
//         state_ = 0; yield_return(i_); return;              // yield return i;
//       resume0:
//         state_ = -1;
//         if (dispose_mode()) break;                          // disposed at this yield
//       }
//       state_ = -2; builder_.set_result();                   // end of the stream
//     }
//   };
//   duet::AsyncStream<int> s = duet::make_async_stream<Count>(3);
//
// One allocation per enumeration (the iterator), none per item.
// Thread-safety: one consumer at a time (coord/async_stream.hpp).
#pragma once

#include <cstdint>
#include <exception>
#include <utility>

#include "duet/coord/async_stream.hpp"
#include "duet/core/continuation.hpp"
#include "duet/sm/async_method.hpp"

namespace duet {

// AsyncIteratorBuilder — the builder_ of an AsyncIterator (.NET's AsyncIteratorMethodBuilder).
class AsyncIteratorBuilder {
 public:
  // Hooks into the iterator that owns this builder (set by AsyncIterator's constructor).
  struct Owner {
    virtual void builder_resume() noexcept = 0;
    virtual void builder_end() noexcept = 0;
    virtual void builder_fail(std::exception_ptr e) noexcept = 0;
    // builder_diag_key() — what a consumer awaiting this iterator names as its key (diagnostics:
    // its move_next_async or dispose_async source).
    virtual const void* builder_diag_key() const noexcept = 0;

   protected:
    ~Owner() = default;
  };
  explicit AsyncIteratorBuilder(Owner& owner) noexcept : owner_(&owner) {
    resume_.invoke = &AsyncIteratorBuilder::resume;
    resume_.builder = this;  // the builder lives inside its heap iterator: it never moves
  }
  AsyncIteratorBuilder(const AsyncIteratorBuilder&) = delete;
  AsyncIteratorBuilder& operator=(const AsyncIteratorBuilder&) = delete;

  // await_on_completed / await_unsafe_on_completed — suspend at an await: move_next() runs again
  // (on this object) when the awaiter completes. The DslAwait overload is the DSL's (sm/dsl.hpp).
  // The registry record (diag/diagnostics.hpp) is added before the registration and removed
  // when the resumption starts: both while the activation owns the iterator (coord/
  // async_stream.hpp, "Hand-off"), so the record never outlives it.
  template <class A, class SM>
  void await_on_completed(A& awaiter, [[maybe_unused]] SM& sm) noexcept {
    DUET_DIAG_HOOK(diag_note_suspended(awaiter, sm, diagnostics::Style::explicit_sm));
    awaiter.on_completed(resume_);
  }
  template <class A, class SM>
  void await_unsafe_on_completed(A& awaiter, [[maybe_unused]] SM& sm) noexcept {
    DUET_DIAG_HOOK(diag_note_suspended(awaiter, sm, diagnostics::Style::explicit_sm));
    detail::capture_execution_context(resume_);
    awaiter.unsafe_on_completed(resume_);
  }
  template <class A, class SM>
  void await_unsafe_on_completed(A& awaiter, [[maybe_unused]] SM& sm, detail::DslAwait) noexcept {
    DUET_DIAG_HOOK(diag_note_suspended(awaiter, sm, diagnostics::Style::dsl));
    detail::capture_execution_context(resume_);
    awaiter.unsafe_on_completed(resume_);
  }
  // set_result() — the iterator ended; set_exception(e) — it faulted (or was canceled).
  void set_result() noexcept { owner_->builder_end(); }
  void set_exception(std::exception_ptr e) noexcept { owner_->builder_fail(std::move(e)); }

 private:
  struct Resume : Continuation {
    AsyncIteratorBuilder* builder = nullptr;
  };
  static void resume(Continuation* c) noexcept {
    AsyncIteratorBuilder* const b = static_cast<Resume*>(c)->builder;
    DUET_DIAG_HOOK(diagnostics::detail::note_resumed(b));
    b->owner_->builder_resume();
  }
  // diag_note_suspended(awaiter, sm, style) — the registry record of the iterator suspending on
  // `awaiter`. Out of line and cold: only the flag test sits on the suspension path.
  template <class A, class SM>
  [[gnu::cold, gnu::noinline]] void diag_note_suspended(const A& awaiter, const SM& sm,
                                                        diagnostics::Style style) noexcept {
    diagnostics::FrameRecord rec;
    rec.owner = this;
    rec.self_key = owner_->builder_diag_key();
    rec.name = diagnostics::detail::machine_name<SM>();
    rec.style = style;
    rec.state = static_cast<std::int32_t>(sm.state_);
    diagnostics::detail::describe_awaiter(awaiter, rec.awaited);
    diagnostics::detail::note_suspended(rec);
  }
  Owner* owner_;
  Resume resume_;
};

// AsyncIterator<Derived, T, Limits> — see the header comment. Derived defines move_next().
template <class Derived, class T, class Limits = DslLimits<>>
class AsyncIterator : public detail::AsyncIteratorCore<T>, private AsyncIteratorBuilder::Owner {
 public:
  using result_type = void;
  using value_type = T;

  AsyncIterator() noexcept : builder_(static_cast<AsyncIteratorBuilder::Owner&>(*this)) {}
  AsyncIterator(const AsyncIterator&) = delete;
  AsyncIterator& operator=(const AsyncIterator&) = delete;

  int state_ = -1;
  AsyncIteratorBuilder builder_;
  AwaiterStorage<Limits::awaiter_bytes, Limits::awaiter_align> awaiter_;
  detail::DslState<void, Limits::max_depth, Limits::max_try> dsl_;

  // yield_return(v) — `yield return v;`: sets current() and completes the pending
  // move_next_async with true. Set state_ to the resume point first; `return` right after.
  template <class U>
  void yield_return(U&& v) {
    this->on_yield(std::forward<U>(v));
  }
  using detail::AsyncIteratorCore<T>::dispose_mode;
  using detail::AsyncIteratorCore<T>::token;

 protected:
  ~AsyncIterator() override = default;

 private:
  void step() final { static_cast<Derived*>(this)->move_next(); }
  void builder_resume() noexcept final { this->run_step(); }
  void builder_end() noexcept final { this->on_end(); }
  void builder_fail(std::exception_ptr e) noexcept final { this->on_error(std::move(e)); }
  const void* builder_diag_key() const noexcept final { return this->diag_self_key(); }
};

// make_async_stream<Machine>(args...) — an AsyncStream whose every enumeration constructs a new
// Machine(args...) (the arguments are copied into the stream) with the enumeration's token.
template <class Machine, class... Args>
AsyncStream<typename Machine::value_type> make_async_stream(Args... args) {
  using T = typename Machine::value_type;
  return AsyncStream<T>([... args = std::move(args)](const CancellationToken& token) -> IAsyncEnumerator<T>* {
    auto* m = new Machine(args...);
    m->set_token(token);
    return m;
  });
}

}  // namespace duet
