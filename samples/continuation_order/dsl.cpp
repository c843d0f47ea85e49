// continuation_order — DSL style: the same two methods as explicit.cpp; the DUET_* macros write
// move_next(). The program is driver.hpp.
#include "driver.hpp"

namespace {

struct PourAsync : duet::AsyncMethod<PourAsync> {
  void move_next() {
    DUET_BEGIN
      std::puts("2. PourAsync: before await");
      DUET_AWAIT(duet::delay(100ms));
      std::puts("4. PourAsync: after await (continuation)");
    DUET_END
  }
};

struct MainAsync : duet::AsyncMethod<MainAsync> {
  duet::Task<> pour_;  // hoisted local `pour`

  void move_next() {
    DUET_BEGIN
      std::puts("A. before await");
      DUET_AWAIT(duet::delay(100ms));
      std::puts("B. after await (this line is the continuation)");
      std::puts("C. end of part one");

      std::puts("1. start");
      pour_ = pour_async();  // runs synchronously up to its first await
      std::puts("3. Main keeps going while PourAsync waits");
      DUET_AWAIT(pour_);
      std::puts("5. done");
    DUET_END
  }
};

duet::Task<> pour_async() { return duet::start<PourAsync>(); }
duet::Task<> main_async() { return duet::start<MainAsync>(); }

}  // namespace
