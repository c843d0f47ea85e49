// duet/fiber/async_stream.hpp — duet::fiber::async_stream<T>(body): an async stream whose
// producer is straight-line code on a fiber (C#'s `async IAsyncEnumerable<T>` written as a
// generator):
//
//   auto pages = duet::fiber::async_stream<std::string>([](duet::fiber::StreamYield<std::string>& yield) {
//     struct Closed { ~Closed() { std::printf("closed\n"); } } finally;   // or try/catch(...)
//     for (int page = 1; page <= 3; ++page) {
//       std::string body = duet::await(fetch_page_async(page, yield.token()));  // may await
//       yield(body);                                                          // yield return
//     }
//   });
//
// Each enumeration runs body(yield) on a new fiber, started by the first move_next_async.
// yield(v) hands v to the consumer (move_next_async completes true) and parks the fiber until the
// next move_next_async. On early dispose the parked yield(v) throws duet::fiber::StreamDisposed,
// which unwinds the fiber's stack — destructors and catch(...) { ...; throw; } blocks run, the
// fiber style's finally — and ends the stream. Do not swallow StreamDisposed: a body that
// catches it and yields again gets InvalidOperationError.
//
// One allocation per enumeration (the producer object; the fiber's control block and stack come
// from their pools), none per item.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "duet/coord/async_stream.hpp"
#include "duet/fiber/fiber.hpp"

namespace duet::fiber {

// StreamDisposed — thrown by a parked yield(v) when the consumer disposes the stream early.
struct StreamDisposed {};

template <class T>
class StreamYield;

namespace detail {

template <class T, class F>
class FiberStream final : public duet::detail::AsyncIteratorCore<T> {
 public:
  FiberStream(F body, const FiberOptions& options) : body_(std::move(body)), yield_(*this), options_(options) {
    done_.invoke = &FiberStream::on_fiber_done;
  }

  // yield_value(v) — on the fiber: publish v, park until the next move_next_async / dispose.
  template <class U>
  void yield_value(U&& v) {
    if (this->dispose_mode()) {
      throw InvalidOperationError(
          "duet::fiber::async_stream: yield(v) after the stream was disposed: the body caught "
          "StreamDisposed and went on yielding; rethrow it (or let it propagate)");
    }
    resume_.reset();
    const short version = resume_.version();
    this->on_yield(std::forward<U>(v));
    const bool go_on = duet::await(ValueTask<bool>(resume_source_, version));
    if (!go_on) throw StreamDisposed{};
  }

 private:
  struct Done : Continuation {
    FiberStream* self = nullptr;
  };
  // Run — the fiber's function: the body, and the key a consumer awaiting this stream names
  // (diagnostics link the fiber's frame to the consumer's move_next_async through it).
  struct Run {
    FiberStream* self;
    void operator()() const { self->body_(self->yield_); }
    const void* diag_self_key() const noexcept { return self->diag_self_key(); }
  };

  void step() override {
    if (fiber_ended_) {  // entered from on_fiber_done: report the end
      try {
        fiber_.wait();
        this->on_end();
      } catch (const StreamDisposed&) {
        this->on_end();
      } catch (...) {
        this->on_error(std::current_exception());
      }
      return;
    }
    if (!fiber_.valid()) {
      fiber_ = duet::fiber::async(Run{this}, options_);
      done_.self = this;
      if (!fiber_.state()->try_add_continuation(done_)) on_fiber_done(&done_);
      return;
    }
    resume_.set_result(!this->dispose_mode());  // the parked yield(v) returns (or throws)
  }

  static void on_fiber_done(Continuation* c) noexcept {
    FiberStream& self = *static_cast<Done*>(c)->self;
    self.fiber_ended_ = true;
    self.run_step();
  }

  // ResumeSource — what the parked yield awaits: the consumer's next move_next_async (true) or
  // dispose (false).
  struct ResumeSource final : IValueTaskSource<bool> {
    explicit ResumeSource(FiberStream& o) noexcept : owner(o) {}
    ValueTaskSourceStatus get_status(short token) override { return owner.resume_.get_status(token); }
    void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
      owner.resume_.on_completed(c, token, flags);
    }
    bool get_result(short token) override { return owner.resume_.get_result(token); }
    // diag_describe(out) — parked at a yield: not an await of anything (diag/diagnostics.hpp), so
    // the fiber is not recorded, as an explicit or dsl iterator at a yield is not suspended.
    void diag_describe(diagnostics::Awaited& out) const noexcept override {
      out.set(diagnostics::AwaitKind::parked, this, "the consumer's next move_next_async");
    }
    FiberStream& owner;
  };

  F body_;
  StreamYield<T> yield_;
  Task<> fiber_;
  Done done_;
  ManualResetValueTaskSourceCore<bool> resume_;
  ResumeSource resume_source_{*this};
  FiberOptions options_;
  bool fiber_ended_ = false;

  template <class>
  friend class duet::fiber::StreamYield;
};

}  // namespace detail

// StreamYield<T> — the `yield` a fiber stream's body receives: yield(v) is `yield return v;`,
// token() the enumeration's token (.NET's [EnumeratorCancellation] parameter).
template <class T>
class StreamYield {
 public:
  template <class Stream>
  explicit StreamYield(Stream& s) noexcept
      : self_(&s),
        push_([](void* p, T&& v) { static_cast<Stream*>(p)->yield_value(std::move(v)); }),
        token_([](void* p) -> const CancellationToken& { return static_cast<Stream*>(p)->token(); }) {}
  StreamYield(const StreamYield&) = delete;
  StreamYield& operator=(const StreamYield&) = delete;

  void operator()(T v) { push_(self_, std::move(v)); }
  const CancellationToken& token() const { return token_(self_); }

 private:
  void* self_;
  void (*push_)(void*, T&&);
  const CancellationToken& (*token_)(void*);
};

// async_stream<T>(body, options) — see the header comment. body(StreamYield<T>&) is copied into
// every enumeration; each runs on a fiber made with `options` (FiberOptions::name is what
// diagnostics call the producer).
template <class T, class F>
AsyncStream<T> async_stream(F body, FiberOptions options = {}) {
  static_assert(std::is_invocable_v<F&, StreamYield<T>&>,
                "duet::fiber::async_stream<T>(body): body must be callable as body(StreamYield<T>&)");
  return AsyncStream<T>([body = std::move(body), options](const CancellationToken& token) -> IAsyncEnumerator<T>* {
    auto* s = new detail::FiberStream<T, F>(body, options);
    s->set_token(token);
    return s;
  });
}

}  // namespace duet::fiber
