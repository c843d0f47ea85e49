#include "prelude.hpp"
struct M : duet::AsyncMethod<M> {
  int k_ = 0;
  void move_next() {
    DUET_BEGIN
      switch (k_) {
        case 0:
          DUET_AWAIT(duet::yield());  // the label would belong to this switch
          break;
        default:
          break;
      }
    DUET_END
  }
};
duet::Task<> f() { return duet::start<M>(); }
