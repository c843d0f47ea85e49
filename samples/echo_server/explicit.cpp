// echo_server — explicit style: the three methods of driver.hpp as the state machines Roslyn
// generates (state_, builder_, one awaiter field per awaiter type, the await sequence of
// samples/get_status/explicit.cpp). An await inside `try` with a `catch`: Roslyn resumes into the
// try block by testing the state first thing inside it, as RunServer does. The program is
// driver.hpp.
#include "driver.hpp"

namespace {

// `<RunServerAsync>d__0` — states: 0 at the accept, 1 at WhenAll.
struct RunServerStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<ServerSummary> builder_;
  duet::net::TcpListener* listener_ = nullptr;  // parameter
  duet::CancellationToken token_;               // parameter
  std::vector<duet::Task<int>> echoes_;         // local `echoes`
  std::optional<duet::ValueTaskAwaiter<duet::net::Socket>> accept_awaiter_;  // <>u__1
  std::optional<duet::TaskAwaiter<std::vector<int>>> all_awaiter_;           // <>u__2

  void move_next() {
    ServerSummary result;
    try {
      if (state_ != 1) {
        for (;;) {
          bool canceled = false;
          try {
            if (state_ != 0) {
              accept_awaiter_.emplace(listener_->accept_socket_async(token_).get_awaiter());
              if (!accept_awaiter_->is_completed()) {
                state_ = 0;
                builder_.await_unsafe_on_completed(*accept_awaiter_, *this);
                return;
              }
            } else {
              state_ = -1;
            }
            duet::net::Socket s = accept_awaiter_->get_result();
            accept_awaiter_.reset();
            echoes_.push_back(echo_async(std::move(s)));
          } catch (const duet::OperationCanceledError&) {
            accept_awaiter_.reset();
            canceled = true;
          }
          if (canceled) break;
        }
        std::printf("server: accept canceled; waiting for %zu connections to finish\n", echoes_.size());
        all_awaiter_.emplace(duet::when_all(echoes_).get_awaiter());
        if (!all_awaiter_->is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(*all_awaiter_, *this);
          return;
        }
      } else {
        state_ = -1;
      }
      std::vector<int> lines = all_awaiter_->get_result();
      all_awaiter_.reset();
      result.connections = static_cast<int>(echoes_.size());
      for (int n : lines) result.lines += n;
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(result);
  }
};

// `<EchoAsync>d__1` — states: 0 at the receive, 1 at the send.
struct EchoStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  duet::net::Socket socket_;                // parameter `s`
  std::array<std::byte, 256> buf_{};        // local `buf` (hoisted: see "Buffers" in driver.hpp)
  int lines_ = 0;                           // local `lines`
  std::optional<duet::ValueTaskAwaiter<std::size_t>> awaiter_;  // <>u__1 (both awaits: one type)

  void move_next() {
    try {
      for (;;) {
        if (state_ == 1) {
          state_ = -1;
          (void)awaiter_->get_result();  // the send's result
          awaiter_.reset();
        }
        std::size_t n = 0;
        if (state_ != 0) {
          awaiter_.emplace(socket_.receive_async(buf_).get_awaiter());
          if (!awaiter_->is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(*awaiter_, *this);
            return;
          }
        } else {
          state_ = -1;
        }
        n = awaiter_->get_result();
        awaiter_.reset();
        if (n == 0) break;
        lines_ += count_lines(std::span(buf_).first(n));
        awaiter_.emplace(socket_.send_async(std::span(buf_).first(n)).get_awaiter());
        if (!awaiter_->is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
        state_ = 1;  // completed at once: take its result at the top of the loop, as a resumption would
      }
      socket_.close();
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(lines_);
  }
};

// `<ClientAsync>d__2` — states: 0 at the connect, 1 at the write, 2 at the read.
struct ClientStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  duet::net::IPEndPoint server_;            // parameter
  int id_ = 0;                              // parameter
  int lines_ = 0;                           // parameter
  duet::net::NetworkStream stream_{duet::net::Socket(), true};  // locals `s` and `stream` (owning)
  std::string line_;                        // local `line`
  std::array<std::byte, 64> buf_{};         // local `buf` (hoisted: see "Buffers" in driver.hpp)
  int i_ = 0;                               // local `i`
  int intact_ = 0;                          // local `intact`
  std::optional<duet::ValueTaskAwaiter<void>> awaiter_;  // <>u__1 (every await: one type)

  // suspend(n) — stores nothing new: the awaiter is in awaiter_; true when the machine suspended.
  bool suspend(int n) {
    if (awaiter_->is_completed()) return false;
    state_ = n;
    builder_.await_unsafe_on_completed(*awaiter_, *this);
    return true;
  }

  void move_next() {
    try {
      switch (state_) {
        case 0: goto resume_connect;
        case 1: goto resume_write;
        case 2: goto resume_read;
        default: break;
      }
      stream_ = duet::net::NetworkStream(duet::net::Socket(duet::net::AddressFamily::inter_network), true);
      awaiter_.emplace(stream_.socket().connect_async(server_).get_awaiter());
      if (suspend(0)) return;
    resume_connect:
      state_ = -1;
      awaiter_->get_result();
      awaiter_.reset();
      for (i_ = 0; i_ < lines_; ++i_) {
        line_ = line_for(id_, i_);
        awaiter_.emplace(stream_.write_async(std::as_bytes(std::span(line_))).get_awaiter());
        if (suspend(1)) return;
      resume_write:
        state_ = -1;
        awaiter_->get_result();
        awaiter_.reset();
        awaiter_.emplace(stream_.read_exactly_async(std::span(buf_).first(line_.size())).get_awaiter());
        if (suspend(2)) return;
      resume_read:
        state_ = -1;
        awaiter_->get_result();
        awaiter_.reset();
        if (std::memcmp(buf_.data(), line_.data(), line_.size()) == 0) ++intact_;
      }
      stream_.close();
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(intact_);
  }
};

template <class M>
auto launch(M& sm) {
  sm.builder_.start(sm);
  return sm.builder_.task();
}

duet::Task<ServerSummary> run_server_async(duet::net::TcpListener& listener, duet::CancellationToken token) {
  RunServerStateMachine sm{.state_ = -1,
                           .builder_ = duet::AsyncTaskMethodBuilder<ServerSummary>::create(),
                           .listener_ = &listener,
                           .token_ = std::move(token),
                           .echoes_ = {},
                           .accept_awaiter_ = {},
                           .all_awaiter_ = {}};
  return launch(sm);
}

duet::Task<int> echo_async(duet::net::Socket socket) {
  EchoStateMachine sm{.state_ = -1,
                      .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                      .socket_ = std::move(socket),
                      .buf_ = {},
                      .lines_ = 0,
                      .awaiter_ = {}};
  return launch(sm);
}

duet::Task<int> client_async(duet::net::IPEndPoint server, int id, int lines) {
  ClientStateMachine sm{.state_ = -1,
                        .builder_ = duet::AsyncTaskMethodBuilder<int>::create(),
                        .server_ = server,
                        .id_ = id,
                        .lines_ = lines,
                        .stream_ = duet::net::NetworkStream(duet::net::Socket(), true),
                        .line_ = {},
                        .buf_ = {},
                        .i_ = 0,
                        .intact_ = 0,
                        .awaiter_ = {}};
  return launch(sm);
}

}  // namespace
