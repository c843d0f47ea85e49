// echo_server — a TCP echo server on duet sockets: an accept loop that stops gracefully when its
// CancellationToken is canceled, one echo method per connection, and 100 concurrent clients.
//
//   async Task<(int, int)> RunServerAsync(TcpListener listener, CancellationToken token) {
//       var echoes = new List<Task<int>>();
//       while (true) {
//           Socket s;
//           try { s = await listener.AcceptSocketAsync(token); }        // state 0
//           catch (OperationCanceledException) { break; }               // graceful stop
//           echoes.Add(EchoAsync(s));
//       }
//       Console.WriteLine($"server: accept canceled; waiting for {echoes.Count} connections");
//       int[] lines = await Task.WhenAll(echoes);                       // state 1
//       return (echoes.Count, lines.Sum());
//   }
//   async Task<int> EchoAsync(Socket s) {                               // until the client closes
//       var buf = new byte[256]; int lines = 0;
//       while (true) {
//           int n = await s.ReceiveAsync(buf);                          // state 0
//           if (n == 0) break;
//           lines += buf[..n].Count(b => b == '\n');
//           await s.SendAsync(buf[..n]);                                // state 1
//       }
//       s.Close(); return lines;
//   }
//   async Task<int> ClientAsync(IPEndPoint server, int id, int lines) {
//       var s = new Socket(...); await s.ConnectAsync(server);         // state 0
//       var stream = new NetworkStream(s); int intact = 0;
//       for (int i = 0; i < lines; ++i) {
//           var line = $"client {id:D3} line {i}\n";
//           await stream.WriteAsync(line);                              // state 1
//           await stream.ReadExactlyAsync(buf[..line.Length]);          // state 2
//           if (buf[..line.Length] == line) intact++;
//       }
//       s.Close(); return intact;
//   }
//
// What the output shows: 100 clients and 100 server connections are 200 async methods waiting on
// sockets with no thread each; canceling the token ends the accept await with
// OperationCanceledError, which the loop catches to stop accepting and then waits for the open
// connections to finish. The order of events is fixed by main(): every line printed is the same on
// every run.
//
// The driver, shared by the three styles: main(). explicit.cpp, dsl.cpp and fiber.cpp define the
// three methods, each in its own style.
#pragma once

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <duet/duet.hpp>

namespace {

constexpr int k_clients = 100;
constexpr int k_lines = 10;

// ServerSummary — what RunServerAsync returns: (connections, lines echoed).
struct ServerSummary {
  int connections = 0;
  int lines = 0;
};

// line_for(id, i) — the i-th line client `id` sends.
std::string line_for(int id, int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "client %03d line %d\n", id % 1000, i % 1000);
  return buf;
}

int count_lines(std::span<const std::byte> data) {
  int n = 0;
  for (std::byte b : data) n += b == std::byte{'\n'} ? 1 : 0;
  return n;
}

// Buffers. The explicit and dsl methods keep their socket, stream and buffer as members of the
// state machine, as Roslyn hoists locals: a receive or send still waiting when the machine moves
// into its box at its first suspension follows it there (duet/detail/relocation.hpp). The fiber
// methods keep them in locals: a fiber's stack never moves.

// The three methods; one set per style.
duet::Task<ServerSummary> run_server_async(duet::net::TcpListener& listener, duet::CancellationToken token);
duet::Task<int> echo_async(duet::net::Socket socket);
duet::Task<int> client_async(duet::net::IPEndPoint server, int id, int lines);

}  // namespace

int main() {
  duet::net::TcpListener listener(duet::net::IPEndPoint(duet::net::IPAddress::loopback(), 0));
  listener.start(2 * k_clients);
  duet::CancellationTokenSource stop;
  std::printf("main: echo server listening on a loopback port\n");
  duet::Task<ServerSummary> server = run_server_async(listener, stop.token());
  std::printf("main: server task %s (waiting to accept)\n", duet::to_string(server.status()));

  std::printf("main: %d clients connect at once, %d lines each\n", k_clients, k_lines);
  std::vector<duet::Task<int>> clients;
  for (int id = 0; id < k_clients; ++id) clients.push_back(client_async(listener.local_endpoint(), id, k_lines));
  int intact = 0;
  for (auto& c : clients) intact += c.result();
  std::printf("main: %d of %d lines came back intact\n", intact, k_clients * k_lines);

  std::printf("main: canceling the server's token\n");
  stop.cancel();
  const ServerSummary s = server.result();
  std::printf("main: server stopped (task %s): %d connections, %d lines echoed\n",
              duet::to_string(server.status()), s.connections, s.lines);
  return 0;
}
