// bench/io/duet_hello.hpp — the keep-alive "hello" server (hello_protocol.h) on duet::net, shared
// by its three styles: duet_hello_explicit.cpp, duet_hello_dsl.cpp and duet_hello_fiber.cpp each
// define the two async methods below in their style; main() here is the rest of the program.
//
//   async Task AcceptLoopAsync(TcpListener listener) {
//       while (true) { Socket s = await listener.AcceptSocketAsync(); s.NoDelay = true;
//                      _ = SessionAsync(s); }                            // fire and forget
//   }
//   async Task SessionAsync(Socket s) {                                 // one per connection
//       var buf = new byte[512]; int state = 0;
//       try {
//           while (true) {
//               int n = await s.ReceiveAsync(buf);                      // 0 at end of stream
//               if (n == 0) break;
//               int requests = Scan(ref state, buf[..n]);
//               if (requests > 0) await s.SendAsync(Responses(requests));
//           }
//       } catch (SocketException) { }                                   // reset by the peer
//       s.Close();
//   }
//
// Threads: one pool worker runs every continuation (the default pool is set to one thread before
// the first connection), and duet::net's I/O thread runs the epoll loop and never user code: "1
// server thread + the I/O thread" of the benchmark (bench/io/io_bench.py).
// The connection (socket, parser state, 512-byte buffer) is a member of the session's state
// machine, as Roslyn hoists locals, so a session is one allocation (its box) besides the socket:
// a receive still waiting when the machine moves into its box follows it there
// (duet/detail/relocation.hpp). The fiber keeps it in its function object (the fiber's state).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <span>
#include <utility>

#include <duet/duet.hpp>

#include "hello_protocol.h"

namespace {

// Connection — what a session keeps per connection: the socket, its parser state, its buffer.
struct Connection {
  explicit Connection(duet::net::Socket s) : socket(std::move(s)) {}
  duet::net::Socket socket;
  int state = 0;
  std::array<std::byte, HELLO_READ_BUFFER> buf{};

  // scan(n) — the requests that end in the n bytes just received.
  int scan(std::size_t n) { return hello_scan(&state, reinterpret_cast<const char*>(buf.data()), n); }
};

// responses(count) — the bytes answering `count` requests.
inline std::span<const std::byte> responses(int count) {
  std::size_t len = 0;
  const char* p = hello_responses(static_cast<std::size_t>(count), &len);
  return std::as_bytes(std::span(p, len));
}

duet::Task<> accept_loop_async(duet::net::TcpListener& listener);
duet::Task<> session_async(duet::net::Socket socket);

}  // namespace

int main() {
  duet::ThreadPool& pool = duet::default_scheduler();
  pool.set_idle_timeout(std::chrono::milliseconds(1));  // the surplus worker retires at once
  if (!pool.set_min_threads(1) || !pool.set_max_threads(1)) {
    std::fprintf(stderr, "duet_hello: could not limit the pool to one thread\n");
    return 1;
  }
  duet::net::TcpListener listener(duet::net::IPEndPoint(duet::net::IPAddress::loopback(), 0));
  listener.start(4096);
  hello_announce(listener.local_endpoint().port());
  accept_loop_async(listener).wait();  // runs until the process is killed
}
