// src/net/socket_engine.cpp — the epoll loop (see socket_engine.hpp).
#include "socket_engine.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "duet/core/scheduler.hpp"
#include "duet/net/socket_error.hpp"
#include "socket_context.hpp"

namespace duet::net::detail {

namespace {
std::atomic<bool> g_thread_started{false};

void release_all(SocketContext* list) noexcept {
  while (list) {
    SocketContext* next = list->release_next;
    list->release();
    list = next;
  }
}
}  // namespace

SocketEngine& SocketEngine::instance() {
  // Destroyed at exit: the destructor stops and joins the loop. The default pool, which the loop
  // posts to, is never destroyed (core/scheduler.hpp), so no event can reach a dead scheduler.
  static SocketEngine engine;
  return engine;
}

bool SocketEngine::thread_started() noexcept { return g_thread_started.load(std::memory_order_acquire); }

SocketEngine::SocketEngine() {
  (void)duet::default_scheduler();  // the pool first: completions are posted to it
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw SocketError(errno, "epoll_create1 for the socket engine failed");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const int err = errno;
    ::close(epoll_fd_);
    throw SocketError(err, "eventfd for the socket engine failed");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: read until drained
  ev.data.ptr = nullptr;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int err = errno;
    ::close(wake_fd_);
    ::close(epoll_fd_);
    throw SocketError(err, "epoll_ctl for the socket engine's wake-up failed");
  }
  thread_ = std::thread([this] { loop(); });
  g_thread_started.store(true, std::memory_order_release);
}

SocketEngine::~SocketEngine() {
  stopping_.store(true, std::memory_order_release);
  wake();
  if (thread_.joinable()) thread_.join();
  release_all(to_release_);
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void SocketEngine::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t r = ::write(wake_fd_, &one, sizeof one);
}

void SocketEngine::add(SocketContext& ctx, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &ctx;
  ctx.add_ref();
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    ctx.release();
    throw SocketError(err, "registering the socket with epoll failed");
  }
}

void SocketEngine::remove(SocketContext& ctx, int fd) noexcept {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  {
    std::lock_guard guard(release_lock_);
    ctx.release_next = to_release_;
    to_release_ = &ctx;
  }
  wake();
}

void SocketEngine::loop() noexcept {
  constexpr int k_batch = 256;
  epoll_event events[k_batch];
  while (!stopping_.load(std::memory_order_acquire)) {
    const int n = ::epoll_wait(epoll_fd_, events, k_batch, -1);
    for (int i = 0; i < n; ++i) {
      auto* ctx = static_cast<SocketContext*>(events[i].data.ptr);
      if (ctx == nullptr) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &drained, sizeof drained);
        continue;
      }
      ctx->handle_events(events[i].events);
    }
    // Every context removed before this point left epoll before the batch just handled was
    // returned or while it was handled: no later batch can name it.
    SocketContext* releasing = nullptr;
    {
      std::lock_guard guard(release_lock_);
      releasing = std::exchange(to_release_, nullptr);
    }
    release_all(releasing);
  }
}

}  // namespace duet::net::detail
