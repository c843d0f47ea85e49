// asio_bridge — fiber style: the two methods of driver.hpp as straight-line code on fibers;
// duet::await suspends the fiber on the Task that duet::use_task made of each Asio operation.
#include "driver.hpp"

namespace {

duet::Task<std::string> echo_once_async(tcp::acceptor& acceptor) {
  return duet::fiber::async([&acceptor] {
    tcp::socket s = duet::await(acceptor.async_accept(duet::use_task));
    check_thread();
    std::array<char, 64> buf{};  // a fiber's stack never moves: the buffer may live here
    const std::size_t n = duet::await(s.async_read_some(net::buffer(buf), duet::use_task));
    check_thread();
    duet::await(net::async_write(s, net::buffer(buf.data(), n), duet::use_task));
    check_thread();
    return std::string(buf.data(), n);
  });
}

duet::Task<std::string> wait_or_cancel_async(net::steady_timer& timer, duet::CancellationToken token) {
  return duet::fiber::async([&timer, token] {
    try {
      duet::await(timer.async_wait(duet::use_task(token, timer)));
      check_thread();
      return std::string("fired");
    } catch (const duet::OperationCanceledError&) {
      check_thread();
      return std::string("canceled");
    }
  });
}

}  // namespace
