// src/net/ip_address.cpp — IPAddress / IPEndPoint parse and format (inet_pton / inet_ntop).
#include "duet/net/ip_address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <string>

#include "duet/core/errors.hpp"

namespace duet::net {

IPAddress::IPAddress(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept
    : bytes_{a, b, c, d} {}

IPAddress IPAddress::from_v6_bytes(const std::array<std::uint8_t, 16>& bytes, std::uint32_t scope_id) noexcept {
  IPAddress r;
  r.bytes_ = bytes;
  r.scope_id_ = scope_id;
  r.family_ = AddressFamily::inter_network_v6;
  return r;
}

IPAddress IPAddress::ipv6_any() noexcept { return from_v6_bytes({}); }
IPAddress IPAddress::ipv6_loopback() noexcept {
  std::array<std::uint8_t, 16> b{};
  b[15] = 1;
  return from_v6_bytes(b);
}

bool IPAddress::is_loopback() const noexcept {
  if (family_ == AddressFamily::inter_network) return bytes_[0] == 127;
  return *this == ipv6_loopback();
}

bool IPAddress::try_parse(std::string_view text, IPAddress& out) noexcept {
  if (text.empty() || text.size() > 63) return false;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr v4{};
  if (::inet_pton(AF_INET, buf, &v4) == 1) {
    IPAddress r;
    std::memcpy(r.bytes_.data(), &v4, 4);
    out = r;
    return true;
  }
  std::uint32_t scope = 0;
  if (char* pct = std::strchr(buf, '%')) {
    *pct = '\0';
    const char* s = pct + 1;
    const char* e = buf + text.size();
    auto [p, ec] = std::from_chars(s, e, scope);
    if (ec != std::errc() || p != e) {
      scope = ::if_nametoindex(s);
      if (scope == 0) return false;
    }
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, buf, &v6) != 1) return false;
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), &v6, 16);
  out = from_v6_bytes(b, scope);
  return true;
}

IPAddress IPAddress::parse(std::string_view text) {
  IPAddress r;
  if (!try_parse(text, r)) {
    throw ArgumentError("duet::net::IPAddress::parse: \"" + std::string(text) +
                        "\" is not an IPv4 or IPv6 address (.NET's FormatException); pass e.g. "
                        "\"127.0.0.1\" or \"::1\", or resolve a host name with "
                        "Dns::get_host_addresses_async");
  }
  return r;
}

std::string IPAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN + 16];
  if (family_ == AddressFamily::inter_network) {
    ::inet_ntop(AF_INET, bytes_.data(), buf, sizeof buf);
    return buf;
  }
  ::inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  std::string s = buf;
  if (scope_id_ != 0) {  // appended piecewise: g++ 12 -O3 reports a false -Wrestrict on "%" + str
    s += '%';
    s += std::to_string(scope_id_);
  }
  return s;
}

namespace {
[[noreturn]] void throw_bad_port(long long port, std::string_view where) {
  throw ArgumentError("duet::net::IPEndPoint: port " + std::to_string(port) + std::string(where) +
                      " is outside 0..65535 (.NET's ArgumentOutOfRangeException); pass a TCP port "
                      "number, or 0 for an ephemeral one");
}
}  // namespace

IPEndPoint::IPEndPoint(const IPAddress& address, int port) : address_(address), port_(port) {
  if (port < 0 || port > 65535) throw_bad_port(port, "");
}

IPEndPoint IPEndPoint::parse(std::string_view text) {
  auto bad = [&]() -> IPEndPoint {
    throw ArgumentError("duet::net::IPEndPoint::parse: \"" + std::string(text) +
                        "\" is not an endpoint; pass \"127.0.0.1:80\" or \"[::1]:80\"");
  };
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad();
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
    }
  } else if (text.find(':') == text.rfind(':') && text.find(':') != std::string_view::npos) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  IPAddress a;
  if (!IPAddress::try_parse(host, a)) return bad();
  long long p = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size()) return bad();
    if (p < 0 || p > 65535) throw_bad_port(p, " in \"" + std::string(text) + "\"");
  }
  return IPEndPoint(a, static_cast<int>(p));
}

std::string IPEndPoint::to_string() const {
  if (address_.address_family() == AddressFamily::inter_network_v6) {
    std::string s = "[";
    s += address_.to_string();
    s += "]:";
    s += std::to_string(port_);
    return s;
  }
  return address_.to_string() + ":" + std::to_string(port_);
}

unsigned IPEndPoint::to_sockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  if (address_.address_family() == AddressFamily::inter_network) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&out);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<std::uint16_t>(port_));
    std::memcpy(&sa->sin_addr, address_.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(static_cast<std::uint16_t>(port_));
  sa->sin6_scope_id = address_.scope_id();
  std::memcpy(&sa->sin6_addr, address_.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

IPEndPoint IPEndPoint::from_sockaddr(const sockaddr& sa) {
  if (sa.sa_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&in.sin_addr);
    return IPEndPoint(IPAddress(b[0], b[1], b[2], b[3]), ntohs(in.sin_port));
  }
  if (sa.sa_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    return IPEndPoint(IPAddress::from_v6_bytes(b, in6.sin6_scope_id), ntohs(in6.sin6_port));
  }
  throw ArgumentError("duet::net::IPEndPoint::from_sockaddr: address family " +
                      std::to_string(sa.sa_family) + " is neither AF_INET nor AF_INET6");
}

}  // namespace duet::net
