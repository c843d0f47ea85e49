// echo_server — DSL style: the three methods of driver.hpp as duet::AsyncMethod machines whose
// move_next() the DUET_* macros write. The program is driver.hpp.
#include "driver.hpp"

namespace {

struct RunServerAsync : duet::AsyncMethod<RunServerAsync, ServerSummary> {
  duet::net::TcpListener* listener_;
  duet::CancellationToken token_;
  std::vector<duet::Task<int>> echoes_;
  duet::net::Socket accepted_;
  std::vector<int> lines_;
  bool canceled_ = false;

  RunServerAsync(duet::net::TcpListener& l, duet::CancellationToken t) : listener_(&l), token_(std::move(t)) {}

  void move_next() {
    DUET_BEGIN
      while (!canceled_) {
        DUET_TRY
          DUET_AWAIT_INTO(accepted_, listener_->accept_socket_async(token_));
          echoes_.push_back(echo_async(std::move(accepted_)));
        DUET_CATCH(const duet::OperationCanceledError&, e)
          (void)e;
          canceled_ = true;
        DUET_END_TRY
      }
      std::printf("server: accept canceled; waiting for %zu connections to finish\n", echoes_.size());
      DUET_AWAIT_INTO(lines_, duet::when_all(echoes_));
      {
        ServerSummary s{static_cast<int>(echoes_.size()), 0};
        for (int n : lines_) s.lines += n;
        DUET_RETURN(s);
      }
    DUET_END
  }
};

struct EchoAsync : duet::AsyncMethod<EchoAsync, int> {
  duet::net::Socket socket_;
  std::array<std::byte, 256> buf_{};  // a member: see "Buffers" in driver.hpp
  std::size_t n_ = 0;
  int lines_ = 0;

  explicit EchoAsync(duet::net::Socket s) : socket_(std::move(s)) {}

  void move_next() {
    DUET_BEGIN
      for (;;) {
        DUET_AWAIT_INTO(n_, socket_.receive_async(buf_));
        if (n_ == 0) break;
        lines_ += count_lines(std::span(buf_).first(n_));
        DUET_AWAIT(socket_.send_async(std::span(buf_).first(n_)));
      }
      socket_.close();
      DUET_RETURN(lines_);
    DUET_END
  }
};

struct ClientAsync : duet::AsyncMethod<ClientAsync, int> {
  duet::net::IPEndPoint server_;
  int id_;
  int lines_;
  duet::net::NetworkStream stream_{duet::net::Socket(), true};  // owns the socket
  std::string line_;
  std::array<std::byte, 64> buf_{};  // a member: see "Buffers" in driver.hpp
  int i_ = 0;
  int intact_ = 0;

  ClientAsync(duet::net::IPEndPoint server, int id, int lines) : server_(server), id_(id), lines_(lines) {}

  void move_next() {
    DUET_BEGIN
      stream_ = duet::net::NetworkStream(duet::net::Socket(duet::net::AddressFamily::inter_network), true);
      DUET_AWAIT(stream_.socket().connect_async(server_));
      for (i_ = 0; i_ < lines_; ++i_) {
        line_ = line_for(id_, i_);
        DUET_AWAIT(stream_.write_async(std::as_bytes(std::span(line_))));
        DUET_AWAIT(stream_.read_exactly_async(std::span(buf_).first(line_.size())));
        if (std::memcmp(buf_.data(), line_.data(), line_.size()) == 0) ++intact_;
      }
      stream_.close();
      DUET_RETURN(intact_);
    DUET_END
  }
};

}  // namespace

namespace {

duet::Task<ServerSummary> run_server_async(duet::net::TcpListener& listener, duet::CancellationToken token) {
  return duet::start<RunServerAsync>(listener, std::move(token));
}
duet::Task<int> echo_async(duet::net::Socket socket) { return duet::start<EchoAsync>(std::move(socket)); }
duet::Task<int> client_async(duet::net::IPEndPoint server, int id, int lines) {
  return duet::start<ClientAsync>(server, id, lines);
}

}  // namespace
