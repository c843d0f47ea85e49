// bench/io/duet_hello_fiber.cpp — the duet hello server (duet_hello.hpp), fiber style: the two
// methods as straight-line code on fibers; duet::await suspends the fiber, not the thread.
#include "duet_hello.hpp"

namespace {

duet::Task<> accept_loop_async(duet::net::TcpListener& listener) {
  return duet::fiber::async([&listener] {
    for (;;) {
      duet::net::Socket s = duet::await(listener.accept_socket_async());
      s.set_no_delay(true);
      (void)session_async(std::move(s));  // fire and forget
    }
  });
}

duet::Task<> session_async(duet::net::Socket socket) {
  return duet::fiber::async([c = Connection(std::move(socket))]() mutable {
    try {
      for (;;) {
        const std::size_t n = duet::await(c.socket.receive_async(c.buf));
        if (n == 0) break;
        const int requests = c.scan(n);
        if (requests > 0) duet::await(c.socket.send_async(responses(requests)));
      }
    } catch (const duet::net::SocketError&) {  // reset by the peer
    }
    c.socket.close();
  });
}

}  // namespace
