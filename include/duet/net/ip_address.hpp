// duet/net/ip_address.hpp — IPAddress and IPEndPoint (System.Net's), IPv4 and IPv6: parse,
// format, compare, and the conversion to and from the socket API's sockaddr.
//
// Thread-safety: values; a const object may be shared between threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

struct sockaddr;
struct sockaddr_storage;

namespace duet::net {

// AddressFamily — .NET's AddressFamily, the two members duet supports.
enum class AddressFamily : std::uint8_t {
  inter_network = 2,      // IPv4 (AF_INET)
  inter_network_v6 = 10,  // IPv6 (AF_INET6)
};

// IPAddress — an IPv4 or IPv6 address (.NET's IPAddress). Default: 0.0.0.0 (IPAddress.Any).
class IPAddress {
 public:
  IPAddress() noexcept = default;
  // IPAddress(a, b, c, d) — the IPv4 address a.b.c.d.
  IPAddress(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept;
  // from_v6_bytes(bytes, scope_id) — an IPv6 address from its 16 bytes (network order).
  static IPAddress from_v6_bytes(const std::array<std::uint8_t, 16>& bytes, std::uint32_t scope_id = 0) noexcept;

  // parse(text) — "127.0.0.1", "::1", "fe80::1%2". Throws ArgumentError naming `text` when it is
  // neither (.NET's FormatException).
  static IPAddress parse(std::string_view text);
  // try_parse(text, out) — parse without the exception; false (out untouched) when unparsable.
  static bool try_parse(std::string_view text, IPAddress& out) noexcept;

  // The well-known addresses (.NET's IPAddress.Any, Loopback, IPv6Any, IPv6Loopback).
  static IPAddress any() noexcept { return IPAddress(); }
  static IPAddress loopback() noexcept { return IPAddress(127, 0, 0, 1); }
  static IPAddress ipv6_any() noexcept;
  static IPAddress ipv6_loopback() noexcept;

  AddressFamily address_family() const noexcept { return family_; }
  // bytes() — 4 (IPv4) or 16 (IPv6) bytes in network order; the rest are zero.
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
  std::uint32_t scope_id() const noexcept { return scope_id_; }
  bool is_loopback() const noexcept;

  // to_string() — the canonical text: "127.0.0.1", "::1" (RFC 5952, as inet_ntop), "fe80::1%2".
  std::string to_string() const;

  friend bool operator==(const IPAddress&, const IPAddress&) noexcept = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  std::uint32_t scope_id_ = 0;
  AddressFamily family_ = AddressFamily::inter_network;
};

// IPEndPoint — an address and a port (.NET's IPEndPoint).
class IPEndPoint {
 public:
  IPEndPoint() noexcept = default;
  // IPEndPoint(address, port) — throws ArgumentError naming `port` unless 0 <= port <= 65535.
  IPEndPoint(const IPAddress& address, int port);

  // parse(text) — "127.0.0.1:80", "[::1]:8080", or an address alone (port 0). Throws
  // ArgumentError naming `text` when unparsable or the port is out of range.
  static IPEndPoint parse(std::string_view text);

  const IPAddress& address() const noexcept { return address_; }
  int port() const noexcept { return port_; }
  AddressFamily address_family() const noexcept { return address_.address_family(); }

  // to_string() — "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const;

  // to_sockaddr(out) — fills `out`; returns the length to pass to bind/connect.
  unsigned to_sockaddr(sockaddr_storage& out) const noexcept;
  // from_sockaddr(sa) — the endpoint of an AF_INET / AF_INET6 address; ArgumentError otherwise.
  static IPEndPoint from_sockaddr(const sockaddr& sa);

  friend bool operator==(const IPEndPoint&, const IPEndPoint&) noexcept = default;

 private:
  IPAddress address_;
  int port_ = 0;
};

}  // namespace duet::net
