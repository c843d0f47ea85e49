// tests/net/test_socket.cpp — the socket engine's mechanisms, outside any async method: address
// parsing and formatting, argument errors, the synchronous-completion fast path, the ordering of
// queued operations, cancellation and close of waiting operations, error names, and what is
// allocated. The behaviour of awaiting sockets from async methods, in all three styles, is in
// tests/semantic/test_net_methods.cpp. Loopback only; every wait is bounded.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "duet_fixture.hpp"
#include "net_support.hpp"

namespace {

using duet::ValueTask;
using duet::net::IPAddress;
using duet::net::IPEndPoint;
using duet::net::Socket;
using duet::net::SocketError;
using duet::net::SocketErrorCode;
using namespace nettest;

using NetTest = duet::testing::DuetTest;

// ---- addresses ---------------------------------------------------------------------------

TEST_F(NetTest, IPAddressParsesAndFormatsV4AndV6) {
  EXPECT_EQ(IPAddress::parse("127.0.0.1").to_string(), "127.0.0.1");
  EXPECT_EQ(IPAddress::parse("127.0.0.1"), IPAddress::loopback());
  EXPECT_EQ(IPAddress::parse("::1"), IPAddress::ipv6_loopback());
  EXPECT_EQ(IPAddress::parse("2001:0db8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_EQ(IPAddress::parse("fe80::1%3").to_string(), "fe80::1%3");
  EXPECT_EQ(IPAddress::parse("::").address_family(), duet::net::AddressFamily::inter_network_v6);
  EXPECT_TRUE(IPAddress::parse("127.1.2.3").is_loopback());
  IPAddress a;
  EXPECT_FALSE(IPAddress::try_parse("256.0.0.1", a));
  EXPECT_FALSE(IPAddress::try_parse("", a));
}

TEST_F(NetTest, IPEndPointParsesAndFormatsV4AndV6) {
  EXPECT_EQ(IPEndPoint::parse("10.0.0.1:8080").to_string(), "10.0.0.1:8080");
  EXPECT_EQ(IPEndPoint::parse("[::1]:443").to_string(), "[::1]:443");
  EXPECT_EQ(IPEndPoint::parse("[::1]:443").port(), 443);
  EXPECT_EQ(IPEndPoint::parse("::1").address(), IPAddress::ipv6_loopback());
  EXPECT_EQ(IPEndPoint(IPAddress::loopback(), 65535).port(), 65535);
}

TEST_F(NetTest, BadAddressesAndPortsAreArgumentErrorsNamingTheValue) {
  expect_throws_containing<duet::ArgumentError>(
      [] { (void)IPAddress::parse("not.an.address"); }, "\"not.an.address\" is not an IPv4 or IPv6 address");
  expect_throws_containing<duet::ArgumentError>(
      [] { (void)IPEndPoint(IPAddress::loopback(), 65536); }, "port 65536 is outside 0..65535");
  expect_throws_containing<duet::ArgumentError>(
      [] { (void)IPEndPoint(IPAddress::loopback(), -1); }, "port -1 is outside 0..65535");
  expect_throws_containing<duet::ArgumentError>(
      [] { (void)IPEndPoint::parse("127.0.0.1:70000"); }, "port 70000 in \"127.0.0.1:70000\"");
  expect_throws_containing<duet::ArgumentError>(
      [] { (void)IPEndPoint::parse("127.0.0.1:http"); }, "\"127.0.0.1:http\" is not an endpoint");
}

TEST_F(NetTest, EmptyBuffersAreArgumentErrors) {
  Pair p = make_pair();
  std::vector<std::byte> none;
  expect_throws_containing<duet::ArgumentError>(
      [&] { (void)p.a.receive_async(none); }, "receive_async: the buffer is empty (size 0)");
  expect_throws_containing<duet::ArgumentError>(
      [&] { (void)p.a.send_async(none); }, "send_async: the buffer is empty (size 0)");
}

// ---- the fast path -------------------------------------------------------------------------

TEST_F(NetTest, AReceiveWithDataThereCompletesSynchronouslyAndAllocatesNothing) {
  Pair p = make_pair();
  ASSERT_EQ(p.a.send_async(bytes("hello")).result(), 5u);
  ASSERT_TRUE(wait_readable(p.b));
  std::array<std::byte, 16> buf{};
  duet::testing::AllocScope scope;
  ValueTask<std::size_t> r = p.b.receive_async(buf);
  const bool sync = r.kind() == ValueTask<std::size_t>::Kind::value;
  const std::size_t n = r.result();
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_TRUE(sync) << "data was there: the ValueTask must hold the result, not a source";
  EXPECT_EQ(text(std::span(buf).first(n)), "hello");
}

TEST_F(NetTest, ASendThatFitsTheSocketBufferCompletesSynchronouslyAndAllocatesNothing) {
  Pair p = make_pair();
  duet::testing::AllocScope scope;
  ValueTask<std::size_t> s = p.a.send_async(bytes("ping"));
  const bool sync = s.kind() == ValueTask<std::size_t>::Kind::value;
  const std::size_t n = s.result();
  EXPECT_EQ(scope.allocations(), 0u);
  EXPECT_TRUE(sync);
  EXPECT_EQ(n, 4u);
}

TEST_F(NetTest, AReceiveWithoutDataWaitsAndCompletesWhenDataArrives) {
  Pair p = make_pair();
  std::array<std::byte, 16> buf{};
  ValueTask<std::size_t> r = p.b.receive_async(buf);
  ASSERT_EQ(r.kind(), ValueTask<std::size_t>::Kind::source);
  EXPECT_FALSE(r.is_completed());
  EXPECT_TRUE(Socket::engine_started());
  ASSERT_EQ(p.a.send_async(bytes("late")).result(), 4u);
  const std::size_t n = r.result();
  EXPECT_EQ(text(std::span(buf).first(n)), "late");
}

// ---- ordering --------------------------------------------------------------------------------

TEST_F(NetTest, ASecondConcurrentReceiveWaitsItsTurn) {
  Pair p = make_pair();
  std::array<std::byte, 3> first{};
  std::array<std::byte, 3> second{};
  ValueTask<std::size_t> r1 = p.b.receive_async(first);
  ValueTask<std::size_t> r2 = p.b.receive_async(second);
  EXPECT_FALSE(r2.is_completed());
  ASSERT_EQ(p.a.send_async(bytes("abcdef")).result(), 6u);
  const std::size_t n2 = r2.result();
  const std::size_t n1 = r1.result();
  EXPECT_EQ(text(std::span(first).first(n1)), "abc") << "the first receive gets the first bytes";
  EXPECT_EQ(text(std::span(second).first(n2)), "def");
}

TEST_F(NetTest, ALargeSendWaitsForTheSocketBufferAndDeliversEveryByteInOrder) {
  Pair p = make_pair();
  std::vector<std::byte> big(8 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7 + i / 251);
  ValueTask<std::size_t> s = p.a.send_async(big);
  EXPECT_EQ(s.kind(), ValueTask<std::size_t>::Kind::source) << "8 MiB cannot fit the socket buffers";
  std::vector<std::byte> got(big.size());
  duet::net::NetworkStream stream(p.b);
  stream.read_exactly_async(got).result();
  EXPECT_EQ(s.result(), big.size());
  EXPECT_TRUE(got == big);
}

// ---- end of stream, errors -----------------------------------------------------------------

TEST_F(NetTest, EndOfStreamIsZeroAndReadExactlyThrowsEndOfStream) {
  Pair p = make_pair();
  ASSERT_EQ(p.a.send_async(bytes("ab")).result(), 2u);
  p.a.shutdown(duet::net::SocketShutdown::send);
  std::array<std::byte, 4> buf{};
  duet::net::NetworkStream stream(p.b);
  expect_throws_containing<duet::net::EndOfStreamError>(
      [&] { stream.read_exactly_async(buf).result(); }, "ended after 2 of 4 bytes");
  EXPECT_EQ(p.b.receive_async(buf).result(), 0u);
}

TEST_F(NetTest, ConnectionRefusedIsASocketErrorNamingTheEndpoint) {
  IPEndPoint closed;
  {
    TcpListener l = make_listener();
    closed = l.local_endpoint();
  }  // the port is free again: nothing listens there
  Socket s(duet::net::AddressFamily::inter_network);
  try {
    s.connect_async(closed).result();
    FAIL() << "connect to a closed port succeeded";
  } catch (const SocketError& e) {
    EXPECT_EQ(e.socket_error_code(), SocketErrorCode::connection_refused);
    EXPECT_STREQ(e.error_code_name(), "connection_refused");
    EXPECT_EQ(e.code().value(), ECONNREFUSED);
    EXPECT_NE(std::string(e.what()).find("connect to " + closed.to_string()), std::string::npos) << e.what();
  }
}

TEST_F(NetTest, ResetByPeerIsConnectionReset) {
  Pair p = make_pair();
  linger l{1, 0};  // close with RST
  ASSERT_EQ(::setsockopt(p.a.handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  std::array<std::byte, 4> buf{};
  ValueTask<std::size_t> r = p.b.receive_async(buf);
  p.a.close();
  try {
    (void)r.result();
    FAIL() << "a reset connection read successfully";
  } catch (const SocketError& e) {
    EXPECT_EQ(e.socket_error_code(), SocketErrorCode::connection_reset) << e.what();
    EXPECT_NE(std::string(e.what()).find("receive on socket 127.0.0.1:"), std::string::npos) << e.what();
  }
}

// ---- cancellation and close ----------------------------------------------------------------

TEST_F(NetTest, CancelingAWaitingReceiveEndsItCanceledAndTheSocketStaysUsable) {
  Pair p = make_pair();
  std::array<std::byte, 8> buf{};
  duet::CancellationTokenSource cts;
  ValueTask<std::size_t> r = p.b.receive_async(buf, cts.token());
  EXPECT_FALSE(r.is_completed());
  cts.cancel();
  EXPECT_THROW((void)r.result(), duet::OperationCanceledError);
  ASSERT_EQ(p.a.send_async(bytes("after")).result(), 5u);
  const std::size_t n = p.b.receive_async(buf).result();
  EXPECT_EQ(text(std::span(buf).first(n)), "after") << "no byte went to the canceled receive";
}

TEST_F(NetTest, AnAlreadyCanceledTokenCancelsWithoutTryingTheSyscall) {
  Pair p = make_pair();
  ASSERT_EQ(p.a.send_async(bytes("x")).result(), 1u);
  ASSERT_TRUE(wait_readable(p.b));
  std::array<std::byte, 8> buf{};
  ValueTask<std::size_t> r = p.b.receive_async(buf, duet::CancellationToken::canceled());
  EXPECT_TRUE(r.is_canceled());
  EXPECT_THROW((void)r.result(), duet::OperationCanceledError);
  EXPECT_EQ(p.b.receive_async(buf).result(), 1u) << "the byte is still there";
}

TEST_F(NetTest, CloseWithOperationsPendingCompletesThemWithObjectDisposed) {
  Pair p = make_pair();
  std::array<std::byte, 8> b1{};
  std::array<std::byte, 8> b2{};
  ValueTask<std::size_t> r1 = p.b.receive_async(b1);
  ValueTask<std::size_t> r2 = p.b.receive_async(b2);
  p.b.close();
  for (ValueTask<std::size_t>* r : {&r1, &r2}) {
    expect_throws_containing<duet::ObjectDisposedError>(
        [&] { (void)r->result(); }, "was closed while an operation was pending");
  }
  EXPECT_FALSE(p.b.is_open());
  expect_throws_containing<duet::ObjectDisposedError>(
      [&] { (void)p.b.receive_async(b1); }, "receive_async: the socket was closed");
}

// epoll_registrations() — how many descriptors the process's epoll instances watch (the engine's,
// from /proc/self/fdinfo).
int epoll_registrations() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (ec || target.string() != "anon_inode:[eventpoll]") continue;
    std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
    for (std::string line; std::getline(info, line);) n += line.rfind("tfd:", 0) == 0 ? 1 : 0;
  }
  return n;
}

TEST_F(NetTest, CloseLeavesNothingRegisteredWithEpoll) {
  Pair warm = make_pair();
  std::array<std::byte, 8> buf{};
  ValueTask<std::size_t> w = warm.b.receive_async(buf);  // the engine runs from here on
  const int before = epoll_registrations();
  {
    Pair p = make_pair();
    ValueTask<std::size_t> r1 = p.a.receive_async(buf);
    ValueTask<std::size_t> r2 = p.b.receive_async(buf);
    EXPECT_EQ(epoll_registrations(), before + 2) << "a socket is registered at its first wait";
    p.a.close();
    p.b.close();
    EXPECT_EQ(epoll_registrations(), before) << "close() must unregister at once";
    EXPECT_THROW((void)r1.result(), duet::ObjectDisposedError);
    // b's receive may have seen a's close as end of stream before b was closed.
    try {
      EXPECT_EQ(r2.result(), 0u);
    } catch (const duet::ObjectDisposedError&) {
    }
  }
  warm.b.close();
  EXPECT_THROW((void)w.result(), duet::ObjectDisposedError);
  EXPECT_EQ(epoll_registrations(), before - 1);
}

TEST_F(NetTest, StoppingAListenerEndsItsWaitingAcceptWithObjectDisposed) {
  TcpListener l = make_listener();
  ValueTask<Socket> a = l.accept_socket_async();
  EXPECT_FALSE(a.is_completed());
  l.stop();
  EXPECT_THROW((void)a.result(), duet::ObjectDisposedError);
}

TEST_F(NetTest, DroppingTheValueTaskOfAWaitingReceiveCancelsIt) {
  Pair p = make_pair();
  {
    std::array<std::byte, 8> gone{};
    ValueTask<std::size_t> r = p.b.receive_async(gone);
    EXPECT_FALSE(r.is_completed());
  }  // the buffer is gone: the receive must never write into it
  ASSERT_EQ(p.a.send_async(bytes("kept")).result(), 4u);
  std::array<std::byte, 8> buf{};
  const std::size_t n = p.b.receive_async(buf).result();
  EXPECT_EQ(text(std::span(buf).first(n)), "kept");
}

TEST_F(NetTest, AValueTaskFromASocketAwaitedTwiceIsAnInvalidOperation) {
  Pair p = make_pair();
  std::array<std::byte, 8> buf{};
  ValueTask<std::size_t> r = p.b.receive_async(buf);
  ASSERT_EQ(p.a.send_async(bytes("1")).result(), 1u);
  EXPECT_EQ(r.result(), 1u);
  expect_throws_containing<duet::InvalidOperationError>([&] { (void)r.result(); },
                                                                         "ValueTask");
}

// ---- options and endpoints -----------------------------------------------------------------

TEST_F(NetTest, OptionsAndEndpoints) {
  TcpListener l = make_listener();
  Pair p = make_pair(l);
  p.a.set_no_delay(true);
  EXPECT_TRUE(p.a.no_delay());
  p.a.set_no_delay(false);
  EXPECT_FALSE(p.a.no_delay());
  EXPECT_TRUE(l.server().reuse_address());
  EXPECT_EQ(p.a.remote_endpoint(), l.local_endpoint());
  EXPECT_EQ(p.b.remote_endpoint(), p.a.local_endpoint());
  EXPECT_EQ(p.a.local_endpoint().address(), IPAddress::loopback());
  Socket unconnected(duet::net::AddressFamily::inter_network);
  try {
    (void)unconnected.remote_endpoint();
    FAIL();
  } catch (const SocketError& e) {
    EXPECT_EQ(e.socket_error_code(), SocketErrorCode::not_connected);
  }
}

TEST_F(NetTest, Ipv6LoopbackRoundTrip) {
  TcpListener l(IPEndPoint(IPAddress::ipv6_loopback(), 0));
  try {
    l.start();
  } catch (const SocketError& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  Pair p = make_pair(l);
  ASSERT_EQ(p.a.send_async(bytes("v6")).result(), 2u);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(p.b.receive_async(buf).result(), 2u);
  EXPECT_EQ(p.b.local_endpoint().to_string().substr(0, 5), "[::1]");
}

TEST_F(NetTest, DnsResolvesLocalhostAndNamesAnUnknownHost) {
  std::vector<IPAddress> a = duet::net::Dns::get_host_addresses_async("localhost").result();
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a.front().is_loopback());
  EXPECT_EQ(duet::net::Dns::get_host_addresses_async("127.0.0.1").result().front(), IPAddress::loopback());
  try {
    (void)duet::net::Dns::get_host_addresses_async("no-such-host.invalid").result();
    FAIL();
  } catch (const SocketError& e) {
    EXPECT_NE(std::string(e.what()).find("\"no-such-host.invalid\""), std::string::npos) << e.what();
  }
}

// ---- races (also run under the schedule shuffler: tests/shuffle, and under TSan) ------------

TEST_F(NetTest, CancelRacingACompletionLosesNoByteAndCompletesOnce) {
  Pair p = make_pair();
  constexpr int k_rounds = 2000;
  int canceled = 0;
  int received = 0;
  std::array<std::byte, 1> buf{};
  std::array<std::byte, 1> one{std::byte{'x'}};
  for (int i = 0; i < k_rounds; ++i) {
    duet::CancellationTokenSource cts;
    ValueTask<std::size_t> r = p.b.receive_async(buf, cts.token());
    std::thread canceler([&] { cts.cancel(); });
    ASSERT_EQ(p.a.send_async(one).result(), 1u);
    canceler.join();
    try {
      EXPECT_EQ(r.result(), 1u);
      ++received;
    } catch (const duet::OperationCanceledError&) {
      ++canceled;
      EXPECT_EQ(p.b.receive_async(buf).result(), 1u) << "a canceled receive must not eat the byte";
    }
  }
  EXPECT_EQ(canceled + received, k_rounds);
}

TEST_F(NetTest, CloseRacingACompletionEndsTheReceiveOnceAndLeavesNothingRegistered) {
  constexpr int k_rounds = 300;
  TcpListener l = make_listener();
  int disposed = 0;
  int received = 0;
  for (int i = 0; i < k_rounds; ++i) {
    Pair p = make_pair(l);
    std::array<std::byte, 4> buf{};
    ValueTask<std::size_t> r = p.b.receive_async(buf);
    std::thread closer([&] { p.b.close(); });
    ValueTask<std::size_t> s = p.a.send_async(bytes("data"));
    closer.join();
    try {
      EXPECT_EQ(r.result(), 4u);
      ++received;
    } catch (const duet::ObjectDisposedError&) {
      ++disposed;
    }
    try {
      (void)s.result();
    } catch (const SocketError&) {  // the peer may have reset
    }
  }
  EXPECT_EQ(disposed + received, k_rounds);
}

TEST_F(NetTest, AbandoningRacingACompletionNeverWritesTheBuffer) {
  Pair p = make_pair();
  constexpr int k_rounds = 2000;
  std::array<std::byte, 1> one{std::byte{'y'}};
  std::size_t delivered = 0;
  for (int i = 0; i < k_rounds; ++i) {
    auto gone = std::make_unique<std::array<std::byte, 1>>();
    auto r = std::make_unique<ValueTask<std::size_t>>(p.b.receive_async(*gone));
    std::thread sender([&] { (void)p.a.send_async(one).result(); });
    r.reset();      // abandoned: cancels the receive unless it completed already
    gone.reset();   // under ASan, a late write into it is a use after free
    sender.join();
  }
  // Every byte either went to an abandoned receive that had completed, or is still there.
  p.a.shutdown(duet::net::SocketShutdown::send);
  std::array<std::byte, 4096> rest{};
  for (std::size_t n; (n = p.b.receive_async(rest).result()) > 0;) delivered += n;
  EXPECT_LE(delivered, static_cast<std::size_t>(k_rounds));
}

}  // namespace
