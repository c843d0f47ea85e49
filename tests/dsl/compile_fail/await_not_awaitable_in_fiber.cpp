#include "prelude.hpp"
// duet::await of something that is not awaitable: one error (require_awaitable's), no others.
duet::Task<> f() {
  return duet::fiber::async([] {
    int v = duet::await(42);
    (void)v;
  });
}
