// when_all — fiber style: each DoWork call is its own fiber; when_all awaits the two fibers'
// tasks exactly as it awaits two state machines' tasks. The program is driver.hpp.
#include "driver.hpp"

namespace {

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
    std::tie(a, b) =
        duet::await(duet::when_all(do_work("DoWorkA", 1000ms, 1), do_work("DoWorkB", 2000ms, 2)));
    std::printf("  result %d, elapsed %lld ms\n", a + b, now_ms() - start);
  });
}

}  // namespace
