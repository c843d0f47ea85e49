// src/net/socket_error.cpp — errno to .NET's SocketError names (.NET's SocketErrorPal.Unix).
#include "duet/net/socket_error.hpp"

#include <netdb.h>

#include <cerrno>
#include <cstring>

namespace duet::net {

const char* to_string(SocketErrorCode code) noexcept {
  switch (code) {
    case SocketErrorCode::success: return "success";
    case SocketErrorCode::socket_error: return "socket_error";
    case SocketErrorCode::interrupted: return "interrupted";
    case SocketErrorCode::access_denied: return "access_denied";
    case SocketErrorCode::fault: return "fault";
    case SocketErrorCode::invalid_argument: return "invalid_argument";
    case SocketErrorCode::too_many_open_sockets: return "too_many_open_sockets";
    case SocketErrorCode::would_block: return "would_block";
    case SocketErrorCode::in_progress: return "in_progress";
    case SocketErrorCode::already_in_progress: return "already_in_progress";
    case SocketErrorCode::not_socket: return "not_socket";
    case SocketErrorCode::message_size: return "message_size";
    case SocketErrorCode::protocol_type: return "protocol_type";
    case SocketErrorCode::protocol_not_supported: return "protocol_not_supported";
    case SocketErrorCode::operation_not_supported: return "operation_not_supported";
    case SocketErrorCode::address_family_not_supported: return "address_family_not_supported";
    case SocketErrorCode::address_already_in_use: return "address_already_in_use";
    case SocketErrorCode::address_not_available: return "address_not_available";
    case SocketErrorCode::network_down: return "network_down";
    case SocketErrorCode::network_unreachable: return "network_unreachable";
    case SocketErrorCode::network_reset: return "network_reset";
    case SocketErrorCode::connection_aborted: return "connection_aborted";
    case SocketErrorCode::connection_reset: return "connection_reset";
    case SocketErrorCode::no_buffer_space_available: return "no_buffer_space_available";
    case SocketErrorCode::is_connected: return "is_connected";
    case SocketErrorCode::not_connected: return "not_connected";
    case SocketErrorCode::shutdown: return "shutdown";
    case SocketErrorCode::timed_out: return "timed_out";
    case SocketErrorCode::connection_refused: return "connection_refused";
    case SocketErrorCode::host_down: return "host_down";
    case SocketErrorCode::host_unreachable: return "host_unreachable";
    case SocketErrorCode::host_not_found: return "host_not_found";
    case SocketErrorCode::try_again: return "try_again";
    case SocketErrorCode::no_recovery: return "no_recovery";
    case SocketErrorCode::no_data: return "no_data";
    case SocketErrorCode::operation_aborted: return "operation_aborted";
  }
  return "socket_error";
}

SocketErrorCode socket_error_code(int e) noexcept {
  switch (e) {
    case 0: return SocketErrorCode::success;
    case EINTR: return SocketErrorCode::interrupted;
    case EACCES:
    case EPERM: return SocketErrorCode::access_denied;
    case EFAULT: return SocketErrorCode::fault;
    case EINVAL: return SocketErrorCode::invalid_argument;
    case EMFILE:
    case ENFILE: return SocketErrorCode::too_many_open_sockets;
    case EAGAIN: return SocketErrorCode::would_block;
    case EINPROGRESS: return SocketErrorCode::in_progress;
    case EALREADY: return SocketErrorCode::already_in_progress;
    case ENOTSOCK:
    case EBADF: return SocketErrorCode::not_socket;
    case EMSGSIZE: return SocketErrorCode::message_size;
    case EPROTOTYPE: return SocketErrorCode::protocol_type;
    case EPROTONOSUPPORT: return SocketErrorCode::protocol_not_supported;
    case EOPNOTSUPP: return SocketErrorCode::operation_not_supported;
    case EAFNOSUPPORT: return SocketErrorCode::address_family_not_supported;
    case EADDRINUSE: return SocketErrorCode::address_already_in_use;
    case EADDRNOTAVAIL: return SocketErrorCode::address_not_available;
    case ENETDOWN: return SocketErrorCode::network_down;
    case ENETUNREACH: return SocketErrorCode::network_unreachable;
    case ENETRESET: return SocketErrorCode::network_reset;
    case ECONNABORTED: return SocketErrorCode::connection_aborted;
    case ECONNRESET:
    case EPIPE: return SocketErrorCode::connection_reset;
    case ENOBUFS:
    case ENOMEM: return SocketErrorCode::no_buffer_space_available;
    case EISCONN: return SocketErrorCode::is_connected;
    case ENOTCONN: return SocketErrorCode::not_connected;
    case ESHUTDOWN: return SocketErrorCode::shutdown;
    case ETIMEDOUT: return SocketErrorCode::timed_out;
    case ECONNREFUSED: return SocketErrorCode::connection_refused;
    case EHOSTDOWN: return SocketErrorCode::host_down;
    case EHOSTUNREACH: return SocketErrorCode::host_unreachable;
    case ECANCELED: return SocketErrorCode::operation_aborted;
    default: return SocketErrorCode::socket_error;
  }
}

SocketError::SocketError(int errno_value, const std::string& what)
    : std::system_error(errno_value, std::generic_category(),
                        std::string("SocketError ") + to_string(net::socket_error_code(errno_value)) + ": " + what),
      code_(net::socket_error_code(errno_value)) {}

namespace {
class ResolverCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "resolver"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};
}  // namespace

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

SocketError::SocketError(SocketErrorCode code, int gai_error, const std::string& what)
    : std::system_error(gai_error, resolver_category(),
                        std::string("SocketError ") + to_string(code) + ": " + what),
      code_(code) {}

}  // namespace duet::net
