// bench/io/duet_hello_explicit.cpp — the duet hello server (duet_hello.hpp), explicit style: the
// two methods as the state machines Roslyn generates (state_, builder_, the awaiter as a field,
// await_unsafe_on_completed), in the shape of samples/echo_server/explicit.cpp.
#include <optional>

#include "duet_hello.hpp"

namespace {

// `<AcceptLoopAsync>d__0` — state 0 at the accept.
struct AcceptLoopStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<void> builder_;
  duet::net::TcpListener* listener_ = nullptr;                                  // parameter
  std::optional<duet::ValueTaskAwaiter<duet::net::Socket>> awaiter_;           // <>u__1

  void move_next() {
    try {
      for (;;) {
        if (state_ != 0) {
          awaiter_.emplace(listener_->accept_socket_async().get_awaiter());
          if (!awaiter_->is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(*awaiter_, *this);
            return;
          }
        } else {
          state_ = -1;
        }
        duet::net::Socket s = awaiter_->get_result();
        awaiter_.reset();
        s.set_no_delay(true);
        (void)session_async(std::move(s));  // fire and forget
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

// `<SessionAsync>d__1` — state 0 at the receive, 1 at the send (both ValueTask<size_t>: one
// awaiter field, as Roslyn shares fields of one type).
struct SessionStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<void> builder_;
  Connection c_;  // parameter `s`, locals `buf`, `state`, hoisted into the machine (duet_hello.hpp)
  std::optional<duet::ValueTaskAwaiter<std::size_t>> awaiter_;  // <>u__1

  void move_next() {
    try {
      try {
        for (;;) {
          if (state_ == 1) {
            state_ = -1;
            (void)awaiter_->get_result();  // the send's result
            awaiter_.reset();
          }
          if (state_ != 0) {
            awaiter_.emplace(c_.socket.receive_async(c_.buf).get_awaiter());
            if (!awaiter_->is_completed()) {
              state_ = 0;
              builder_.await_unsafe_on_completed(*awaiter_, *this);
              return;
            }
          } else {
            state_ = -1;
          }
          const std::size_t n = awaiter_->get_result();
          awaiter_.reset();
          if (n == 0) break;
          const int requests = c_.scan(n);
          if (requests > 0) {
            awaiter_.emplace(c_.socket.send_async(responses(requests)).get_awaiter());
            if (!awaiter_->is_completed()) {
              state_ = 1;
              builder_.await_unsafe_on_completed(*awaiter_, *this);
              return;
            }
            state_ = 1;  // completed at once: take its result at the top, as a resumption would
          }
        }
      } catch (const duet::net::SocketError&) {  // reset by the peer
        awaiter_.reset();
      }
      c_.socket.close();
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

template <class M>
auto launch(M& sm) {
  sm.builder_.start(sm);
  return sm.builder_.task();
}

duet::Task<> accept_loop_async(duet::net::TcpListener& listener) {
  AcceptLoopStateMachine sm{.state_ = -1,
                            .builder_ = duet::AsyncTaskMethodBuilder<void>::create(),
                            .listener_ = &listener,
                            .awaiter_ = {}};
  return launch(sm);
}

duet::Task<> session_async(duet::net::Socket socket) {
  SessionStateMachine sm{.state_ = -1,
                         .builder_ = duet::AsyncTaskMethodBuilder<void>::create(),
                         .c_ = Connection(std::move(socket)),
                         .awaiter_ = {}};
  return launch(sm);
}

}  // namespace
