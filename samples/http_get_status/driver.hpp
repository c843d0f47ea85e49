// http_get_status — seed 001's GetStatusAsync for real: an HttpClient GET over a loopback socket
// to an in-process duet::net::HttpServer on an ephemeral port.
//
//   async Task<int> GetStatusAsync(HttpClient http, string url)
//   {
//       var response = await http.GetAsync(url);  // suspension point: state 0
//       return (int)response.StatusCode;
//   }
//
// What the output shows: the method runs synchronously on the caller's thread until the await of
// a response that has not arrived, and suspends there. While it waits, no thread waits for it:
// the process has exactly as many threads as before the call, and 100 calls waiting at once add
// none either — the socket is registered with the I/O thread's epoll, which posts the method's
// continuation to the thread pool when the response arrives ("the OS calls you back").
//
// To make the output the same on every run, each server is started only after main() saw the
// call suspend: the request waits in the listening socket's backlog until then.
//
// The driver, shared by the three styles: main(), the server's routes, the thread count.
// explicit.cpp, dsl.cpp and fiber.cpp define get_status_async(), each in its own style.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <duet/duet.hpp>

namespace {

const std::thread::id g_main_thread = std::this_thread::get_id();

// where() — a stable name for the calling thread's role (see get_status/driver.hpp: opaque, so a
// fiber that migrated reads its thread afresh).
[[gnu::noinline]] const char* where() {
  asm volatile("" ::: "memory");
  if (std::this_thread::get_id() == g_main_thread) return "the main thread";
  if (duet::is_thread_pool_thread()) return "a thread-pool thread";
  return "another thread";
}

// get_status_async(http, base, path) — GetStatusAsync(http, base + path); one per style. Prints
// the path only: the port differs from run to run.
duet::Task<int> get_status_async(duet::net::HttpClient& http, std::string base, std::string path);

// thread_count() — the process's threads now (/proc/self/status).
int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

duet::net::HttpResponseMessage route(const duet::net::HttpRequestMessage& request) {
  duet::net::HttpResponseMessage response;
  if (request.target != "/status") {
    response.status_code = 404;
    response.content = "no route";
  }
  return response;
}

// listening_socket() — bound to 127.0.0.1 on an ephemeral port, listening; not accepting yet.
duet::net::Socket listening_socket() {
  duet::net::Socket s(duet::net::AddressFamily::inter_network);
  s.bind(duet::net::IPEndPoint(duet::net::IPAddress::loopback(), 0));
  s.listen(512);
  return s;
}

std::string base_of(const duet::net::Socket& listening) {
  return "http://" + listening.local_endpoint().to_string();
}

void call(const std::string& path) {
  duet::net::Socket listening = listening_socket();
  const std::string base = base_of(listening);
  duet::net::HttpClient http;
  std::printf("main: calling GetStatusAsync(\"%s\")\n", path.c_str());
  const int before = thread_count();
  duet::Task<int> task = get_status_async(http, base, path);
  std::printf("main: GetStatusAsync returned a task; status: %s\n", duet::to_string(task.status()));
  std::printf("main: threads while it waits: %s\n",
              thread_count() == before ? "as many as before the call (none waits for the response)"
                                       : "MORE than before the call");
  std::printf("main: starting the server\n");
  duet::net::HttpServer server(route);
  server.start(std::move(listening));
  const int status = task.result();
  std::printf("main: status code %d (task %s)\n", status, duet::to_string(task.status()));
}

// many(n) — n calls waiting at once, then one server answering them all.
void many(int n) {
  duet::net::Socket listening = listening_socket();
  const std::string base = base_of(listening);
  duet::net::HttpClient http;
  const int before = thread_count();
  std::vector<duet::Task<duet::net::HttpResponseMessage>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(http.get_async(base + "/status"));  // quiet
  int pending = 0;
  for (auto& t : tasks) pending += t.is_completed() ? 0 : 1;
  std::printf("main: %d GETs wait at once (%d pending); threads added: %d\n", n, pending, thread_count() - before);
  duet::net::HttpServer server(route);
  server.start(std::move(listening));
  int ok = 0;
  for (auto& t : tasks) ok += t.result().status_code == 200 ? 1 : 0;
  std::printf("main: %d of %d answered 200; the server accepted %zu connections\n", ok, n,
              server.connections_accepted());
}

// warm_up() — one silent GET first: the I/O thread and the pool's threads exist from here on, so
// the counts above compare like with like.
void warm_up() {
  duet::net::HttpServer server(route);
  server.start();
  duet::net::HttpClient http;
  (void)http.get_async("http://" + server.local_endpoint().to_string() + "/status").result();
}

}  // namespace

int main() {
  warm_up();
  call("/status");
  std::printf("\n");
  call("/missing");
  std::printf("\n");
  many(100);
  return 0;
}
