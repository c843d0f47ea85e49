// src/net/dns.cpp — Dns over getaddrinfo.
#include "duet/net/dns.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/net/socket_error.hpp"

namespace duet::net {

std::vector<IPAddress> Dns::get_host_addresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    const SocketErrorCode code = rc == EAI_NONAME ? SocketErrorCode::host_not_found
                                 : rc == EAI_AGAIN ? SocketErrorCode::try_again
                                 : rc == EAI_FAIL  ? SocketErrorCode::no_recovery
#ifdef EAI_NODATA
                                 : rc == EAI_NODATA ? SocketErrorCode::no_data
#endif
                                                    : SocketErrorCode::socket_error;
    throw SocketError(code, rc, "resolving \"" + host + "\" failed");
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(res, ::freeaddrinfo);
  std::vector<IPAddress> v4, v6;
  for (addrinfo* p = res; p; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    IPAddress a = IPEndPoint::from_sockaddr(*p->ai_addr).address();
    auto& list = p->ai_family == AF_INET ? v4 : v6;
    if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
  }
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

Task<std::vector<IPAddress>> Dns::get_host_addresses_async(std::string host) {
  return duet::run([h = std::move(host)] { return get_host_addresses(h); });
}

}  // namespace duet::net
