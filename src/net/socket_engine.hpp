// src/net/socket_engine.hpp — SocketEngine: the process's epoll loop (.NET's SocketAsyncEngine on
// Linux). Private to src/net.
//
// One thread, started by the first socket that has to wait (SocketEngine::instance()), stopped at
// exit. It waits in epoll_wait on every registered socket (edge-triggered: EPOLLIN | EPOLLOUT |
// EPOLLRDHUP | EPOLLET, registered once per socket) and hands each readiness to the socket's
// SocketContext, which retries its queued syscalls and posts the completed operations'
// continuations. The loop never runs user code.
//
// Unregistering: a closed socket leaves epoll at once (EPOLL_CTL_DEL), but a batch of events
// that epoll_wait returned before may still name it; so the engine's reference to the context is
// dropped by the loop after the batch it is processing (defer_release), never while a pointer to
// the context may still be in flight.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

namespace duet::net::detail {

class SocketContext;

class SocketEngine {
 public:
  // instance() — the engine, its thread started at the first call. Throws SocketError when
  // epoll or the thread cannot be created.
  static SocketEngine& instance();

  // add(ctx, fd) — registers `fd` for edge-triggered readiness on behalf of `ctx`, which gains a
  // reference the engine drops after remove(). Throws SocketError.
  void add(SocketContext& ctx, int fd);
  // remove(ctx, fd) — unregisters `fd`; the engine's reference to `ctx` is released by the loop
  // once no event naming it can still be delivered.
  void remove(SocketContext& ctx, int fd) noexcept;

  // thread_started() — whether the loop thread exists (tests, samples).
  static bool thread_started() noexcept;

  SocketEngine(const SocketEngine&) = delete;
  SocketEngine& operator=(const SocketEngine&) = delete;
  ~SocketEngine();

 private:
  SocketEngine();
  void loop() noexcept;
  void wake() noexcept;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd registered with data.ptr == nullptr
  std::atomic<bool> stopping_{false};
  std::mutex release_lock_;
  SocketContext* to_release_ = nullptr;  // linked through SocketContext::release_next
  std::thread thread_;
};

}  // namespace duet::net::detail
