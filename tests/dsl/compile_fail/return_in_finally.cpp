#include "prelude.hpp"
struct M : duet::AsyncMethod<M, int> {
  void move_next() {
    DUET_BEGIN
      DUET_TRY
      DUET_FINALLY
        DUET_RETURN(1);  // C# CS0157
      DUET_END_TRY
      DUET_RETURN(0);
    DUET_END
  }
};
duet::Task<int> f() { return duet::start<M>(); }
