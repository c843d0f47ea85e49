// src/net/socket.cpp — Socket and SocketContext (see src/net/socket_context.hpp for the locking
// and lifetime rules, duet/net/socket.hpp for the behaviour).
#include "duet/net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "duet/net/tcp.hpp"
#include "socket_context.hpp"
#include "socket_engine.hpp"

namespace {
// Socket operations are what watch buffers inside unboxed state machines, so linking this file
// turns the builders' relocation scopes on, before main() (detail/relocation.hpp).
const bool g_relocation_on = (duet::detail::enable_relocation(), true);
}  // namespace

namespace duet::net {
namespace detail {

// ---- OpQueue -------------------------------------------------------------------------------

void OpQueue::push(SocketOp& op) noexcept {
  op.next = nullptr;
  op.queue = this;
  if (tail_) {
    tail_->next = &op;
  } else {
    head_ = &op;
  }
  tail_ = &op;
}

void OpQueue::remove(SocketOp& op) noexcept {
  SocketOp* prev = nullptr;
  for (SocketOp* p = head_; p; prev = p, p = p->next) {
    if (p != &op) continue;
    (prev ? prev->next : head_) = p->next;
    if (tail_ == p) tail_ = prev;
    break;
  }
  op.next = nullptr;
  op.queue = nullptr;
}

SocketOp* OpQueue::pop() noexcept {
  SocketOp* op = head_;
  if (op) remove(*op);
  return op;
}

// ---- the syscalls --------------------------------------------------------------------------

namespace {
// end_of_stream(done, size) — read_exactly_async's EndOfStreamError.
std::exception_ptr end_of_stream(std::size_t done, std::size_t size) noexcept {
  try {
    return std::make_exception_ptr(EndOfStreamError(
        "duet::net::NetworkStream::read_exactly_async: the stream ended after " + std::to_string(done) +
        " of " + std::to_string(size) + " bytes (.NET's EndOfStreamException)"));
  } catch (...) {
    return std::current_exception();
  }
}

// receive_some(fd, buffer, received, fill) — recv() into buffer[received..] once (fill: until it
// is full): 1 done (received updated; 0 new bytes at end of stream), 0 EAGAIN, -errno on error.
int receive_some(int fd, std::span<std::byte> buffer, std::size_t& received, bool fill) noexcept {
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.data() + received, buffer.size() - received, 0);
    if (n > 0) {
      received += static_cast<std::size_t>(n);
      if (!fill || received == buffer.size()) return 1;
      continue;
    }
    if (n == 0) return 1;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}
}  // namespace

bool ReceiveOp::attempt(int fd) noexcept {
  const int r = receive_some(fd, buffer, received, fill);
  if (r == 0) return false;
  if (r < 0) {
    fail(ctx->error(-r, "receive"));
  } else if (fill && received < buffer.size()) {
    fail(end_of_stream(received, buffer.size()));
  }
  return true;
}

bool SendOp::attempt(int fd) noexcept {
  while (sent < buffer.size()) {
    const ssize_t n = ::send(fd, buffer.data() + sent, buffer.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    fail(ctx->error(errno, "send"));
    return true;
  }
  return true;
}

namespace {
// accept_once(fd, out) — accept4; true when done (out = the new descriptor, or -errno).
bool accept_once(int fd, int& out) noexcept {
  for (;;) {
    const int s = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      out = s;
      return true;
    }
    // A connection reset before it was accepted: take the next one (as .NET retries).
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    out = -errno;
    return true;
  }
}
}  // namespace

bool AcceptOp::attempt(int fd) noexcept {
  int r = -1;
  if (!accept_once(fd, r)) return false;
  if (r < 0) {
    fail(ctx->error(-r, "accept"));
  } else {
    accepted = r;
  }
  return true;
}

void AcceptOp::complete() noexcept {
  if (error_) {
    publish(Socket());
  } else {
    publish(SocketContext::adopt(std::exchange(accepted, -1)));
  }
}

namespace {
std::exception_ptr connect_error(int err, const IPEndPoint& endpoint) noexcept {
  try {
    return std::make_exception_ptr(SocketError(err, "connect to " + endpoint.to_string() + " failed"));
  } catch (...) {
    return std::current_exception();
  }
}
}  // namespace

bool ConnectOp::attempt(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
      if (errno == ENOTCONN) return false;  // still in progress
      err = errno;
    }
  }
  if (err != 0) fail(connect_error(err, endpoint));
  return true;
}

// ---- SocketContext -------------------------------------------------------------------------

SocketContext* SocketContext::create(AddressFamily family) {
  const int fd = ::socket(static_cast<int>(family), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SocketError(errno, "socket() failed");
  return new SocketContext(fd);
}

SocketContext::~SocketContext() {
  if (fd_ >= 0) ::close(fd_);
  delete send_op_;
}

int SocketContext::fd(const char* operation) const {
  std::lock_guard guard(lock_);
  if (closed_) throw_disposed(operation);
  return fd_;
}

int SocketContext::fd_or_closed() const noexcept {
  std::lock_guard guard(lock_);
  return fd_;
}

std::string SocketContext::describe() const {
  std::string s = "socket";
  if (fd_ < 0) return s + " (closed)";
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
      (a.ss_family == AF_INET || a.ss_family == AF_INET6)) {
    s += " ";  // appended piecewise: g++ 12 -O3 reports a false -Wrestrict on "lit" + str
    s += IPEndPoint::from_sockaddr(reinterpret_cast<const sockaddr&>(a)).to_string();
  }
  len = sizeof a;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    s += " -> ";  // appended piecewise: g++ 12 -O3 reports a false -Wrestrict on "lit" + str
    s += IPEndPoint::from_sockaddr(reinterpret_cast<const sockaddr&>(a)).to_string();
  }
  return s;
}

namespace {
// set_io_label(out, key, what, endpoint) — "what endpoint" as an I/O await's description; only
// `what` when the text cannot be built (out of memory).
void set_io_label(diagnostics::Awaited& out, const void* key, const char* what,
                  const IPEndPoint* endpoint) noexcept {
  try {
    if (endpoint) {
      std::string label = what;
      label += ' ';
      label += endpoint->to_string();
      out.set(diagnostics::AwaitKind::io, key, label.c_str());
      return;
    }
  } catch (...) {
  }
  out.set(diagnostics::AwaitKind::io, key, what);
}
}  // namespace

void SocketContext::diag_describe(const SocketOp& op, const void* key,
                                  diagnostics::Awaited& out) const noexcept {
  sockaddr_storage a{};
  bool named = false;
  {
    std::lock_guard guard(lock_);  // fd_ stays this socket's descriptor while we ask
    socklen_t len = sizeof a;
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    named = fd_ >= 0 &&
            (op.diag_own_endpoint() ? ::getsockname(fd_, sa, &len) : ::getpeername(fd_, sa, &len)) == 0 &&
            (a.ss_family == AF_INET || a.ss_family == AF_INET6);
  }
  if (named) {
    try {
      const IPEndPoint endpoint = IPEndPoint::from_sockaddr(reinterpret_cast<const sockaddr&>(a));
      set_io_label(out, key, op.diag_what(), &endpoint);
      return;
    } catch (...) {
    }
  }
  set_io_label(out, key, op.diag_what(), nullptr);
}

void ConnectOp::diag_describe(diagnostics::Awaited& out) const noexcept {
  set_io_label(out, static_cast<const IValueTaskSource<void>*>(this), diag_what(), &endpoint);
}

std::exception_ptr SocketContext::error(int errno_value, const char* operation) const noexcept {
  try {
    return std::make_exception_ptr(
        SocketError(errno_value, std::string(operation) + " on " + describe() + " failed"));
  } catch (...) {
    return std::current_exception();
  }
}

void SocketContext::throw_disposed(const char* operation) const {
  throw ObjectDisposedError(std::string("duet::net::Socket::") + operation +
                            ": the socket was closed (.NET's ObjectDisposedException); do not use "
                            "a Socket after close()");
}

void SocketContext::ensure_registered() {
  if (registered_) return;
  SocketEngine* engine = SocketEngine::running();
  if (!engine) {
    throw ObjectDisposedError("duet::net::Socket: the process is exiting and the socket engine has "
                              "stopped; an operation that has to wait cannot start now");
  }
  engine->add(*this, fd_);
  registered_ = true;
}

template <class T>
ValueTask<T> SocketContext::enqueue(OpQueue& q, ValueOp<T>& op, const CancellationToken& token,
                                    std::unique_lock<std::mutex>& guard) {
  add_ref();  // the operation's reference, dropped by finish()
  op.ctx = this;
  q.push(op);
  const short version = op.version();
  const bool cancelable = token.can_be_canceled();
  if (cancelable) op.token = token;
  guard.unlock();
  // Registered after the unlock: a token canceled meanwhile runs the callback at once, and it
  // takes the lock. The operation cannot be finished before this returns: its ValueTask does
  // not exist yet.
  if (cancelable) {
    try {
      op.registration = token.unsafe_register([&op] { op.ctx->cancel(op); });
    } catch (...) {
      // Out of memory for the callback node: the operation waits without cancellation support.
      // Undo the operation instead, so the caller sees the failure.
      abandon(op);
      op.finish();
      throw;
    }
  }
  return ValueTask<T>(op, version);
}

namespace {
// canceled_value_task(token) — a ValueTask canceled by `token` (.NET's
// ValueTask.FromCanceled(token)): an OperationCanceledError that carries the token.
template <class T>
ValueTask<T> canceled_value_task(const CancellationToken& token) {
  auto* s = new duet::detail::TaskState<T>();
  s->try_complete_exception(std::make_exception_ptr(OperationCanceledError(token)));
  return ValueTask<T>(duet::detail::adopt_task(s));
}
}  // namespace

void SocketContext::watch(SocketOp& op, const void* data, std::size_t size) {
  if (duet::detail::RelocationScope* scope = duet::detail::relocation_find(data, size)) [[unlikely]] {
    duet::detail::relocation_watch(*scope, op);
  }
}

ValueTask<std::size_t> SocketContext::receive(std::span<std::byte> buffer, const CancellationToken& token,
                                              bool fill) {
  if (buffer.empty()) {
    throw ArgumentError("duet::net::Socket::receive_async: the buffer is empty (size 0); pass a "
                        "buffer of at least one byte");
  }
  if (token.is_cancellation_requested()) return canceled_value_task<std::size_t>(token);
  std::unique_lock guard(lock_);
  if (closed_) throw_disposed("receive_async");
  std::size_t received = 0;
  if (read_queue_.empty()) {
    // The synchronous attempt: completes without registration or allocation when data is there.
    const int r = receive_some(fd_, buffer, received, fill);
    if (r < 0) return ValueTask<std::size_t>::from_exception(error(-r, "receive"));
    if (r > 0) {
      if (fill && received < buffer.size()) {
        return ValueTask<std::size_t>::from_exception(end_of_stream(received, buffer.size()));
      }
      return ValueTask<std::size_t>(received);
    }
  }
  ensure_registered();
  ReceiveOp* op = receive_op_.try_claim() ? &receive_op_ : new ReceiveOp(false);
  op->buffer = buffer;
  op->received = received;
  op->fill = fill;
  ValueTask<std::size_t> pending = enqueue(read_queue_, *op, token, guard);
  // Watched after the unlock: until the calling machine moves, its buffer is where it was.
  // Throwing (out of memory) drops `pending`, which abandons the operation.
  watch(*op, buffer.data(), buffer.size());
  return pending;
}

ValueTask<std::size_t> SocketContext::send(std::span<const std::byte> buffer, const CancellationToken& token) {
  if (buffer.empty()) {
    throw ArgumentError("duet::net::Socket::send_async: the buffer is empty (size 0); pass a "
                        "buffer of at least one byte");
  }
  if (token.is_cancellation_requested()) return canceled_value_task<std::size_t>(token);
  std::unique_lock guard(lock_);
  if (closed_) throw_disposed("send_async");
  std::size_t sent = 0;
  if (write_queue_.empty()) {
    while (sent < buffer.size()) {
      const ssize_t n = ::send(fd_, buffer.data() + sent, buffer.size() - sent, MSG_NOSIGNAL);
      if (n >= 0) {
        sent += static_cast<std::size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else if (errno != EINTR) {
        return ValueTask<std::size_t>::from_exception(error(errno, "send"));
      }
    }
    if (sent == buffer.size()) return ValueTask<std::size_t>(sent);
  }
  ensure_registered();
  if (send_op_ == nullptr) send_op_ = new SendOp(true);
  SendOp* op = send_op_->try_claim() ? send_op_ : new SendOp(false);
  op->buffer = buffer;
  op->sent = sent;
  ValueTask<std::size_t> pending = enqueue(write_queue_, *op, token, guard);
  watch(*op, buffer.data(), buffer.size());  // as receive's
  return pending;
}

ValueTask<Socket> SocketContext::accept(const CancellationToken& token) {
  if (token.is_cancellation_requested()) return canceled_value_task<Socket>(token);
  std::unique_lock guard(lock_);
  if (closed_) throw_disposed("accept_async");
  if (read_queue_.empty()) {
    int r = -1;
    if (accept_once(fd_, r)) {
      if (r < 0) return ValueTask<Socket>::from_exception(error(-r, "accept"));
      return ValueTask<Socket>(adopt(r));
    }
  }
  ensure_registered();
  auto* op = new AcceptOp();
  return enqueue(read_queue_, *op, token, guard);
}

ValueTask<> SocketContext::connect(const IPEndPoint& endpoint, const CancellationToken& token) {
  if (token.is_cancellation_requested()) return canceled_value_task<void>(token);
  std::unique_lock guard(lock_);
  if (closed_) throw_disposed("connect_async");
  sockaddr_storage sa{};
  const socklen_t len = endpoint.to_sockaddr(sa);
  int r;
  do {
    r = ::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), len);
  } while (r != 0 && errno == EINTR);
  if (r == 0) return ValueTask<>();
  if (errno != EINPROGRESS) return ValueTask<>::from_exception(connect_error(errno, endpoint));
  ensure_registered();
  auto* op = new ConnectOp();
  op->endpoint = endpoint;
  return enqueue(write_queue_, *op, token, guard);
}

void SocketContext::process(OpQueue& q, int fd) noexcept {
  while (SocketOp* op = q.front()) {
    if (op->paused) return;  // its buffer is moving: relocate(resume) retries the queue
    if (!op->attempt(fd)) return;
    q.pop();
    op->complete();
  }
}

void SocketContext::handle_events(std::uint32_t events) noexcept {
  std::lock_guard guard(lock_);
  if (closed_) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) process(read_queue_, fd_);
  if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) process(write_queue_, fd_);
}

void SocketContext::cancel(SocketOp& op) noexcept {
  std::lock_guard guard(lock_);
  if (op.queue == nullptr) return;  // completed (or closed) first
  op.queue->remove(op);
  try {
    op.fail(std::make_exception_ptr(OperationCanceledError(op.token)));
  } catch (...) {
    op.fail(std::current_exception());
  }
  op.complete();
}

void SocketContext::relocate(SocketOp& op, RelocationStep step, std::ptrdiff_t delta) noexcept {
  std::lock_guard guard(lock_);
  switch (step) {
    case RelocationStep::pause:
      op.paused = true;
      return;
    case RelocationStep::resume:
      op.rebase(delta);
      op.paused = false;
      // The engine may have skipped an edge while the operation was paused: retry the queue.
      if (!closed_ && op.queue) process(*op.queue, fd_);
      return;
    case RelocationStep::orphan:
      op.paused = false;
      if (op.queue == nullptr) return;  // already over: its buffer is not touched again
      OpQueue& q = *op.queue;
      q.remove(op);
      try {
        op.fail(std::make_exception_ptr(InvalidOperationError(
            std::string("duet::net::Socket: ") + describe() +
            ": a pending operation's buffer lies inside an async method's state machine that ended "
            "without suspending, so its memory is about to be freed; the operation was aborted "
            "instead of touching it. Await the operation in the method that owns the buffer "
            "before the method returns, or keep the buffer outside the state machine")));
      } catch (...) {
        op.fail(std::current_exception());
      }
      op.complete();
      if (!closed_) process(q, fd_);  // the next operation may be ready already
      return;
  }
}

void SocketOp::relocation_pause() noexcept { ctx->relocate(*this, SocketContext::RelocationStep::pause, 0); }
void SocketOp::relocation_resume(std::ptrdiff_t delta) noexcept {
  ctx->relocate(*this, SocketContext::RelocationStep::resume, delta);
}
void SocketOp::relocation_orphan() noexcept { ctx->relocate(*this, SocketContext::RelocationStep::orphan, 0); }

void SocketContext::abandon(SocketOp& op) noexcept {
  std::lock_guard guard(lock_);
  if (op.queue != nullptr) op.queue->remove(op);  // never attempted again: the buffer may go
}

void SocketContext::close() noexcept {
  std::lock_guard guard(lock_);
  if (closed_) return;
  if (!read_queue_.empty() || !write_queue_.empty()) {
    std::exception_ptr disposed;
    try {
      disposed = std::make_exception_ptr(ObjectDisposedError(
          "duet::net::Socket: " + describe() +
          " was closed while an operation was pending; the operation was aborted (.NET's "
          "ObjectDisposedException). Cancel or finish the socket's operations before close()"));
    } catch (...) {
      disposed = std::current_exception();
    }
    for (OpQueue* q : {&read_queue_, &write_queue_}) {
      while (SocketOp* op = q->pop()) {
        op->fail(disposed);
        op->complete();
      }
    }
  }
  closed_ = true;
  if (registered_) {
    // After exit stopped the engine, its epoll is gone: nothing to unregister from.
    if (SocketEngine* engine = SocketEngine::running()) engine->remove(*this, fd_);
    registered_ = false;
  }
  ::close(fd_);
  fd_ = -1;
}

}  // namespace detail

// ---- Socket --------------------------------------------------------------------------------

Socket::Socket(AddressFamily family) : ctx_(detail::SocketContext::create(family)) {}

Socket::Socket(Socket&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}

Socket& Socket::operator=(Socket&& o) noexcept {
  if (this != &o) {
    if (ctx_) {
      ctx_->close();
      ctx_->release();
    }
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}

Socket::~Socket() {
  if (ctx_) {
    ctx_->close();
    ctx_->release();
  }
}

detail::SocketContext& Socket::checked(const char* operation) const {
  if (!ctx_) {
    throw ObjectDisposedError(std::string("duet::net::Socket::") + operation +
                              ": this Socket holds no socket (default-constructed or moved from)");
  }
  return *ctx_;
}

ValueTask<> Socket::connect_async(const IPEndPoint& endpoint, CancellationToken token) {
  return checked("connect_async").connect(endpoint, token);
}
ValueTask<Socket> Socket::accept_async(CancellationToken token) {
  return checked("accept_async").accept(token);
}
ValueTask<std::size_t> Socket::receive_async(std::span<std::byte> buffer, CancellationToken token) {
  return checked("receive_async").receive(buffer, token);
}
ValueTask<std::size_t> Socket::receive_exactly_async(std::span<std::byte> buffer, CancellationToken token) {
  return checked("receive_async").receive(buffer, token, /*fill=*/true);
}
ValueTask<std::size_t> Socket::send_async(std::span<const std::byte> buffer, CancellationToken token) {
  return checked("send_async").send(buffer, token);
}

void Socket::bind(const IPEndPoint& endpoint) {
  detail::SocketContext& c = checked("bind");
  sockaddr_storage sa{};
  const socklen_t len = endpoint.to_sockaddr(sa);
  if (::bind(c.fd("bind"), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    throw SocketError(errno, "bind to " + endpoint.to_string() + " failed");
  }
}

void Socket::listen(int backlog) {
  detail::SocketContext& c = checked("listen");
  if (::listen(c.fd("listen"), backlog) != 0) std::rethrow_exception(c.error(errno, "listen"));
}

void Socket::shutdown(SocketShutdown how) {
  detail::SocketContext& c = checked("shutdown");
  const int h = how == SocketShutdown::receive ? SHUT_RD : how == SocketShutdown::send ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(c.fd("shutdown"), h) != 0) std::rethrow_exception(c.error(errno, "shutdown"));
}

void Socket::close() noexcept {
  if (ctx_) ctx_->close();
}

namespace {
bool get_flag(detail::SocketContext& c, int level, int name, const char* what) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(c.fd(what), level, name, &v, &len) != 0) std::rethrow_exception(c.error(errno, what));
  return v != 0;
}
void set_flag(detail::SocketContext& c, int level, int name, bool on, const char* what) {
  const int v = on ? 1 : 0;
  if (::setsockopt(c.fd(what), level, name, &v, sizeof v) != 0) std::rethrow_exception(c.error(errno, what));
}
}  // namespace

bool Socket::no_delay() const { return get_flag(checked("no_delay"), IPPROTO_TCP, TCP_NODELAY, "no_delay"); }
void Socket::set_no_delay(bool on) { set_flag(checked("set_no_delay"), IPPROTO_TCP, TCP_NODELAY, on, "set_no_delay"); }
bool Socket::reuse_address() const {
  return get_flag(checked("reuse_address"), SOL_SOCKET, SO_REUSEADDR, "reuse_address");
}
void Socket::set_reuse_address(bool on) {
  set_flag(checked("set_reuse_address"), SOL_SOCKET, SO_REUSEADDR, on, "set_reuse_address");
}

namespace {
// endpoint_of(c, name_fn, what) — getsockname / getpeername as an IPEndPoint.
IPEndPoint endpoint_of(detail::SocketContext& c, int (*name_fn)(int, sockaddr*, socklen_t*), const char* what) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (name_fn(c.fd(what), reinterpret_cast<sockaddr*>(&a), &len) != 0) std::rethrow_exception(c.error(errno, what));
  return IPEndPoint::from_sockaddr(reinterpret_cast<const sockaddr&>(a));
}
}  // namespace

IPEndPoint Socket::local_endpoint() const {
  return endpoint_of(checked("local_endpoint"), ::getsockname, "local_endpoint");
}
IPEndPoint Socket::remote_endpoint() const {
  return endpoint_of(checked("remote_endpoint"), ::getpeername, "remote_endpoint");
}

bool Socket::is_open() const noexcept { return ctx_ && ctx_->fd_or_closed() >= 0; }
bool Socket::engine_started() noexcept { return detail::SocketEngine::thread_started(); }
int Socket::handle() const noexcept { return ctx_ ? ctx_->fd_or_closed() : -1; }

}  // namespace duet::net
