// when_all — seeds 001/003 in the fiber style: "compose; don't await sequentially". Two
// independent operations (1 s and 2 s) awaited one after the other take 3 s; started together
// and awaited through when_all they take 2 s. Time is virtual (samples/common/virtual_time.hpp),
// so the printed elapsed times are exact. Each DoWork call is its own fiber; when_all awaits the
// two fibers' tasks exactly as it awaits two state machines' tasks.
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
#include <duet/fiber/fiber.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

samples::VirtualTimeLoop* g_loop = nullptr;

long long now_ms() { return static_cast<long long>(g_loop->elapsed().count()); }

// do_work(name, delay, value) — awaits a delay, reports when it finished, returns value.
duet::Task<int> do_work(const char* name, std::chrono::milliseconds delay, int value) {
  return duet::fiber::async([name, delay, value] {
    duet::await(duet::delay(delay));
    std::printf("  %s finished at %lld ms\n", name, now_ms());
    return value;
  });
}

duet::Task<> main_async() {
  return duet::fiber::async([] {
    std::puts("Sequential awaits:");
    long long start = now_ms();
    int a = duet::await(do_work("DoWorkA", 1000ms, 1));
    int b = duet::await(do_work("DoWorkB", 2000ms, 2));
    std::printf("  result %d, elapsed %lld ms\n", a + b, now_ms() - start);

    std::puts("when_all:");
    start = now_ms();
    std::tie(a, b) = duet::await(duet::when_all(do_work("DoWorkA", 1000ms, 1), do_work("DoWorkB", 2000ms, 2)));
    std::printf("  result %d, elapsed %lld ms\n", a + b, now_ms() - start);
  });
}

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  g_loop = &loop;
  loop.run([] { return main_async(); });
  return 0;
}
