#include "prelude.hpp"
struct M : duet::AsyncMethod<M> {
  void move_next() {
    DUET_BEGIN
      DUET_RETURN(1);  // Task<> returns no value
    DUET_END
  }
};
duet::Task<> f() { return duet::start<M>(); }
