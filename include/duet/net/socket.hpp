// duet/net/socket.hpp — Socket, a TCP socket whose operations await without holding a thread
// (.NET's System.Net.Sockets.Socket, its ValueTask-returning methods).
//
// How an operation runs (.NET's SocketAsyncContext on Linux; the engine: src/net/socket_engine.hpp)
// --------------------------------------------------------------------------------------------
//  1. receive_async / send_async / accept_async / connect_async first try the non-blocking
//     syscall. When it completes, the returned ValueTask is already complete: no registration
//     with epoll, no allocation.
//  2. Only EAGAIN queues the operation on the socket's read (receive, accept) or write (send,
//     connect) queue; the socket is registered with the engine's edge-triggered epoll once, at
//     its first wait. Operations of one queue complete in order: a second receive started while
//     one waits runs after it (.NET's OperationQueue).
//  3. The engine's thread (one per process, started at the first wait, stopped at exit) retries
//     the queued syscalls when epoll reports readiness and posts the awaiting continuation to its
//     SynchronizationContext or the thread pool. It never runs user code.
//  4. A waiting receive and a waiting send each use one reusable IValueTaskSource embedded in the
//     socket (.NET's AwaitableSocketAsyncEventArgs): in steady state nothing is allocated. A
//     second concurrent operation of the same kind gets an allocated one.
//
// Errors: a failed syscall throws (or faults the ValueTask with) SocketError naming the operation
// and the endpoint; a canceled token completes a waiting operation with OperationCanceledError
// and leaves the socket usable; close() completes waiting operations with ObjectDisposedError and
// unregisters the socket; any call on a closed socket throws ObjectDisposedError.
//
// Differences from .NET (README, "Differences from .NET"): an empty buffer is an ArgumentError
// (.NET allows a zero-byte receive as a readiness wait); destroying the ValueTask of a waiting
// operation without awaiting it cancels the operation (C++ has no GC to keep the buffer alive);
// send_async completes when every byte was sent, as .NET's does on a stream socket.
//
// Buffers: the memory passed to a waiting operation must stay alive until the operation
// completes. A buffer may be a member of an explicit or dsl state machine: the machine moves into
// its box at its first suspension, and an operation still waiting with a buffer inside it follows
// it there (duet/detail/relocation.hpp). If the machine ends without ever suspending while such
// an operation still waits, the operation ends with InvalidOperationError instead of touching
// the freed frame. A fiber's stack never moves.
//
// Thread-safety: the operations may be started from any thread and concurrently with each other;
// close() may race with them. Moving or destroying a Socket must not race with anything.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "duet/net/ip_address.hpp"
#include "duet/net/socket_error.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/value_task/value_task.hpp"

namespace duet::net {

namespace detail {
class SocketContext;
}  // namespace detail

// SocketShutdown — which direction shutdown() disables (.NET's SocketShutdown).
enum class SocketShutdown { receive, send, both };

// Socket — a TCP stream socket. Move-only; the destructor closes it.
class NetworkStream;

class Socket {
 public:
  // Socket() — no socket (is_open() false); every operation throws ObjectDisposedError.
  Socket() noexcept = default;
  // Socket(family) — a new non-blocking TCP socket. Throws SocketError (too_many_open_sockets...).
  explicit Socket(AddressFamily family);
  Socket(Socket&& o) noexcept;
  Socket& operator=(Socket&& o) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  // ---- operations (see the header comment) -----------------------------------------------
  // connect_async(endpoint, token) — connects. SocketError connection_refused, ... naming the
  // endpoint.
  ValueTask<> connect_async(const IPEndPoint& endpoint, CancellationToken token = {});
  // accept_async(token) — the next pending connection of a listening socket.
  ValueTask<Socket> accept_async(CancellationToken token = {});
  // receive_async(buffer, token) — reads up to buffer.size() bytes; 0 at end of stream.
  // ArgumentError for an empty buffer.
  ValueTask<std::size_t> receive_async(std::span<std::byte> buffer, CancellationToken token = {});
  // send_async(buffer, token) — writes every byte of `buffer`; returns buffer.size(). ArgumentError
  // for an empty buffer. The buffer must stay alive until the ValueTask completes.
  ValueTask<std::size_t> send_async(std::span<const std::byte> buffer, CancellationToken token = {});

  // ---- synchronous calls -----------------------------------------------------------------
  // bind(endpoint) / listen(backlog) — as .NET's. SocketError address_already_in_use, ...
  void bind(const IPEndPoint& endpoint);
  void listen(int backlog = 512);
  // shutdown(how) — disables sends and/or receives; the peer sees end of stream after a send
  // shutdown. Throws SocketError not_connected on an unconnected socket.
  void shutdown(SocketShutdown how);
  // close() — closes the socket: waiting operations complete with ObjectDisposedError, the
  // socket leaves the engine's epoll. Idempotent.
  void close() noexcept;

  // Options (.NET's NoDelay, ExclusiveAddressUse/ReuseAddress socket options).
  bool no_delay() const;
  void set_no_delay(bool on);
  bool reuse_address() const;
  void set_reuse_address(bool on);

  // local_endpoint() / remote_endpoint() — getsockname / getpeername. SocketError not_connected
  // for the remote endpoint of an unconnected socket.
  IPEndPoint local_endpoint() const;
  IPEndPoint remote_endpoint() const;

  // is_open() — false after close(), for a default or moved-from socket.
  bool is_open() const noexcept;
  // engine_started() — whether the process's socket engine (its epoll set, driven by idle pool
  // workers, and its fallback thread) exists yet: it starts at the first operation that has to
  // wait.
  static bool engine_started() noexcept;
  // handle() — the file descriptor (.NET's Handle); -1 when closed.
  int handle() const noexcept;

 private:
  friend class detail::SocketContext;
  friend class NetworkStream;
  explicit Socket(detail::SocketContext* ctx) noexcept : ctx_(ctx) {}
  // receive_exactly_async(buffer, token) — one receive that completes when `buffer` is full
  // (EndOfStreamError when the stream ends first): NetworkStream::read_exactly_async.
  ValueTask<std::size_t> receive_exactly_async(std::span<std::byte> buffer, CancellationToken token);
  detail::SocketContext& checked(const char* operation) const;

  detail::SocketContext* ctx_ = nullptr;
};

}  // namespace duet::net
