// bench/io/duet_hello_dsl.cpp — the duet hello server (duet_hello.hpp), dsl style: the two methods
// as duet::AsyncMethod machines whose move_next() the DUET_* macros write.
#include "duet_hello.hpp"

namespace {

struct AcceptLoopAsync : duet::AsyncMethod<AcceptLoopAsync> {
  duet::net::TcpListener* listener_;
  duet::net::Socket accepted_;

  explicit AcceptLoopAsync(duet::net::TcpListener& l) : listener_(&l) {}

  void move_next() {
    DUET_BEGIN
      for (;;) {
        DUET_AWAIT_INTO(accepted_, listener_->accept_socket_async());
        accepted_.set_no_delay(true);
        (void)session_async(std::move(accepted_));  // fire and forget
      }
    DUET_END
  }
};

// The DSL's storage sized to this method (duet::DslLimits: one awaiter of at most 32 bytes, one
// level of DUET_TRY, one try block), as a user trims a method kept per connection: 56 bytes less
// per idle connection than the defaults' (48-byte awaiters, 4 levels, 3 try blocks).
struct SessionAsync : duet::AsyncMethod<SessionAsync, void, duet::DslLimits<32, 1, 1>> {
  Connection c_;  // the socket, its parser state and its buffer, members (duet_hello.hpp)
  std::size_t n_ = 0;
  int requests_ = 0;

  explicit SessionAsync(duet::net::Socket s) : c_(std::move(s)) {}

  void move_next() {
    DUET_BEGIN
      DUET_TRY
        for (;;) {
          DUET_AWAIT_INTO(n_, c_.socket.receive_async(c_.buf));
          if (n_ == 0) break;
          requests_ = c_.scan(n_);
          if (requests_ > 0) DUET_AWAIT(c_.socket.send_async(responses(requests_)));
        }
      DUET_CATCH(const duet::net::SocketError&, e)  // reset by the peer
        (void)e;
      DUET_END_TRY
      c_.socket.close();
    DUET_END
  }
};

}  // namespace

namespace {

duet::Task<> accept_loop_async(duet::net::TcpListener& listener) { return duet::start<AcceptLoopAsync>(listener); }
duet::Task<> session_async(duet::net::Socket socket) { return duet::start<SessionAsync>(std::move(socket)); }

}  // namespace
