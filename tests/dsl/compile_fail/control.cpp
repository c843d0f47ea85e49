// The control case: the same prelude and a correct method compile, so the failures above are
// caused by the misuse and not by the harness.
#include "prelude.hpp"
struct M : duet::AsyncMethod<M, int> {
  int n_ = 3;
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT(duet::yield());
      DUET_FINALLY
        n_ += 1;
      DUET_END_TRY
      DUET_RETURN(n_);
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
