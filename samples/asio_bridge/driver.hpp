// asio_bridge — Boost.Asio operations awaited from duet methods through the completion token
// duet::use_task, with the io_context run by its own thread next to duet's pool.
//
//   async Task<string> EchoOnceAsync(TcpListener acceptor) {           // an Asio acceptor
//       Socket s = await acceptor.AcceptAsync();                       // state 0
//       int n = await s.ReadAsync(buf);                                // state 1
//       await s.WriteAsync(buf[..n]);                                  // state 2
//       return Encoding.ASCII.GetString(buf, 0, n);
//   }
//   async Task<string> WaitOrCancelAsync(Timer timer, CancellationToken token) {
//       try { await timer.WaitAsync(token); return "fired"; }           // state 0
//       catch (OperationCanceledException) { return "canceled"; }
//   }
//
// In duet: `acceptor.async_accept(duet::use_task)` is a Task<tcp::socket>,
// `s.async_read_some(buf, duet::use_task)` a Task<std::size_t>, `timer.async_wait(
// duet::use_task(token, timer))` a cancelable Task<>. The io_context's thread (IoContextThread)
// only runs Asio's reactor: each completion is posted to the pool, where the method resumes, so
// the output can say that no method code ran on the io thread. The order of events is fixed by
// main(): every line printed is the same on every run.
//
// The driver, shared by the three styles: main(). explicit.cpp, dsl.cpp and fiber.cpp define the
// two methods, each in its own style.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <duet/asio/io_context_thread.hpp>
#include <duet/asio/use_task.hpp>
#include <duet/duet.hpp>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// io_thread — the io_context's thread; on_io_thread counts method code that ran there (none may).
std::thread::id io_thread;
std::atomic<int> on_io_thread{0};
void check_thread() {
  if (std::this_thread::get_id() == io_thread) on_io_thread.fetch_add(1);
}

// Peer — an accepted socket and its buffer, on the heap: a state machine moves into its box at its
// first suspension, so memory a pending Asio operation writes into must not live inside it.
struct Peer {
  template <class Executor>
  explicit Peer(const Executor& ex) : socket(ex) {}
  tcp::socket socket;
  std::array<char, 64> buf{};
  std::size_t n = 0;
};

// The two methods; one set per style.
duet::Task<std::string> echo_once_async(tcp::acceptor& acceptor);
duet::Task<std::string> wait_or_cancel_async(net::steady_timer& timer, duet::CancellationToken token);

}  // namespace

int main() {
  duet::IoContextThread io;  // the io_context and the thread that runs it
  io_thread = io.thread_id();
  tcp::acceptor acceptor(io.context(), tcp::endpoint(net::ip::address_v4::loopback(), 0));

  std::printf("main: echo_once_async awaits an Asio accept on a loopback port\n");
  duet::Task<std::string> echo = echo_once_async(acceptor);
  tcp::socket client(io.context());
  client.connect(acceptor.local_endpoint());
  net::write(client, net::buffer(std::string("ping")));
  std::array<char, 16> reply{};
  const std::size_t got = client.read_some(net::buffer(reply));
  std::printf("main: the client got back \"%.*s\"; the method returned \"%s\"\n", static_cast<int>(got),
              reply.data(), echo.result().c_str());

  net::steady_timer due(io.context(), std::chrono::milliseconds(1));
  std::printf("main: a timer due in 1 ms: %s\n", wait_or_cancel_async(due, duet::CancellationToken::none()).result().c_str());

  net::steady_timer later(io.context(), std::chrono::hours(1));
  duet::CancellationTokenSource cts;
  duet::Task<std::string> waiting = wait_or_cancel_async(later, cts.token());
  std::printf("main: a timer due in 1 h: %s; canceling its token\n", duet::to_string(waiting.status()));
  cts.cancel();
  std::printf("main: the method caught the cancellation: %s\n", waiting.result().c_str());

  tcp::endpoint closed;
  {
    tcp::acceptor gone(io.context(), tcp::endpoint(net::ip::address_v4::loopback(), 0));
    closed = gone.local_endpoint();
  }
  tcp::socket refused(io.context());
  duet::Task<> connect = refused.async_connect(closed, duet::use_task);
  try {
    connect.wait();
    std::printf("main: connected?\n");
  } catch (const std::system_error& e) {
    std::printf("main: a refused connect faults the task with a std::system_error: %s\n",
                e.code() == std::errc::connection_refused ? "connection_refused" : e.what());
  }
  std::printf("main: method code that ran on the io_context's thread: %d times\n", on_io_thread.load());
  return 0;
}
