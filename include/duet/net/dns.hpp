// duet/net/dns.hpp — Dns::get_host_addresses_async (.NET's Dns.GetHostAddressesAsync):
// getaddrinfo, which blocks, runs on the thread pool.
#pragma once

#include <string>
#include <vector>

#include "duet/core/task.hpp"
#include "duet/net/ip_address.hpp"

namespace duet::net {

class Dns {
 public:
  // get_host_addresses_async(host) — the addresses of `host` (a name or an address literal), IPv4
  // first, without duplicates. Faults with SocketError host_not_found / try_again / ...
  static Task<std::vector<IPAddress>> get_host_addresses_async(std::string host);
  // get_host_addresses(host) — the same, blocking.
  static std::vector<IPAddress> get_host_addresses(const std::string& host);
};

}  // namespace duet::net
