// duet/sm/async_method.hpp — the fields a DSL state machine needs, in one convenience base, and
// the starter that turns a machine type into a running Task<T>.
//
// A DSL state machine is the same struct as an explicit one (see sm/method_builder_core.hpp):
//
//   int state_;                         -1 running / not started, >= 0 suspended, -2 done
//   duet::AsyncTaskMethodBuilder<T> builder_;   (or a ValueTask builder, sm/async_value_task_method_builder.hpp)
//   <awaiter storage> awaiter_;         where the awaiter of the pending await lives
//   <DSL bookkeeping> dsl_;             only for methods that use DUET_TRY (see sm/dsl.hpp)
//
// plus the method's parameters and hoisted locals as ordinary members. duet::AsyncMethod declares
// those four for you; you may also declare them by hand (the DSL only ever names them), e.g. to
// drive an existing explicit struct with a `duet::TaskAwaiter<int> awaiter_` field from DUET_*
// macros — then every await of that method must produce that one awaiter type.
//
// Awaiter storage. Roslyn declares one field per awaiter *type*; a DSL user should not have to.
// AwaiterStorage<Bytes> is a typed slot: each await site knows its awaiter type statically and
// constructs, reads and destroys the awaiter in the slot with that type (no virtual call on
// those paths). Only when the whole machine is moved — into the box, on its first suspension —
// does the slot relocate its occupant through a per-type function pointer. An await that
// completes synchronously never touches the slot at all: its awaiter stays a temporary.
//
// Thread-safety: a machine is used by one thread at a time (the one running move_next()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "duet/core/task.hpp"
#include "duet/detail/assert.hpp"
#include "duet/sm/async_value_task_method_builder.hpp"
#include "duet/sm/async_void_method_builder.hpp"
#include "duet/sm/method_builder_core.hpp"

namespace duet {

// AwaiterStorage<Bytes, Align> — holds at most one awaiter of any type up to Bytes bytes.
// Precondition for every typed access (get<A>, reset<A>): the slot holds an A (asserted in
// debug builds). Moving a slot relocates its occupant and leaves the source empty.
//
// Align defaults to a pointer's alignment, which every duet awaiter has: a max_align_t (16)
// default made every DSL machine, and so its box, 16-aligned and padded (issue 15: 24 bytes of
// padding per Task<T> box). An over-aligned awaiter is a compile error that names Align.
template <std::size_t Bytes = 48, std::size_t Align = alignof(void*)>
class AwaiterStorage {
 public:
  static constexpr std::size_t k_bytes = Bytes;
  static constexpr std::size_t k_align = Align;

  AwaiterStorage() noexcept {}
  AwaiterStorage(AwaiterStorage&& o) noexcept : ops_(o.ops_) {
    if (ops_) {
      ops_->relocate(buf_, o.buf_);
      o.ops_ = nullptr;
    }
  }
  AwaiterStorage(const AwaiterStorage&) = delete;
  AwaiterStorage& operator=(const AwaiterStorage&) = delete;
  AwaiterStorage& operator=(AwaiterStorage&&) = delete;
  ~AwaiterStorage() {
    if (ops_) ops_->destroy(buf_);
  }

  // emplace(a) — moves `a` into the empty slot and returns the stored awaiter.
  template <class A>
  A& emplace(A&& a) noexcept(std::is_nothrow_move_constructible_v<std::remove_cvref_t<A>>) {
    using Aw = std::remove_cvref_t<A>;
    static_assert(sizeof(Aw) <= Bytes,
                  "duet: this awaiter does not fit the state machine's awaiter storage. Raise "
                  "the byte count: duet::AsyncMethod<Self, T, duet::DslLimits<Bytes>> (or "
                  "duet::AwaiterStorage<Bytes> awaiter_ in a hand-written machine).");
    static_assert(alignof(Aw) <= Align,
                  "duet: this awaiter is over-aligned for the state machine's awaiter storage; "
                  "raise Align: duet::AsyncMethod<Self, T, duet::DslLimits<Bytes, MaxDepth, MaxTry, "
                  "Align>> (or duet::AwaiterStorage<Bytes, Align> awaiter_ in a hand-written machine).");
    DUET_ASSERT(ops_ == nullptr, "AwaiterStorage::emplace into an occupied slot");
    Aw* p = ::new (static_cast<void*>(buf_)) Aw(std::forward<A>(a));
    ops_ = &k_ops<Aw>;
    return *p;
  }

  // get<A>() — the stored awaiter. Precondition: holds an A.
  template <class A>
  A& get() noexcept {
    DUET_ASSERT(ops_ == &k_ops<A>, "AwaiterStorage::get<A>: the slot holds another type");
    return *std::launder(reinterpret_cast<A*>(buf_));
  }

  // reset<A>() — destroys the stored A; the slot becomes empty. Precondition: holds an A.
  template <class A>
  void reset() noexcept {
    get<A>().~A();
    ops_ = nullptr;
  }

  // has_value() — whether an awaiter is stored (true exactly while the method is suspended).
  bool has_value() const noexcept { return ops_ != nullptr; }

 private:
  struct Ops {
    void (*relocate)(void* to, void* from) noexcept;  // move-construct at `to`, destroy `from`
    void (*destroy)(void* p) noexcept;
  };
  template <class A>
  static void relocate_fn(void* to, void* from) noexcept {
    A* f = std::launder(static_cast<A*>(from));
    ::new (to) A(std::move(*f));
    f->~A();
  }
  template <class A>
  static void destroy_fn(void* p) noexcept {
    std::launder(static_cast<A*>(p))->~A();
  }
  template <class A>
  static constexpr Ops k_ops{&relocate_fn<A>, &destroy_fn<A>};

  alignas(Align) unsigned char buf_[Bytes];
  const Ops* ops_ = nullptr;  // the occupant's operations, or null when empty
};

// DslLimits<AwaiterBytes, MaxDepth, MaxTry, AwaiterAlign> — the compile-time sizes of
// AsyncMethod's storage: the largest awaiter, how deeply DUET_TRY blocks may nest (each DUET_TRY
// adds one level, as does a DUET_TRY inside a catch or finally block), how many try blocks may be
// open at once, and the strictest awaiter alignment. Exceeding any of them is a compile error
// that names the parameter to raise.
template <std::size_t AwaiterBytes = 48, int MaxDepth = 4, int MaxTry = 3, std::size_t AwaiterAlign = alignof(void*)>
struct DslLimits {
  static_assert(MaxDepth >= 1 && MaxTry >= 1, "duet: DslLimits need MaxDepth >= 1 and MaxTry >= 1");
  static constexpr std::size_t awaiter_bytes = AwaiterBytes;
  static constexpr std::size_t awaiter_align = AwaiterAlign;
  static constexpr int max_depth = MaxDepth;
  static constexpr int max_try = MaxTry;
};

namespace detail {

// DslTryFrame — the run-time state of one open DUET_TRY block (see "Exception routing" in
// sm/dsl.hpp). Reset when the block is entered from its top.
struct DslTryFrame {
  // pending — the exception travelling through this try block: caught from the try body (until
  // a catch block handles it), or thrown by a catch or finally block; rethrown by DUET_END_TRY.
  std::exception_ptr pending;
  // handler — 0: no catch block has taken `pending`; > 0: the id of the catch block that took it
  // and is running; -1: a catch block ran (or threw): no further catch block applies.
  int handler = 0;
  // stage — which section is running: 1 try body, 2 a catch block, 3 the finally block. One
  // byte, packed with the two flags after `handler`: a frame is 16 bytes, not 24.
  std::int8_t stage = 0;
  // returning — a DUET_RETURN left the block; the value waits in DslState::result and the
  // return resumes after the finally block.
  bool returning = false;
  // reached_end — set by the last statement of a section; false after it means break/continue
  // left the section (a misuse reported with an exception).
  bool reached_end = false;
};

// DslPendingResult<T> — the value of a DUET_RETURN(v) executed inside a try block, kept while
// the finally blocks on the way out run (they may await).
template <class T>
struct DslPendingResult {
  std::optional<T> value;
};
template <>
struct DslPendingResult<void> {};

// DslFrames<N> — up to N try frames, constructed lazily: a method that never enters a DUET_TRY
// (or has not yet) pays for no exception_ptr construction, move or destruction — that keeps the
// DSL's fast path and its move into the box level with the explicit style's.
template <int N>
class DslFrames {
 public:
  DslFrames() noexcept {}
  DslFrames(DslFrames&& o) noexcept : live_(o.live_) {
    for (int i = 0; i < live_; ++i) ::new (static_cast<void*>(slot(i))) DslTryFrame(std::move(o[i]));
  }
  DslFrames(const DslFrames&) = delete;
  DslFrames& operator=(const DslFrames&) = delete;
  DslFrames& operator=(DslFrames&&) = delete;
  ~DslFrames() {
    for (int i = 0; i < live_; ++i) (*this)[i].~DslTryFrame();
  }

  // enter(i) — frame i, constructing frames up to i on first use.
  DslTryFrame& enter(int i) noexcept {
    while (live_ <= i) {
      ::new (static_cast<void*>(slot(live_))) DslTryFrame();
      ++live_;
    }
    return (*this)[i];
  }
  // operator[](i) — frame i. Precondition: entered before.
  DslTryFrame& operator[](int i) noexcept {
    DUET_ASSERT(i < live_, "DUET_TRY frame used before its try block was entered");
    return *std::launder(reinterpret_cast<DslTryFrame*>(slot(i)));
  }

 private:
  unsigned char* slot(int i) noexcept { return storage_ + static_cast<std::size_t>(i) * sizeof(DslTryFrame); }

  alignas(DslTryFrame) unsigned char storage_[sizeof(DslTryFrame) * N];
  int live_ = 0;  // frames [0, live_) are constructed
};

// DslState<T, MaxDepth, MaxTry> — the bookkeeping of DUET_TRY: the resume path (one label per
// nesting level, see "Dispatch" in sm/dsl.hpp), one frame per open try block and the pending
// return value.
template <class T, int MaxDepth, int MaxTry>
struct DslState {
  static constexpr int k_max_depth = MaxDepth;
  static constexpr int k_max_try = MaxTry;
  int path[MaxDepth + 1] = {};
  DslFrames<MaxTry> frames;
  DslPendingResult<T> result;
};

}  // namespace detail

namespace detail {

// builder_result<B> — the T a builder completes its task with: AsyncTaskMethodBuilder<T>, any
// builder whose task() returns a type with a result_type (e.g. a ValueTask builder), or void for
// a builder without task() (an `async void` builder: nobody observes its end).
template <class B>
struct builder_result {
  using type = void;
};
template <class B>
  requires requires(B& b) { b.task(); }
struct builder_result<B> {
  using type = typename decltype(std::declval<B&>().task())::result_type;
};

// machine_result_t<M> — the T of the Task<T> machine M builds (read off its builder_).
template <class M>
using machine_result_t = typename builder_result<std::remove_cvref_t<decltype(std::declval<M&>().builder_)>>::type;

}  // namespace detail

// AsyncMethod<Derived, T, Limits, Builder> — a convenience base that declares the fields every DSL state
// machine has (state_, builder_, awaiter_, dsl_) and result_type. Derive your machine from it,
// add parameters and hoisted locals as members and write move_next() with the DUET_* macros:
//
//   struct AddAsync : duet::AsyncMethod<AddAsync, int> {
//     duet::Task<int> a_, b_;   // parameters
//     int x_ = 0;               // a hoisted local
//     AddAsync(duet::Task<int> a, duet::Task<int> b) : a_(std::move(a)), b_(std::move(b)) {}
//     void move_next() {
//       DUET_BEGIN
//         DUET_AWAIT_INTO(x_, a_);
//         DUET_AWAIT_INTO(y_, b_);   // with `int y_ = 0;` declared next to x_
//         DUET_RETURN(x_ + y_);
//       DUET_END
//     }
//   };
//   duet::Task<int> t = duet::start<AddAsync>(ta, tb);
//
// Builder picks the method builder, and with it what duet::start returns — C#'s return type plus
// [AsyncMethodBuilder(...)]: AsyncTaskMethodBuilder<T> (the default) gives Task<T>;
// AsyncValueTaskMethodBuilder<T> and PoolingAsyncValueTaskMethodBuilder<T> give ValueTask<T>
// (the aliases AsyncValueTaskMethod / PoolingAsyncValueTaskMethod below spell those two). Any
// builder with the protocol of sm/method_builder_core.hpp whose task() has result_type T will do.
//
// The fields are public, as Roslyn's are: the builder, the box and the DSL helpers use them.
// Thread-safety: as any state machine, used by one thread at a time.
template <class Derived, class T = void, class Limits = DslLimits<>, class Builder = AsyncTaskMethodBuilder<T>>
struct AsyncMethod {
  static_assert(std::is_same_v<typename detail::builder_result<Builder>::type, T>,
                "duet::AsyncMethod<Derived, T, Limits, Builder>: Builder must build a task of T "
                "(e.g. duet::PoolingAsyncValueTaskMethodBuilder<T> for the same T)");
  using result_type = T;
  using limits_type = Limits;
  using builder_type = Builder;

  // state_ — -1 running or not started, >= 0 suspended at the resume point it names, -2 done.
  int state_ = -1;
  // builder_ — builds the method's Task<T> (or ValueTask<T>, per Builder).
  Builder builder_;
  // awaiter_ — the awaiter of the await the method is suspended at (empty otherwise).
  AwaiterStorage<Limits::awaiter_bytes, Limits::awaiter_align> awaiter_;
  // dsl_ — DUET_TRY bookkeeping (untouched by methods without DUET_TRY).
  detail::DslState<T, Limits::max_depth, Limits::max_try> dsl_;
};

// AsyncValueTaskMethod<Derived, T, Limits> — AsyncMethod for a method returning ValueTask<T>
// (C#: `async ValueTask<T> M()`): a call that completes synchronously allocates nothing; one that
// suspends allocates one box, as a Task<T> method does.
template <class Derived, class T = void, class Limits = DslLimits<>>
using AsyncValueTaskMethod = AsyncMethod<Derived, T, Limits, AsyncValueTaskMethodBuilder<T>>;

// PoolingAsyncValueTaskMethod<Derived, T, Limits> — AsyncMethod for a method returning
// ValueTask<T> through the pooling builder (C#: `[AsyncMethodBuilder(typeof(
// PoolingAsyncValueTaskMethodBuilder<>))] async ValueTask<T> M()`): suspending calls reuse boxes,
// 0 allocations in steady state. Consume the returned ValueTask (await, result(), as_task(),
// preserve()) or drop it, so its box can return to the pool.
template <class Derived, class T = void, class Limits = DslLimits<>>
using PoolingAsyncValueTaskMethod = AsyncMethod<Derived, T, Limits, PoolingAsyncValueTaskMethodBuilder<T>>;

namespace detail {

// start_result<M> — what duet::start<M> returns: M's builder_.task(), or void for a builder
// without task() (async void).
template <class M>
struct start_result {
  using type = void;
};
template <class M>
  requires requires(M& m) { m.builder_.task(); }
struct start_result<M> {
  using type = decltype(std::declval<M&>().builder_.task());
};

}  // namespace detail

// AsyncVoidMethod<Derived, Limits> — AsyncMethod for an `async void` method (C#: event handlers):
// duet::start returns nothing. The builder captures SynchronizationContext::current() and reports
// the method's start and end to it (SingleThreadContext::run_until_operations_complete() waits
// for it); an exception escaping the method is thrown asynchronously, on that context or to the
// unhandled-exception handler (sm/async_void_method_builder.hpp).
template <class Derived, class Limits = DslLimits<>>
using AsyncVoidMethod = AsyncMethod<Derived, void, Limits, AsyncVoidMethodBuilder>;

// start<Machine>(args...) — returns what Machine's builder_.task() returns (Task<T> for
// AsyncTaskMethodBuilder<T>, ValueTask<T> for the ValueTask builders, nothing for a builder
// without task(), such as an `async void` builder). Constructs a Machine from args (through a constructor, or as an
// aggregate whose first element is its AsyncMethod base), runs it synchronously to its first
// suspension or its end (builder_.start), and returns its task. The machine is a local of this
// function: if it suspends, the builder has moved it into the task's box.
template <class Machine, class... Args>
typename detail::start_result<Machine>::type start(Args&&... args) {
  static_assert(AsyncStateMachine<Machine>,
                "duet::start<Machine>: Machine must be move constructible and have a "
                "move_next() member");
  constexpr bool k_has_task = !std::is_void_v<typename detail::start_result<Machine>::type>;
  if constexpr (std::is_constructible_v<Machine, Args&&...>) {
    Machine m(std::forward<Args>(args)...);
    m.builder_.start(m);
    if constexpr (k_has_task) return m.builder_.task();
  } else {
    Machine m{{}, std::forward<Args>(args)...};
    m.builder_.start(m);
    if constexpr (k_has_task) return m.builder_.task();
  }
}

}  // namespace duet
