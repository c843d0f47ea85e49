#include "prelude.hpp"
struct M : duet::AsyncMethod<M, int> {
  void move_next() {
    DUET_BEGIN
      int n = 3;  // must be a member: it lives across the await
      DUET_AWAIT(duet::yield());
      DUET_RETURN(n);
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
