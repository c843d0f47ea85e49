// asio_bridge — DSL style: the two methods of driver.hpp as duet::AsyncMethod machines whose
// move_next() the DUET_* macros write; each Asio operation is awaited through duet::use_task.
#include "driver.hpp"

namespace {

struct EchoOnceAsync : duet::AsyncMethod<EchoOnceAsync, std::string> {
  tcp::acceptor* acceptor_;
  std::unique_ptr<Peer> p_;  // see Peer in driver.hpp

  explicit EchoOnceAsync(tcp::acceptor& a) : acceptor_(&a), p_(std::make_unique<Peer>(a.get_executor())) {}

  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(p_->socket, acceptor_->async_accept(duet::use_task));
      check_thread();
      DUET_AWAIT_INTO(p_->n, p_->socket.async_read_some(net::buffer(p_->buf), duet::use_task));
      check_thread();
      DUET_AWAIT(net::async_write(p_->socket, net::buffer(p_->buf.data(), p_->n), duet::use_task));
      check_thread();
      DUET_RETURN(std::string(p_->buf.data(), p_->n));
    DUET_END
  }
};

struct WaitOrCancelAsync : duet::AsyncMethod<WaitOrCancelAsync, std::string> {
  net::steady_timer* timer_;
  duet::CancellationToken token_;
  std::string result_;

  WaitOrCancelAsync(net::steady_timer& t, duet::CancellationToken token) : timer_(&t), token_(std::move(token)) {}

  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT(timer_->async_wait(duet::use_task(token_, *timer_)));
        check_thread();
        result_ = "fired";
      DUET_CATCH(const duet::OperationCanceledError&, e)
        (void)e;
        check_thread();
        result_ = "canceled";
      DUET_END_TRY
      DUET_RETURN(result_);
    DUET_END
  }
};

}  // namespace

namespace {

duet::Task<std::string> echo_once_async(tcp::acceptor& acceptor) { return duet::start<EchoOnceAsync>(acceptor); }
duet::Task<std::string> wait_or_cancel_async(net::steady_timer& timer, duet::CancellationToken token) {
  return duet::start<WaitOrCancelAsync>(timer, std::move(token));
}

}  // namespace
