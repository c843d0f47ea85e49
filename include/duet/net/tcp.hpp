// duet/net/tcp.hpp — TcpListener, TcpClient and NetworkStream (System.Net.Sockets'), the
// conveniences over Socket (duet/net/socket.hpp).
//
// Thread-safety: as Socket: operations from any thread; construction, moving and destruction
// must not race with anything.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>

#include "duet/net/ip_address.hpp"
#include "duet/net/socket.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/value_task/value_task.hpp"

namespace duet::net {

// EndOfStreamError — the stream ended before the bytes asked for arrived (.NET's
// EndOfStreamException): read_exactly_async.
class EndOfStreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// NetworkStream — a Socket seen as a stream (.NET's NetworkStream). Does not own the socket
// unless constructed with owns_socket = true.
class NetworkStream {
 public:
  explicit NetworkStream(Socket& socket) noexcept : socket_(&socket) {}
  // NetworkStream(socket, true) — owns `socket` (.NET's ownsSocket).
  NetworkStream(Socket&& socket, bool owns_socket);
  // Moving a stream that owns its socket moves the socket with it (so a state machine may keep
  // one as a member); one that borrows a Socket keeps pointing at that Socket.
  NetworkStream(NetworkStream&& o) noexcept
      : owned_(std::move(o.owned_)), socket_(o.socket_ == &o.owned_ ? &owned_ : o.socket_) {}
  NetworkStream& operator=(NetworkStream&& o) noexcept {
    if (this != &o) {
      const bool owning = o.socket_ == &o.owned_;
      owned_ = std::move(o.owned_);
      socket_ = owning ? &owned_ : o.socket_;
    }
    return *this;
  }
  NetworkStream(const NetworkStream&) = delete;
  NetworkStream& operator=(const NetworkStream&) = delete;

  // read_async(buffer, token) — Socket::receive_async: up to buffer.size() bytes, 0 at end.
  ValueTask<std::size_t> read_async(std::span<std::byte> buffer, CancellationToken token = {}) {
    return socket_->receive_async(buffer, token);
  }
  // write_async(buffer, token) — sends every byte. No allocation when the send completes at once;
  // pooled state machines when it has to wait.
  ValueTask<> write_async(std::span<const std::byte> buffer, CancellationToken token = {});
  // read_exactly_async(buffer, token) — fills `buffer`; EndOfStreamError when the stream ends
  // first (.NET 7's ReadExactlyAsync). One socket operation that completes when the buffer is
  // full, so a buffer inside a state machine follows the machine into its box as a receive's does.
  ValueTask<> read_exactly_async(std::span<std::byte> buffer, CancellationToken token = {});

  Socket& socket() noexcept { return *socket_; }
  // close() — closes the socket (owned or not).
  void close() noexcept { socket_->close(); }

 private:
  Socket owned_;
  Socket* socket_;
};

// TcpListener — listens for TCP connections (.NET's TcpListener).
class TcpListener {
 public:
  // TcpListener(endpoint) — nothing happens until start(). Port 0: an ephemeral port, known
  // after start() from local_endpoint().
  explicit TcpListener(const IPEndPoint& endpoint) : endpoint_(endpoint) {}
  // start(backlog) — socket, SO_REUSEADDR, bind, listen. SocketError address_already_in_use...
  void start(int backlog = 512);
  // accept_socket_async(token) — the next connection. InvalidOperationError before start().
  ValueTask<Socket> accept_socket_async(CancellationToken token = {});
  // stop() — closes the listening socket: a waiting accept completes with ObjectDisposedError.
  void stop() noexcept { server_.close(); }
  // local_endpoint() — the bound endpoint (the real port after start()).
  IPEndPoint local_endpoint() const;
  Socket& server() noexcept { return server_; }

 private:
  IPEndPoint endpoint_;
  Socket server_;
};

// TcpClient — a connected TCP socket and its stream (.NET's TcpClient).
class TcpClient {
 public:
  TcpClient() = default;
  explicit TcpClient(Socket&& connected) noexcept : socket_(std::move(connected)), stream_(socket_) {}
  TcpClient(TcpClient&&) = delete;
  // connect_async(endpoint, token) — creates the socket (no_delay on) and connects it.
  ValueTask<> connect_async(const IPEndPoint& endpoint, CancellationToken token = {});
  NetworkStream& get_stream() noexcept { return stream_; }
  Socket& client() noexcept { return socket_; }
  bool connected() const noexcept { return socket_.is_open(); }
  void close() noexcept { socket_.close(); }

 private:
  Socket socket_;
  NetworkStream stream_{socket_};
};

}  // namespace duet::net
