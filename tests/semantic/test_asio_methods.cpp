// tests/semantic/test_asio_methods.cpp — the Asio bridge (duet/asio/use_task.hpp) inside async
// methods, in every style: a socket read over loopback, a steady_timer, a resolver, a signal_set,
// a Beast HTTP request/response round trip, an error_code becoming a std::system_error, a
// canceled token canceling the pending operation (the method ends canceled), a token already
// canceled never starting the operation, and an io_context destroyed with an operation pending.
//
// Determinism: the test thread runs the io_context itself (run_one / poll) and the completions go
// to a QueueScheduler (use_task.on(queue_)) the test drains, so each step is observed where it
// happens: after the io_context ran the handler the method has NOT resumed (the handler only
// posts), and it resumes when the test drains the queue. No sleeps; loopback only. One test runs
// the real arrangement (IoContextThread and the default pool) and checks that the continuation
// never ran on the io thread.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <duet/asio/io_context_thread.hpp>
#include <duet/asio/use_task.hpp>
#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"
#include "queue_scheduler.hpp"

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace semantic {
namespace {

using duet::Task;
using duet::TaskStatus;

// Loopback — a connected pair of sockets on 127.0.0.1 (set up synchronously).
struct Loopback {
  explicit Loopback(net::io_context& io) : acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
                                           client(io), server(io) {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  tcp::acceptor acceptor;
  tcp::socket client;
  tcp::socket server;
};

template <class S>
class AsioMethods : public duet::testing::DuetTest {
 protected:
  // pump(t) — runs the io_context and the completion queue until `t` completed (bounded: every
  // test's operations complete on their own over loopback).
  template <class T>
  void pump(const Task<T>& t) {
    for (int i = 0; i < 10000 && !t.is_completed(); ++i) {
      io_.restart();
      io_.run_one_for(100ms);
      queue_.drain();
    }
    ASSERT_TRUE(t.is_completed()) << "the operation never completed";
  }
  duet::UseTask on_queue() { return duet::use_task.on(queue_); }

  duet::testing::QueueScheduler queue_;
  net::io_context io_{1};
};
TYPED_TEST_SUITE(AsioMethods, AllStyles, StyleName);

// ---- a socket read -----------------------------------------------------------------------------

TYPED_TEST(AsioMethods, ASocketReadResumesTheMethodFromTheSchedulerWithTheBytes) {
  Loopback lo(this->io_);
  std::array<char, 64> buf{};
  // async Task<string> M() { int n = await server.ReadAsync(buf); return new string(buf, 0, n); }
  Task<std::string> t = TypeParam::task(
      nop, [&] { return lo.server.async_read_some(net::buffer(buf), this->on_queue()); },
      [&](std::size_t n) { return std::string(buf.data(), n); });
  EXPECT_FALSE(t.is_completed()) << "no data was sent yet";

  net::write(lo.client, net::buffer(std::string("hello")));
  EXPECT_EQ(this->io_.run_one(), 1u);  // the reactor reports the read: the handler runs here
  EXPECT_FALSE(t.is_completed()) << "the handler only posts: no user code on the io thread";
  EXPECT_EQ(this->queue_.size(), 1u);
  this->queue_.drain();
  ASSERT_TRUE(t.is_completed());
  EXPECT_EQ(t.result(), "hello");
}

TYPED_TEST(AsioMethods, AnErrorCodeBecomesASystemErrorTheMethodCanCatch) {
  tcp::endpoint closed;
  {
    tcp::acceptor a(this->io_, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    closed = a.local_endpoint();
  }  // nothing listens there any more: connect is refused
  tcp::socket s(this->io_);
  const std::array<tcp::endpoint, 1> candidates{closed};
  // async Task<string> M() { try { await s.ConnectAsync(candidates); return "connected"; }
  //                          catch (SystemError e) { await Task.CompletedTask; return e.Code; } }
  Task<std::string> t = TypeParam::template try_recover<std::system_error>(
      [&] { return net::async_connect(s, candidates, this->on_queue()); },
      [](const tcp::endpoint&) { return std::string("connected"); },
      [](const std::system_error&) { return duet::from_result(0); },
      [](const std::system_error& e, int) {
        return std::string(e.code() == std::errc::connection_refused ? "refused" : "other: ") +
               (e.code() == std::errc::connection_refused ? "" : e.what());
      });
  this->pump(t);
  EXPECT_EQ(t.result(), "refused");
}

TYPED_TEST(AsioMethods, AnUncaughtAsioErrorFaultsTheMethodWithTheBoostCodeKept) {
  Loopback lo(this->io_);
  std::array<char, 8> buf{};
  lo.client.close();  // the peer closed: the read ends with boost::asio::error::eof
  Task<std::size_t> t = TypeParam::task(
      nop, [&] { return lo.server.async_read_some(net::buffer(buf), this->on_queue()); },
      [](std::size_t n) { return n; });
  this->pump(t);
  ASSERT_EQ(t.status(), TaskStatus::faulted);
  try {
    t.result();
    FAIL() << "result() of a faulted task returned";
  } catch (const duet::AsioError& e) {
    EXPECT_EQ(e.asio_code(), net::error::eof);
    EXPECT_NE(std::string(e.what()).find("End of file"), std::string::npos) << e.what();
  }
}

// ---- timers, resolvers, signal sets ------------------------------------------------------------

TYPED_TEST(AsioMethods, ASteadyTimerThatExpiredResumesTheMethodOnceTheIoContextRanIt) {
  net::steady_timer timer(this->io_);
  timer.expires_at(net::steady_timer::clock_type::time_point::min());  // already due
  Task<std::string> t = TypeParam::task(
      nop, [&] { return timer.async_wait(this->on_queue()); }, [] { return std::string("fired"); });
  EXPECT_FALSE(t.is_completed()) << "an Asio operation never completes inside its initiation";
  EXPECT_EQ(this->io_.run_one(), 1u);
  EXPECT_FALSE(t.is_completed());
  this->queue_.drain();
  EXPECT_EQ(t.result(), "fired");
}

TYPED_TEST(AsioMethods, AResolverAndASignalSetGiveTheirValues) {
  tcp::resolver resolver(this->io_);
  Task<std::string> r = TypeParam::task(
      nop, [&] { return resolver.async_resolve("127.0.0.1", "8080", tcp::resolver::numeric_host, this->on_queue()); },
      [](const tcp::resolver::results_type& res) {
        return res.empty() ? std::string("none") : res.begin()->endpoint().address().to_string() + ":" +
                                                       std::to_string(res.begin()->endpoint().port());
      });
  this->pump(r);
  EXPECT_EQ(r.result(), "127.0.0.1:8080");

  net::signal_set signals(this->io_, SIGUSR2);
  Task<int> s = TypeParam::task(nop, [&] { return signals.async_wait(this->on_queue()); },
                                [](int signo) { return signo; });
  std::raise(SIGUSR2);
  this->pump(s);
  EXPECT_EQ(s.result(), SIGUSR2);
}

// ---- cancellation ------------------------------------------------------------------------------

TYPED_TEST(AsioMethods, ACanceledTokenCancelsThePendingOperationAndTheMethodEndsCanceled) {
  net::steady_timer timer(this->io_);
  timer.expires_after(24h);
  duet::CancellationTokenSource cts;
  int after = 0;
  Task<int> t = TypeParam::task(
      nop, [&] { return timer.async_wait(this->on_queue()(cts.token(), timer)); },
      [&] { return ++after; });
  EXPECT_EQ(this->io_.poll(), 0u) << "a 24 h timer is pending";
  cts.cancel();  // posts timer.cancel() to the timer's executor
  EXPECT_FALSE(t.is_completed());
  this->pump(t);
  EXPECT_EQ(t.status(), TaskStatus::canceled);
  EXPECT_EQ(after, 0) << "the code after the await never ran";
  try {
    t.result();
    FAIL() << "result() of a canceled task returned";
  } catch (const duet::OperationCanceledError& e) {
    EXPECT_EQ(e.token(), cts.token()) << "the method rethrew the token's cancellation";
  }
}

TYPED_TEST(AsioMethods, ACanceledReadLeavesTheSocketUsableForTheNextRead) {
  Loopback lo(this->io_);
  std::array<char, 16> buf{};
  duet::CancellationTokenSource cts;
  Task<std::size_t> first = TypeParam::task(
      nop, [&] { return lo.server.async_read_some(net::buffer(buf), this->on_queue()(cts.token(), lo.server)); },
      [](std::size_t n) { return n; });
  cts.cancel();
  this->pump(first);
  EXPECT_EQ(first.status(), TaskStatus::canceled);

  Task<std::string> second = TypeParam::task(
      nop, [&] { return lo.server.async_read_some(net::buffer(buf), this->on_queue()); },
      [&](std::size_t n) { return std::string(buf.data(), n); });
  net::write(lo.client, net::buffer(std::string("again")));
  this->pump(second);
  EXPECT_EQ(second.result(), "again");
}

TYPED_TEST(AsioMethods, ATokenAlreadyCanceledNeverStartsTheOperation) {
  net::steady_timer timer(this->io_);
  timer.expires_at(net::steady_timer::clock_type::time_point::min());
  duet::CancellationTokenSource cts;
  cts.cancel();
  Task<int> t = TypeParam::task(
      nop, [&] { return timer.async_wait(this->on_queue()(cts.token(), timer)); }, [] { return 1; });
  EXPECT_EQ(t.status(), TaskStatus::canceled) << "canceled at once, as .NET's socket methods";
  EXPECT_EQ(this->io_.poll(), 0u) << "no wait was started, so no handler runs";
}

TYPED_TEST(AsioMethods, AnOperationCompletedBeforeTheCancelArrivedKeepsItsResult) {
  net::steady_timer timer(this->io_);
  timer.expires_at(net::steady_timer::clock_type::time_point::min());
  duet::CancellationTokenSource cts;
  Task<int> t = TypeParam::task(
      nop, [&] { return timer.async_wait(this->on_queue()(cts.token(), timer)); }, [] { return 7; });
  EXPECT_EQ(this->io_.run_one(), 1u);  // the wait completed: its outcome is recorded
  cts.cancel();                        // too late: nothing is pending, the cancel touches nothing
  EXPECT_EQ(this->io_.poll(), 0u) << "the cancel was not even posted: the operation was done";
  this->queue_.drain();
  EXPECT_EQ(t.result(), 7);
}

// ---- lifetime ----------------------------------------------------------------------------------

TYPED_TEST(AsioMethods, AnIoContextDestroyedWithTheOperationPendingFaultsTheMethod) {
  auto io = std::make_unique<net::io_context>(1);
  auto timer = std::make_unique<net::steady_timer>(*io, 24h);
  Task<int> t = TypeParam::task(nop, [&] { return timer->async_wait(this->on_queue()); },
                                [] { return 1; });
  timer.reset();  // the wait is aborted: its handler is queued in the io_context, never run
  io.reset();     // ... and destroyed with it
  this->queue_.drain();
  ASSERT_EQ(t.status(), TaskStatus::faulted);
  try {
    t.result();
    FAIL() << "result() of a faulted task returned";
  } catch (const duet::AsioError& e) {
    EXPECT_EQ(e.asio_code(), net::error::operation_aborted);
    EXPECT_NE(std::string(e.what()).find("keep the io_context running"), std::string::npos) << e.what();
  }
}

// ---- Beast -------------------------------------------------------------------------------------

TYPED_TEST(AsioMethods, ABeastHttpRequestAndResponseRoundTrip) {
  Loopback lo(this->io_);
  // The server method: read the request, answer 200 with its target as the body.
  boost::beast::flat_buffer server_buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  Task<std::string> server = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 0) return http::async_read(lo.server, server_buf, req, this->on_queue());
        res = http::response<http::string_body>(http::status::ok, 11);
        res.body() = "you asked for " + std::string(req.target());
        res.prepare_payload();
        return http::async_write(lo.server, res, this->on_queue());
      },
      [](int, std::size_t) {}, [&] { return std::string(req.target()); });
  // The client method: write a request, read the response.
  boost::beast::flat_buffer client_buf;
  http::request<http::string_body> out(http::verb::get, "/status", 11);
  http::response<http::string_body> in;
  Task<std::string> client = TypeParam::loop(
      2,
      [&](int i) {
        if (i == 0) return http::async_write(lo.client, out, this->on_queue());
        return http::async_read(lo.client, client_buf, in, this->on_queue());
      },
      [](int, std::size_t) {}, [&] { return std::to_string(in.result_int()) + " " + in.body(); });
  this->pump(client);
  this->pump(server);
  EXPECT_EQ(server.result(), "/status");
  EXPECT_EQ(client.result(), "200 you asked for /status");
}

// ---- the real arrangement: an io thread next to the pool ---------------------------------------

TYPED_TEST(AsioMethods, WithAnIoContextThreadTheMethodResumesOnThePoolNeverOnTheIoThread) {
  duet::IoContextThread io;
  Loopback lo(io.context());
  std::array<char, 16> buf{};
  std::thread::id resumed_on;
  bool on_pool = false;
  Task<std::string> t = TypeParam::task(
      nop, [&] { return lo.server.async_read_some(net::buffer(buf), duet::use_task); },
      [&](std::size_t n) {
        resumed_on = thread_now();
        on_pool = duet::is_thread_pool_thread();
        return std::string(buf.data(), n);
      });
  net::write(lo.client, net::buffer(std::string("pool")));
  EXPECT_EQ(t.result(), "pool");
  EXPECT_NE(resumed_on, io.thread_id());
  EXPECT_TRUE(on_pool) << "the completion was posted to TaskScheduler::current(), the pool";
}

}  // namespace
}  // namespace semantic
