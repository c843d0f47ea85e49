// src/net/socket_engine.cpp — the epoll loop (see socket_engine.hpp).
#include "socket_engine.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "duet/core/scheduler.hpp"
#include "duet/net/socket_error.hpp"
#include "socket_context.hpp"

namespace duet::net::detail {

namespace {
std::atomic<bool> g_thread_started{false};
std::atomic<bool> g_engine_destroyed{false};

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

SocketEngine* SocketEngine::running() {
  if (g_engine_destroyed.load(std::memory_order_acquire)) return nullptr;
  return &instance();
}

bool SocketEngine::thread_started() noexcept { return g_thread_started.load(std::memory_order_acquire); }

SocketEngine::SocketEngine() {
  ThreadPool& pool = duet::default_scheduler();  // the pool first: completions are posted to it
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
  thread_ = std::thread([this] { monitor(); });
  g_thread_started.store(true, std::memory_order_release);
  duet::detail::ThreadPoolAccess::set_idle_driver(pool, this);
}

SocketEngine::~SocketEngine() {
  g_engine_destroyed.store(true, std::memory_order_release);
  stopping_.store(true, std::memory_order_release);
  // No worker waits here after this returns; the token is then free or the thread's.
  duet::detail::ThreadPoolAccess::set_idle_driver(duet::default_scheduler(), nullptr);
  {
    std::lock_guard guard(stop_lock_);
    stop_ = true;
  }
  stop_cv_.notify_one();
  token_.notify_all();  // the thread may sleep on the token (given back since: it will see so)
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
  wake();  // whoever polls drops the reference after its batch
}

// ---- the token ------------------------------------------------------------------------------

bool SocketEngine::take() noexcept {
  std::uint32_t v = token_.load(std::memory_order_relaxed);
  while ((v & k_held) == 0) {
    if (token_.compare_exchange_weak(v, v | k_held, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      ready_ = 0;
      return true;
    }
  }
  return false;
}

bool SocketEngine::try_begin(bool parking) noexcept {
  if (!parking) return take();
  std::uint32_t v = token_.load(std::memory_order_relaxed);
  for (;;) {
    if ((v & k_held) == 0) {
      if (take()) return true;
      v = token_.load(std::memory_order_relaxed);
    } else if ((v & k_wanted) != 0 ||
               token_.compare_exchange_weak(v, v | k_wanted, std::memory_order_relaxed,
                                            std::memory_order_relaxed)) {
      // Held: by a worker, which runs what it found and comes back to wait; or by the engine's
      // thread, which wakes a parked worker when it gives the token back (give_back). The
      // caller is registered as parked already, so that wake-up can pick it.
      return false;
    }
  }
}

void SocketEngine::give_back(bool by_monitor) noexcept {
  const std::uint32_t v = token_.exchange(0, std::memory_order_acq_rel);
  if (v & k_sleeper) token_.notify_all();
  if (by_monitor && (v & k_wanted)) {
    duet::detail::ThreadPoolAccess::wake_parked(duet::default_scheduler());
  }
}

void SocketEngine::wait(bool block) noexcept {
  if (block) worker_waiting_.store(true, std::memory_order_release);
  const int n = ::epoll_wait(epoll_fd_, events_, k_batch, block ? -1 : 0);
  if (block) worker_waiting_.store(false, std::memory_order_relaxed);
  ready_ = n > 0 ? n : 0;  // EINTR: nothing
  worker_polls_.fetch_add(1, std::memory_order_relaxed);
}

void SocketEngine::finish() noexcept {
  handle();
  give_back(false);
}

void SocketEngine::handle() noexcept {
  const int n = std::exchange(ready_, 0);
  for (int i = 0; i < n; ++i) {
    auto* ctx = static_cast<SocketContext*>(events_[i].data.ptr);
    if (ctx == nullptr) {
      std::uint64_t drained = 0;
      [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &drained, sizeof drained);
      continue;
    }
    ctx->handle_events(events_[i].events);
  }
  polls_.fetch_add(1, std::memory_order_relaxed);
  // Every context removed before this point left epoll before the batch just handled was
  // returned or while it was handled: no later batch (a later token holder's) can name it.
  SocketContext* releasing = nullptr;
  {
    std::lock_guard guard(release_lock_);
    releasing = std::exchange(to_release_, nullptr);
  }
  release_all(releasing);
}

// ---- the engine's thread ----------------------------------------------------------------------

bool SocketEngine::poll_now() noexcept {
  bool found = false;
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events_, k_batch, 0);
    ready_ = n > 0 ? n : 0;
    for (int i = 0; i < ready_ && !found; ++i) found = events_[i].data.ptr != nullptr;
    handle();
    if (n < k_batch) break;
  }
  give_back(true);
  return found;
}

void SocketEngine::sleep_while_held() noexcept {
  std::uint32_t v = token_.load(std::memory_order_relaxed);
  while ((v & k_held) != 0) {
    if ((v & k_sleeper) != 0 ||
        token_.compare_exchange_weak(v, v | k_sleeper, std::memory_order_relaxed,
                                     std::memory_order_relaxed)) {
      token_.wait(v | k_sleeper, std::memory_order_acquire);
      v = token_.load(std::memory_order_relaxed);
    }
  }
}

void SocketEngine::monitor() noexcept {
  using std::chrono::milliseconds;
  constexpr milliseconds k_tick_min{1};
  constexpr milliseconds k_tick_max{10};
  milliseconds tick = k_tick_min;
  std::uint64_t seen = polls_.load(std::memory_order_relaxed);
  for (;;) {
    {
      std::unique_lock lock(stop_lock_);
      if (stop_cv_.wait_for(lock, tick, [this] { return stop_; })) return;
    }
    const std::uint64_t now = polls_.load(std::memory_order_relaxed);
    if (now != seen) {  // driven by a worker since the last look
      seen = now;
      tick = std::min(tick * 2, k_tick_max);
      continue;
    }
    if (take()) {
      const bool found = poll_now();
      seen = polls_.load(std::memory_order_relaxed);
      tick = found ? k_tick_min : std::min(tick * 2, k_tick_max);
      continue;
    }
    // Held for a whole tick with no poll finished: a parked worker waits in epoll_wait.
    if (stopping_.load(std::memory_order_acquire)) continue;
    sleep_while_held();
    seen = polls_.load(std::memory_order_relaxed);
    tick = k_tick_min;
  }
}

}  // namespace duet::net::detail
