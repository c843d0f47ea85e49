// tests/net/net_support.hpp — loopback helpers for the socket tests: a connected pair, a
// listener on an ephemeral port, waiting (bounded) for a socket to become readable.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <duet/duet.hpp>

namespace nettest {

using duet::net::IPAddress;
using duet::net::IPEndPoint;
using duet::net::Socket;
using duet::net::TcpListener;

// Pair — two connected loopback sockets (a: the client, b: the accepted side).
struct Pair {
  Socket a;
  Socket b;
};

inline TcpListener make_listener() {
  TcpListener l(IPEndPoint(IPAddress::loopback(), 0));
  l.start();
  return l;
}

inline Pair make_pair(TcpListener& l) {
  Pair p{Socket(l.local_endpoint().address_family()), Socket()};
  duet::ValueTask<> c = p.a.connect_async(l.local_endpoint());
  p.b = l.accept_socket_async().result();
  c.result();
  return p;
}

inline Pair make_pair() {
  TcpListener l = make_listener();
  return make_pair(l);
}

inline std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}
inline std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// wait_readable(s) — poll() until `s` has data or end of stream (at most 5 s).
inline bool wait_readable(const Socket& s) {
  pollfd p{s.handle(), POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

// raise_fd_limit(n) — raises the soft RLIMIT_NOFILE to at least n (up to the hard limit);
// returns the soft limit now in force.
inline rlim_t raise_fd_limit(rlim_t n) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < n) {
    r.rlim_cur = std::min(n, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

// expect_throws_containing<E>(fn, part) — fn() throws an E (or a subclass) whose message contains
// `part`.
template <class E, class Fn>
void expect_throws_containing(Fn&& fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one containing \"" << part << "\"";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

}  // namespace nettest
