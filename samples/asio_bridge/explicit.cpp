// asio_bridge — explicit style: the two methods of driver.hpp as the state machines Roslyn
// generates (state_, builder_, one awaiter field per awaiter type, await_unsafe_on_completed);
// each Asio operation is a Task through duet::use_task, awaited as any Task.
#include <optional>

#include "driver.hpp"

namespace {

// `<EchoOnceAsync>d__0` — states: 0 at the accept, 1 at the read, 2 at the write.
struct EchoOnceStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_;
  tcp::acceptor* acceptor_ = nullptr;                                   // parameter
  std::unique_ptr<Peer> p_;                                             // locals `s`, `buf`, `n`
  std::optional<duet::TaskAwaiter<tcp::socket>> accept_awaiter_;        // <>u__1
  std::optional<duet::TaskAwaiter<std::size_t>> size_awaiter_;          // <>u__2 (read and write)

  // suspend(a, n) — true when the machine suspended on awaiter `a` as state n.
  template <class A>
  bool suspend(A& a, int n) {
    if (a.is_completed()) return false;
    state_ = n;
    builder_.await_unsafe_on_completed(a, *this);
    return true;
  }

  void move_next() {
    std::string result;
    try {
      switch (state_) {
        case 0: goto resume_accept;
        case 1: goto resume_read;
        case 2: goto resume_write;
        default: break;
      }
      p_ = std::make_unique<Peer>(acceptor_->get_executor());
      accept_awaiter_.emplace(acceptor_->async_accept(duet::use_task).get_awaiter());
      if (suspend(*accept_awaiter_, 0)) return;
    resume_accept:
      state_ = -1;
      p_->socket = accept_awaiter_->get_result();
      accept_awaiter_.reset();
      check_thread();
      size_awaiter_.emplace(p_->socket.async_read_some(net::buffer(p_->buf), duet::use_task).get_awaiter());
      if (suspend(*size_awaiter_, 1)) return;
    resume_read:
      state_ = -1;
      p_->n = size_awaiter_->get_result();
      size_awaiter_.reset();
      check_thread();
      size_awaiter_.emplace(net::async_write(p_->socket, net::buffer(p_->buf.data(), p_->n), duet::use_task).get_awaiter());
      if (suspend(*size_awaiter_, 2)) return;
    resume_write:
      state_ = -1;
      (void)size_awaiter_->get_result();
      size_awaiter_.reset();
      check_thread();
      result = std::string(p_->buf.data(), p_->n);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(std::move(result));
  }
};

// `<WaitOrCancelAsync>d__1` — state 0 at the wait, inside try: Roslyn resumes into the try block
// by testing the state first thing inside it.
struct WaitOrCancelStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_;
  net::steady_timer* timer_ = nullptr;            // parameter
  duet::CancellationToken token_;                 // parameter
  std::optional<duet::TaskAwaiter<void>> awaiter_;  // <>u__1

  void move_next() {
    std::string result;
    try {
      try {
        if (state_ != 0) {
          awaiter_.emplace(timer_->async_wait(duet::use_task(token_, *timer_)).get_awaiter());
          if (!awaiter_->is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(*awaiter_, *this);
            return;
          }
        } else {
          state_ = -1;
        }
        awaiter_->get_result();
        awaiter_.reset();
        check_thread();
        result = "fired";
      } catch (const duet::OperationCanceledError&) {
        awaiter_.reset();
        check_thread();
        result = "canceled";
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(std::move(result));
  }
};

template <class M>
auto launch(M& sm) {
  sm.builder_.start(sm);
  return sm.builder_.task();
}

duet::Task<std::string> echo_once_async(tcp::acceptor& acceptor) {
  EchoOnceStateMachine sm{.state_ = -1,
                          .builder_ = duet::AsyncTaskMethodBuilder<std::string>::create(),
                          .acceptor_ = &acceptor,
                          .p_ = {},
                          .accept_awaiter_ = {},
                          .size_awaiter_ = {}};
  return launch(sm);
}

duet::Task<std::string> wait_or_cancel_async(net::steady_timer& timer, duet::CancellationToken token) {
  WaitOrCancelStateMachine sm{.state_ = -1,
                              .builder_ = duet::AsyncTaskMethodBuilder<std::string>::create(),
                              .timer_ = &timer,
                              .token_ = std::move(token),
                              .awaiter_ = {}};
  return launch(sm);
}

}  // namespace
