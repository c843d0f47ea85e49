#include "prelude.hpp"
struct M : duet::AsyncMethod<M> {
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT(duet::yield());
      DUET_CATCH(std::exception, e)
        (void)e;
      // DUET_END_TRY is missing here
    DUET_END
  }
};
duet::Task<> f() { return duet::start<M>(); }
