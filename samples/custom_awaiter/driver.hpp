// custom_awaiter — seed 003's "A Simple Custom Awaiter": await works on anything that follows the
// awaiter pattern, so a plain number of seconds can be awaited.
//
//   public static MyIntAwaiter GetAwaiter(this int seconds) => new MyIntAwaiter(seconds);
//   public struct MyIntAwaiter : INotifyCompletion {
//     public bool IsCompleted => false;
//     public void OnCompleted(Action continuation) =>
//         Task.Delay(TimeSpan.FromSeconds(_seconds)).ContinueWith(_ => continuation());
//     public void GetResult() { }
//   }
//   await 5;
//
// C# finds GetAwaiter as an extension method on int. duet's lookup (duet/awaiter.hpp) is the C++
// one: a member get_awaiter(), else a free get_awaiter(x) found by argument-dependent lookup,
// else duet::awaitable_traits<T>. ADL looks in the namespaces of the argument's type — and an
// int has none — so the int gets its seconds type: seconds_awaiter::Seconds, an int with a
// namespace, whose free get_awaiter (below) ADL finds; `5_s` spells one. The bare `await 5` of
// the seed is kept too: awaitable_traits<int> hands the int to the same free get_awaiter.
//
// The awaiter prints each step of the pattern as the await drives it — get_awaiter, is_completed,
// (unsafe_)on_completed, get_result — so the output shows that every style's await makes the same
// calls in the same order. Its timer is a duet::delay on the virtual clock
// (samples/common/virtual_time.hpp), so "5 seconds" pass at once and the times printed are exact.
//
// The driver, shared by the three styles: the awaitable, main() and the clock. explicit.cpp,
// dsl.cpp and fiber.cpp define wait_async(), the method that awaits, each in its own style.
#pragma once

#include <chrono>
#include <cstdio>
#include <utility>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

namespace {

using samples::now_ms;

}  // namespace

namespace seconds_awaiter {

// Seconds — a number of seconds to wait: an int with a namespace for ADL to search.
struct Seconds {
  int value;
};

// 5_s — Seconds{5}.
constexpr Seconds operator""_s(unsigned long long n) { return Seconds{static_cast<int>(n)}; }

// SecondsAwaiter — MyIntAwaiter. Never completed up front (IsCompleted => false, as the seed), so
// every await suspends; a delay of that many seconds resumes the awaiting method. The delay is
// started when the awaiter is made, not in unsafe_on_completed: registering must not throw (the
// builder's await_unsafe_on_completed is noexcept), and making the delay can (bad_alloc) — from
// here it faults the awaiting method as any throwing await operand does.
class SecondsAwaiter {
 public:
  SecondsAwaiter() = default;  // for a state machine's awaiter field, as a C# struct's default
  explicit SecondsAwaiter(Seconds s)
      : seconds_(s.value), delay_(duet::delay(std::chrono::seconds(s.value))) {}

  bool is_completed() const noexcept {
    std::printf("  is_completed(): false -> the method suspends\n");
    return false;
  }
  // on_completed(c) / unsafe_on_completed(c) — `Task.Delay(...).ContinueWith(_ => continuation())`:
  // the delay's own awaiter registers c, capturing the SynchronizationContext (the loop) as every
  // await does; on_completed also flows the ExecutionContext.
  void on_completed(duet::Continuation& c) noexcept {
    trace_register();
    delay_.get_awaiter().on_completed(c);
  }
  void unsafe_on_completed(duet::Continuation& c) noexcept {
    trace_register();
    delay_.get_awaiter().unsafe_on_completed(c);
  }
  void get_result() const {
    std::printf("  get_result(): the %d s delay is over at %lld ms\n", seconds_, now_ms());
    delay_.get_awaiter().get_result();  // rethrows, should the delay have failed
  }

 private:
  void trace_register() const {
    std::printf("  on_completed(continuation): a %d s delay will resume the method\n", seconds_);
  }

  int seconds_ = 0;
  duet::Task<> delay_;
};

// get_awaiter(s) — the free function ADL finds for `await Seconds{...}` (GetAwaiter(this int)).
inline SecondsAwaiter get_awaiter(Seconds s) {
  std::printf("  get_awaiter(Seconds{%d}): the free function, found by ADL\n", s.value);
  return SecondsAwaiter(s);
}

}  // namespace seconds_awaiter

// `await 5` on a bare int: an int has no namespace for ADL, so the trait hands it to the same
// free get_awaiter.
template <>
struct duet::awaitable_traits<int> {
  static seconds_awaiter::SecondsAwaiter get_awaiter(int seconds) {
    std::printf("  awaitable_traits<int>::get_awaiter(%d): an int, as Seconds{%d}\n", seconds,
                seconds);
    return seconds_awaiter::get_awaiter(seconds_awaiter::Seconds{seconds});
  }
};

namespace {

using seconds_awaiter::operator""_s;

static_assert(duet::Awaitable<seconds_awaiter::Seconds>, "free get_awaiter, found by ADL");
static_assert(duet::Awaitable<int>, "awaitable_traits<int>");

// say(what) — one line of WaitAsync's own, with the virtual time it runs at.
void say(const char* what) { std::printf("WaitAsync: %s at %lld ms\n", what, now_ms()); }

// wait_async() — `async Task WaitAsync() { await 5; ...; await 2_s; ... }`; one per style.
duet::Task<> wait_async();

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  loop.run([] { return wait_async(); });
  std::printf("main: finished at %lld ms of virtual time\n", now_ms());
  return 0;
}
