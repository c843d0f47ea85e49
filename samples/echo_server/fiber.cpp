// echo_server — fiber style: the three methods of driver.hpp as straight-line code on fibers;
// duet::await suspends the fiber, not the thread. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<ServerSummary> run_server_async(duet::net::TcpListener& listener, duet::CancellationToken token) {
  return duet::fiber::async([&listener, token] {
    std::vector<duet::Task<int>> echoes;
    for (;;) {
      duet::net::Socket s;
      try {
        s = duet::await(listener.accept_socket_async(token));
      } catch (const duet::OperationCanceledError&) {
        break;
      }
      echoes.push_back(echo_async(std::move(s)));
    }
    std::printf("server: accept canceled; waiting for %zu connections to finish\n", echoes.size());
    std::vector<int> lines = duet::await(duet::when_all(echoes));
    ServerSummary summary{static_cast<int>(echoes.size()), 0};
    for (int n : lines) summary.lines += n;
    return summary;
  });
}

duet::Task<int> echo_async(duet::net::Socket socket) {
  return duet::fiber::async([s = std::move(socket)]() mutable {
    std::array<std::byte, 256> buf{};
    int lines = 0;
    for (;;) {
      const std::size_t n = duet::await(s.receive_async(buf));
      if (n == 0) break;
      lines += count_lines(std::span(buf).first(n));
      duet::await(s.send_async(std::span(buf).first(n)));
    }
    s.close();
    return lines;
  });
}

duet::Task<int> client_async(duet::net::IPEndPoint server, int id, int lines) {
  return duet::fiber::async([server, id, lines] {
    duet::net::Socket s(duet::net::AddressFamily::inter_network);
    duet::await(s.connect_async(server));
    duet::net::NetworkStream stream(s);
    std::array<std::byte, 64> buf{};
    int intact = 0;
    for (int i = 0; i < lines; ++i) {
      const std::string line = line_for(id, i);
      duet::await(stream.write_async(std::as_bytes(std::span(line))));
      duet::await(stream.read_exactly_async(std::span(buf).first(line.size())));
      if (std::memcmp(buf.data(), line.data(), line.size()) == 0) ++intact;
    }
    s.close();
    return intact;
  });
}

}  // namespace
