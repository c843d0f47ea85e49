// duet/net/socket_error.hpp — SocketError, the exception every failed socket call throws (.NET's
// SocketException), and SocketErrorCode, .NET's SocketError enumeration.
//
// Naming: duet names exceptions XxxError (ArgumentError, OperationCanceledError), so .NET's
// SocketException is duet's SocketError, and .NET's enum SocketError is SocketErrorCode.
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <system_error>

namespace duet::net {

// SocketErrorCode — .NET's SocketError values that Linux errnos map to (SocketErrorPal).
enum class SocketErrorCode {
  success,
  socket_error,  // an errno with no closer .NET name
  interrupted,
  access_denied,
  fault,
  invalid_argument,
  too_many_open_sockets,
  would_block,
  in_progress,
  already_in_progress,
  not_socket,
  message_size,
  protocol_type,
  protocol_not_supported,
  operation_not_supported,
  address_family_not_supported,
  address_already_in_use,
  address_not_available,
  network_down,
  network_unreachable,
  network_reset,
  connection_aborted,
  connection_reset,
  no_buffer_space_available,
  is_connected,
  not_connected,
  shutdown,
  timed_out,
  connection_refused,
  host_down,
  host_unreachable,
  host_not_found,
  try_again,
  no_recovery,
  no_data,
  operation_aborted,
};

// to_string(code) — .NET's name in duet's spelling: "connection_refused", "timed_out", ...
const char* to_string(SocketErrorCode code) noexcept;
// socket_error_code(errno_value) — the SocketErrorCode for an errno (.NET's mapping).
SocketErrorCode socket_error_code(int errno_value) noexcept;

// resolver_category() — the error category of getaddrinfo's EAI_* values.
const std::error_category& resolver_category() noexcept;

// SocketError — a socket call failed (.NET's SocketException). A std::system_error whose code()
// is the errno (generic category); socket_error_code() is .NET's name for it. what() reads
// "SocketError connection_refused: connect to 127.0.0.1:9 failed: Connection refused".
class SocketError : public std::system_error {
 public:
  // SocketError(errno_value, what) — `what` names the operation and the endpoint.
  SocketError(int errno_value, const std::string& what);
  // SocketError(code, gai_error, what) — a resolver failure: `gai_error` is getaddrinfo's EAI_*
  // value (code() is in resolver_category(), whose messages are gai_strerror's).
  SocketError(SocketErrorCode code, int gai_error, const std::string& what);

  SocketErrorCode socket_error_code() const noexcept { return code_; }
  // error_code_name() — to_string(socket_error_code()).
  const char* error_code_name() const noexcept { return to_string(code_); }

 private:
  SocketErrorCode code_;
};

}  // namespace duet::net
