// when_all — DSL style: the same two methods as explicit.cpp; the DUET_* macros write
// move_next(). The program is driver.hpp.
#include "driver.hpp"

namespace {

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
      DUET_AWAIT_INTO(a_, do_work("DoWorkA", 1000ms, 1));
      DUET_AWAIT_INTO(b_, do_work("DoWorkB", 2000ms, 2));
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);

      std::puts("when_all:");
      start_ = now_ms();
      DUET_AWAIT_INTO(both_, duet::when_all(do_work("DoWorkA", 1000ms, 1),
                                            do_work("DoWorkB", 2000ms, 2)));
      std::tie(a_, b_) = both_;
      std::printf("  result %d, elapsed %lld ms\n", a_ + b_, now_ms() - start_);
    DUET_END
  }
};


duet::Task<int> do_work(const char* name, std::chrono::milliseconds delay, int value) {
  return duet::start<DoWork>(name, delay, value);
}

duet::Task<> main_async() { return duet::start<MainAsync>(); }

}  // namespace
