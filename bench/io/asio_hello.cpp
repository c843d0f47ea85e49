// bench/io/asio_hello.cpp — the I/O benchmark's baseline: the keep-alive "hello" server
// (hello_protocol.h) on Boost.Asio callbacks, one thread running one io_context. The idiomatic
// shape of Asio's own examples: a session object owned by a shared_ptr that each pending
// callback holds, a read buffer of HELLO_READ_BUFFER bytes per connection, read -> write -> read.
#include <array>
#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "hello_protocol.h"

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : socket_(std::move(s)) {}
  void read() {
    socket_.async_read_some(net::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec,
                                                                            std::size_t n) {
      if (ec) return;  // closed or reset: the session dies with its last callback
      const int requests = hello_scan(&self->state_, self->buf_.data(), n);
      if (requests == 0) return self->read();
      std::size_t len = 0;
      const char* out = hello_responses(requests, &len);
      net::async_write(self->socket_, net::buffer(out, len),
                       [self](boost::system::error_code wec, std::size_t) {
                         if (!wec) self->read();
                       });
    });
  }

 private:
  tcp::socket socket_;
  int state_ = 0;
  std::array<char, HELLO_READ_BUFFER> buf_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->read();
    }
    accept(acceptor);
  });
}

}  // namespace

int main() {
  net::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  acceptor.listen(4096);
  hello_announce(acceptor.local_endpoint().port());
  accept(acceptor);
  io.run();
}
