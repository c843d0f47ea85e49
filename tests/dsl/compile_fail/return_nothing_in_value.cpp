#include "prelude.hpp"
struct M : duet::AsyncMethod<M, int> {
  void move_next() {
    DUET_BEGIN
      DUET_RETURN();  // Task<int> needs a value
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
