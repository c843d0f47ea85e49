#include "prelude.hpp"
// The issue-12 example written with DUET_LOCAL, the sanctioned form of a DSL local: its
// initializer makes the jump to the await's resume label ill-formed.
struct M : duet::AsyncMethod<M, int> {
  duet::Task<> a_ = duet::completed_task();
  void move_next() {
    DUET_BEGIN
      DUET_LOCAL(int, n);
      n = 1234;
      DUET_AWAIT(a_);
      DUET_RETURN(n);
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
