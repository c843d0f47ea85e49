#include "prelude.hpp"
struct M : duet::AsyncMethod<M, int> {
  int x_ = 0;
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, 42);  // an int is not awaitable
      DUET_RETURN(x_);
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
