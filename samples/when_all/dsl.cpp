// when_all — seeds 001/003 in the DUET_* macro DSL: "compose; don't await sequentially". The same
// two methods as explicit.cpp; the macros write move_next(). Two independent operations (1 s and
// 2 s) awaited one after the other take 3 s; started together and awaited through when_all they
// take 2 s. Time is virtual (samples/common/virtual_time.hpp), so the elapsed times are exact.
//
//   async Task<int> DoWorkA() { await Task.Delay(1000); return 1; }
//   async Task<int> DoWorkB() { await Task.Delay(2000); return 2; }
//   async Task Main() {
//     var start = now;
//     int a = await DoWorkA(); int b = await DoWorkB();            // sequential
//     print(a + b, now - start);
//     start = now;
//     var (x, y) = await Task.WhenAll(DoWorkA(), DoWorkB());      // concurrent
//     print(x + y, now - start);
//   }
#include <chrono>
#include <cstdio>
#include <tuple>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

samples::VirtualTimeLoop* g_loop = nullptr;

long long now_ms() { return static_cast<long long>(g_loop->elapsed().count()); }

// DoWork(name, delay, value) — awaits a delay, reports when it finished, returns value.
struct DoWork : duet::AsyncMethod<DoWork, int> {
  const char* name_;
  std::chrono::milliseconds delay_;
  int value_;
  long long started_ = 0;

  DoWork(const char* name, std::chrono::milliseconds delay, int value)
      : name_(name), delay_(delay), value_(value) {}

  void move_next() {
    DUET_BEGIN
      started_ = now_ms();
      DUET_AWAIT(duet::delay(delay_));
      std::printf("  %s finished at %lld ms\n", name_, now_ms());
      DUET_RETURN(value_);
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  long long start_ = 0;
  int a_ = 0;
  int b_ = 0;
  std::tuple<int, int> both_;

  void move_next() {
    DUET_BEGIN
      std::puts("Sequential awaits:");
      start_ = now_ms();
      DUET_AWAIT_INTO(a_, duet::start<DoWork>("DoWorkA", 1000ms, 1));
      DUET_AWAIT_INTO(b_, duet::start<DoWork>("DoWorkB", 2000ms, 2));
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);

      std::puts("when_all:");
      start_ = now_ms();
      DUET_AWAIT_INTO(both_, duet::when_all(duet::start<DoWork>("DoWorkA", 1000ms, 1),
                                            duet::start<DoWork>("DoWorkB", 2000ms, 2)));
      std::tie(a_, b_) = both_;
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);
    DUET_END
  }
};

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  g_loop = &loop;
  loop.run([] { return duet::start<MainAsync>(); });
  return 0;
}
