// src/core/idle_driver.hpp — IdleDriver: an event source a ThreadPool's idle worker waits on
// instead of its futex (tokio's "the parked worker drives the I/O driver", Go's netpoll in
// findrunnable). Private to the library: the socket engine (src/net/socket_engine.hpp) is the
// one driver; the pool knows nothing of sockets.
//
// A worker about to park registers as parked and re-checks every queue exactly as without a
// driver (scheduler.hpp, "Wake-ups"); only then, with nothing to run, it tries the driver's
// token. With the token it blocks in wait() where it would have blocked on its futex, so it is
// still parked: a waker that picks it calls interrupt() besides storing its futex word (the
// argument that no wake-up is lost is at ThreadPool::Impl::drive in thread_pool.cpp). When wait()
// returns, the worker leaves the parked state first (so its own posts do not try to wake it),
// then calls finish(): the driver hands out what it waited for (the posts land in the worker's
// own queues) and gives the token back. Then the worker runs what it was given. A running worker
// that runs out of local work first collects what the driver has ready without blocking (Go's
// findrunnable polls the network before it steals), before it searches the other workers.
#pragma once

#include "duet/core/scheduler.hpp"

namespace duet::detail {

class IdleDriver {
 public:
  // try_begin(parking) — takes the driver's token: true when the caller may call wait() and
  // must then call finish(). At most one thread holds the token. Never blocks. `parking`: the
  // caller is a parked worker that would wait (the driver may then arrange for a parked worker to
  // be woken when a holder that never waits gives the token back).
  virtual bool try_begin(bool parking) noexcept = 0;
  // wait(block) — with the token: collects what there is to hand out; with `block`, first waits
  // until there is something or interrupt() was called (since the token was taken, or during
  // the wait).
  virtual void wait(bool block) noexcept = 0;
  // finish() — with the token: hands out what wait() found (never runs user code: it posts),
  // then gives the token back.
  virtual void finish() noexcept = 0;
  // interrupt() — makes the current or next wait() return. Any thread.
  virtual void interrupt() noexcept = 0;

 protected:
  IdleDriver() = default;
  ~IdleDriver() = default;
  IdleDriver(const IdleDriver&) = delete;
  IdleDriver& operator=(const IdleDriver&) = delete;
};

// ThreadPoolAccess — the pool's internal hooks.
struct ThreadPoolAccess {
  // set_idle_driver(pool, d) — `d` (null: none) becomes the driver `pool`'s idle workers wait
  // on. Replacing or removing a driver returns only once no worker uses the old one any more
  // (it is interrupted meanwhile), so its owner may destroy it then.
  static void set_idle_driver(ThreadPool& pool, IdleDriver* d) noexcept;
  // wake_parked(pool) — wakes one parked worker, if any (a driver that held its token while a
  // worker wanted it: the worker parked on its futex instead and should come back to drive).
  static void wake_parked(ThreadPool& pool) noexcept;
};

}  // namespace duet::detail
