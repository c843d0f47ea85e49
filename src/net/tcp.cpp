// src/net/tcp.cpp — TcpListener, TcpClient, NetworkStream. The loops are DSL methods
// (sm/dsl.hpp) on pooled ValueTask builders: nothing is allocated when the socket completes at
// once, nothing in steady state when it waits.
#include "duet/net/tcp.hpp"

#include <string>
#include <utility>

#include "duet/sm/dsl.hpp"

namespace duet::net {

NetworkStream::NetworkStream(Socket&& socket, bool owns_socket) : socket_(nullptr) {
  if (!owns_socket) {
    throw ArgumentError("duet::net::NetworkStream(Socket&&, owns_socket = false): a moved-in "
                        "socket must be owned; pass owns_socket = true or a Socket& instead");
  }
  owned_ = std::move(socket);
  socket_ = &owned_;
}

namespace {

// WriteAll — `await socket.SendAsync(buffer)` as a ValueTask (send_async already sends it all).
struct WriteAll : duet::PoolingAsyncValueTaskMethod<WriteAll> {
  Socket* socket_;
  std::span<const std::byte> buffer_;
  CancellationToken token_;
  WriteAll(Socket& s, std::span<const std::byte> b, CancellationToken t)
      : socket_(&s), buffer_(b), token_(std::move(t)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(socket_->send_async(buffer_, token_));
    DUET_END
  }
};

// ReadExactly — `await stream.ReadExactlyAsync(buffer)` as a ValueTask over one filling receive
// (Socket::receive_exactly_async, started by read_exactly_async): the machine holds nothing of the
// caller's, so a buffer inside the caller's state machine may move with it meanwhile
// (duet/net/socket.hpp).
struct ReadExactly : duet::PoolingAsyncValueTaskMethod<ReadExactly> {
  ValueTask<std::size_t> receive_;
  explicit ReadExactly(ValueTask<std::size_t> receive) : receive_(std::move(receive)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(std::move(receive_));
    DUET_END
  }
};

}  // namespace

ValueTask<> NetworkStream::write_async(std::span<const std::byte> buffer, CancellationToken token) {
  return duet::start<WriteAll>(*socket_, buffer, std::move(token));
}

ValueTask<> NetworkStream::read_exactly_async(std::span<std::byte> buffer, CancellationToken token) {
  if (buffer.empty()) return ValueTask<>();
  return duet::start<ReadExactly>(socket_->receive_exactly_async(buffer, std::move(token)));
}

void TcpListener::start(int backlog) {
  Socket s(endpoint_.address_family());
  s.set_reuse_address(true);
  s.bind(endpoint_);
  s.listen(backlog);
  server_ = std::move(s);
}

ValueTask<Socket> TcpListener::accept_socket_async(CancellationToken token) {
  if (!server_.is_open()) {
    throw InvalidOperationError("duet::net::TcpListener::accept_socket_async: the listener is not "
                                "started (or was stopped); call start() first");
  }
  return server_.accept_async(std::move(token));
}

IPEndPoint TcpListener::local_endpoint() const {
  return server_.is_open() ? server_.local_endpoint() : endpoint_;
}

ValueTask<> TcpClient::connect_async(const IPEndPoint& endpoint, CancellationToken token) {
  socket_ = Socket(endpoint.address_family());
  socket_.set_no_delay(true);
  return socket_.connect_async(endpoint, std::move(token));
}

}  // namespace duet::net
