// duet/net/http.hpp — HTTP/1.1 over duet sockets: HttpClient (.NET's HttpClient, GET only) and a
// small HttpServer for the samples and benchmarks. Messages are parsed and serialized by
// Boost.Beast's parser and serializer (src/net/http.cpp); this header does not include Beast.
//
// Thread-safety: HttpClient's get_async may be called from any thread, concurrently. HttpServer's
// start/stop from one thread; the handler runs on thread-pool threads, concurrently for
// different connections.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duet/core/task.hpp"
#include "duet/net/ip_address.hpp"
#include "duet/net/socket.hpp"
#include "duet/time/cancellation.hpp"

namespace duet::net {

// HttpHeaders — name/value pairs in arrival order; lookups ignore the name's case.
struct HttpHeaders {
  std::vector<std::pair<std::string, std::string>> items;
  // get(name) — the first value of `name`, "" when absent.
  std::string get(std::string_view name) const;
  bool contains(std::string_view name) const;
  void add(std::string name, std::string value) { items.emplace_back(std::move(name), std::move(value)); }
};

// HttpResponseMessage — a response (.NET's HttpResponseMessage, the parts duet needs).
struct HttpResponseMessage {
  int status_code = 200;
  std::string reason_phrase;  // "OK"; the server fills in the standard phrase when empty
  HttpHeaders headers;
  std::string content;        // the body, de-chunked
  bool keep_alive = true;     // the connection stays open after this response
  bool chunked = false;       // server side: send the body with Transfer-Encoding: chunked
  std::string content_type = "text/plain";  // server side

  bool is_success_status_code() const noexcept { return status_code >= 200 && status_code <= 299; }
};

// HttpRequestMessage — a request as the server's handler sees it.
struct HttpRequestMessage {
  std::string method;  // "GET"
  std::string target;  // "/status?x=1"
  HttpHeaders headers;
  std::string content;
  bool keep_alive = true;
};

// HttpClient — GET over HTTP/1.1 with keep-alive connection reuse (.NET's HttpClient with its
// SocketsHttpHandler pool: an idle connection to the same endpoint is reused; a reused
// connection the server closed meanwhile is retried once on a new one).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // get_async(url, token) — GET `url` ("http://host[:port]/path"; host a name or an address).
  // Faults with ArgumentError (a malformed or non-http URL, naming it), SocketError (connect,
  // reset...), InvalidOperationError (a malformed response), OperationCanceledError.
  Task<HttpResponseMessage> get_async(std::string url, CancellationToken token = {});

  // connections_opened() — how many TCP connections this client opened (reuse shows here).
  std::size_t connections_opened() const noexcept;
  // idle_connections() — how many wait in the pool for reuse.
  std::size_t idle_connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// HttpServer — accepts connections and answers each request with handler(request), keeping
// connections alive as HTTP/1.1 does. Every connection is an async method awaiting its socket:
// no thread is held while a connection waits.
class HttpServer {
 public:
  using Handler = std::function<HttpResponseMessage(const HttpRequestMessage&)>;

  explicit HttpServer(Handler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // start(endpoint, backlog) — listens (default: loopback, an ephemeral port) and starts
  // accepting. InvalidOperationError when already started.
  void start(const IPEndPoint& endpoint = IPEndPoint(IPAddress::loopback(), 0), int backlog = 512);
  // start(listening) — serves a socket that already listens (bound and listen()ed by the caller):
  // connections made before this call wait in its backlog and are served now.
  void start(Socket&& listening);
  // local_endpoint() — where it listens (the real port).
  IPEndPoint local_endpoint() const;
  // stop() — stops accepting, closes every connection, and returns once every connection's
  // method ended. Idempotent.
  void stop();

  std::size_t connections_accepted() const noexcept;
  std::size_t requests_served() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace duet::net
