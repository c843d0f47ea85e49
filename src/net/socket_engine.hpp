// src/net/socket_engine.hpp — SocketEngine: the process's epoll loop (.NET's SocketAsyncEngine on
// Linux). Private to src/net.
//
// One epoll set, created by the first socket that has to wait (SocketEngine::instance()), closed
// at exit. Sockets are registered once (edge-triggered: EPOLLIN | EPOLLOUT | EPOLLRDHUP |
// EPOLLET); each readiness is handed to the socket's SocketContext, which retries its queued
// syscalls and posts the completed operations' continuations. Handling never runs user code.
//
// Who waits in epoll_wait (the poll token)
// ----------------------------------------
// At most one thread polls at a time: whoever holds the token (an atomic) polls, handles the
// batch, drops the deferred references (below), then gives it back. Two kinds of thread take it:
//  * an idle pool worker (the engine is default_scheduler()'s IdleDriver, core/idle_driver.hpp;
//    tokio's parked worker driving the I/O driver, Go's netpoll in findrunnable). A worker with
//    nothing to run waits in epoll_wait(-1) instead of its futex; a waker that picks it writes
//    the engine's eventfd. When events come, the worker handles them itself, so the
//    continuations land in its own queues and run next on the same thread: no thread switch
//    between the readiness and the continuation (with the I/O thread in between, each batch cost
//    two on a busy core: I/O thread -> worker -> I/O thread).
//  * the engine's own thread, the fallback (Go's sysmon). Every worker may be busy, or blocked
//    in a synchronous wait on a socket operation (receive_async(...).result() on the only
//    worker): then nobody parks and nobody polls. The thread wakes every tick; when no poll
//    finished since its last look and the token is free, it polls without blocking (again while
//    a batch comes back full) and posts what it found (to the global queue: it is no worker).
//    The tick is 1 ms after a poll of its own found events and doubles, up to 10 ms, after each
//    look that found the engine driven by others or nothing to do, so a process whose workers
//    drive the engine wakes the thread at most 100 times a second. When the token has been held
//    for a whole tick with no poll finished (a parked worker waiting in epoll_wait: the process
//    is idle), the thread sleeps on the token word until it is given back, so an idle process
//    does not wake at all.
//    A worker that wants the token while the thread holds it marks the token `wanted` and parks
//    on its futex; the thread, giving the token back, then wakes a parked worker
//    (ThreadPoolAccess::wake_parked), which comes back and drives. Without that the worker would
//    sleep on its futex with nobody in epoll_wait until the thread's next tick.
// The thread never blocks in epoll_wait: it never holds the token while a worker could.
//
// Unregistering: a closed socket leaves epoll at once (EPOLL_CTL_DEL), but a batch of events
// that epoll_wait returned before may still name it; so the engine's reference to the context is
// dropped by the token holder after the batch it is processing (defer_release), never while a
// pointer to the context may still be in flight. The token makes batches sequential: a later
// batch is returned by a later epoll_wait, after the EPOLL_CTL_DEL.
//
// Shutdown (the destructor, at exit): the engine leaves the pool first (set_idle_driver(null)
// returns once no worker is inside it, interrupting one that waits), then stops and joins its
// thread, then drops the remaining references and closes the descriptors.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "../core/idle_driver.hpp"

namespace duet::net::detail {

class SocketContext;

class SocketEngine final : public duet::detail::IdleDriver {
 public:
  // instance() — the engine, its thread started at the first call. Throws SocketError when
  // epoll or the thread cannot be created.
  static SocketEngine& instance();

  // running() — the engine: started at the first call; null once exit destroyed it (a socket
  // used by code still running at exit then fails its wait instead of touching a dead engine).
  static SocketEngine* running();

  // add(ctx, fd) — registers `fd` for edge-triggered readiness on behalf of `ctx`, which gains a
  // reference the engine drops after remove(). Throws SocketError.
  void add(SocketContext& ctx, int fd);
  // remove(ctx, fd) — unregisters `fd`; the engine's reference to `ctx` is released by the loop
  // once no event naming it can still be delivered.
  void remove(SocketContext& ctx, int fd) noexcept;

  // thread_started() — whether the engine's thread exists (tests, samples).
  static bool thread_started() noexcept;

  // Tests: epoll_wait calls handled so far, those of them made by pool workers, and whether a
  // worker waits in epoll_wait now (or is about to).
  std::uint64_t polls() const noexcept { return polls_.load(std::memory_order_relaxed); }
  std::uint64_t worker_polls() const noexcept {
    return worker_polls_.load(std::memory_order_relaxed);
  }
  bool worker_waiting() const noexcept { return worker_waiting_.load(std::memory_order_acquire); }

  // IdleDriver: a parked worker of default_scheduler() drives the engine (the header comment).
  bool try_begin(bool parking) noexcept override;
  void wait(bool block) noexcept override;
  void finish() noexcept override;
  void interrupt() noexcept override { wake(); }

  SocketEngine(const SocketEngine&) = delete;
  SocketEngine& operator=(const SocketEngine&) = delete;
  ~SocketEngine();

 private:
  SocketEngine();
  // take() — takes the token if it is free (the engine's thread; try_begin also marks it
  // wanted when it is not).
  bool take() noexcept;
  // monitor() — the engine's thread: the fallback poller (the header comment).
  void monitor() noexcept;
  // poll_now() — with the token: polls without blocking until a batch comes back short, handing
  // everything out; gives the token back. True when it found socket events.
  bool poll_now() noexcept;
  // handle() — with the token: hands out the ready_ events of the last epoll_wait and drops the
  // deferred references.
  void handle() noexcept;
  // give_back() — releases the token; wakes the thread sleeping on it, or a parked worker that
  // wanted it while the engine's thread held it (`by_monitor`).
  void give_back(bool by_monitor) noexcept;
  // sleep_while_held() — the engine's thread: sleeps until the token is given back (returns at
  // once when it is free).
  void sleep_while_held() noexcept;
  void wake() noexcept;

  // Token bits.
  static constexpr std::uint32_t k_held = 1;     // someone polls
  static constexpr std::uint32_t k_sleeper = 2;  // the engine's thread sleeps on the word
  static constexpr std::uint32_t k_wanted = 4;   // a worker found it held and parked
  static constexpr int k_batch = 256;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd registered with data.ptr == nullptr
  alignas(64) std::atomic<std::uint32_t> token_{0};
  std::atomic<std::uint64_t> polls_{0};
  std::atomic<std::uint64_t> worker_polls_{0};
  std::atomic<bool> worker_waiting_{false};
  // The token holder's batch.
  int ready_ = 0;
  epoll_event events_[k_batch];
  alignas(64) std::atomic<bool> stopping_{false};
  std::mutex release_lock_;
  SocketContext* to_release_ = nullptr;  // linked through SocketContext::release_next
  std::mutex stop_lock_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_lock_: the engine's thread leaves
  std::thread thread_;
};

}  // namespace duet::net::detail
