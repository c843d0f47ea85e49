// src/net/http.cpp — HttpClient and HttpServer: Boost.Beast's HTTP/1.1 parser and serializer
// (header-only, Debian's libboost-dev) driven over duet sockets by DSL async methods.
#include "duet/net/http.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>

#include "duet/net/dns.hpp"
#include "duet/net/socket.hpp"
#include "duet/sm/dsl.hpp"

namespace duet::net {

namespace http = boost::beast::http;

// ---- headers ---------------------------------------------------------------------------------

namespace {
bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string HttpHeaders::get(std::string_view name) const {
  for (const auto& [k, v] : items) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool HttpHeaders::contains(std::string_view name) const {
  return std::any_of(items.begin(), items.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}

namespace {

// ---- the wire --------------------------------------------------------------------------------

// Connection — a socket and the bytes received but not parsed yet.
struct Connection {
  Socket socket;
  std::vector<std::byte> buffer = std::vector<std::byte>(16 * 1024);
  std::size_t length = 0;
  Connection* next = nullptr;  // the server's list of open connections
  Connection* prev = nullptr;

  // free_space() — where the next receive writes; grows the buffer when it is full (a header or
  // body larger than it), up to Beast's limits, which reject larger messages.
  std::span<std::byte> free_space() {
    if (length == buffer.size()) buffer.resize(buffer.size() * 2);
    return std::span(buffer).subspan(length);
  }
};

// feed(parser, c) — hands the buffered bytes to Beast's parser; true when a message is complete.
// A malformed message throws InvalidOperationError naming Beast's diagnosis.
template <class Parser>
bool feed(Parser& parser, Connection& c, const char* who) {
  while (c.length > 0 && !parser.is_done()) {
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(c.buffer.data(), c.length), ec);
    std::memmove(c.buffer.data(), c.buffer.data() + used, c.length - used);
    c.length -= used;
    if (ec == http::error::need_more) break;
    if (ec) {
      throw InvalidOperationError(std::string("duet::net::") + who + ": malformed HTTP message (" +
                                  ec.message() + ")");
    }
  }
  return parser.is_done();
}

// end_of_stream(parser) — the peer closed: true when that completed the message (a body
// delimited by the end of the connection).
template <class Parser>
bool end_of_stream(Parser& parser) {
  boost::beast::error_code ec;
  parser.put_eof(ec);
  return !ec && parser.is_done();
}

// to_wire(message) — Beast's serializer, collected into one string.
template <bool IsRequest, class Body, class Fields>
std::string to_wire(http::message<IsRequest, Body, Fields>& m) {
  http::serializer<IsRequest, Body, Fields> sr{m};
  std::string out;
  boost::beast::error_code ec;
  while (!sr.is_done()) {
    sr.next(ec, [&](boost::beast::error_code& ec2, const auto& buffers) {
      ec2 = {};
      std::size_t n = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
        boost::asio::const_buffer b = *it;
        out.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      sr.consume(n);
    });
    if (ec) throw InvalidOperationError("duet::net: serializing an HTTP message failed (" + ec.message() + ")");
  }
  return out;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

template <class Fields>
HttpHeaders headers_of(const Fields& fields) {
  HttpHeaders h;
  for (const auto& f : fields) h.add(std::string(f.name_string()), std::string(f.value()));
  return h;
}

// ---- URLs ------------------------------------------------------------------------------------

struct Url {
  std::string host;  // without brackets
  int port = 80;
  std::string target = "/";
  std::string host_header;  // as written, with the port when given
};

Url parse_url(const std::string& url) {
  auto bad = [&](const char* why) -> Url {
    throw ArgumentError("duet::net::HttpClient::get_async: \"" + url + "\" " + why +
                        "; pass \"http://host[:port]/path\"");
  };
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size() || !iequals(std::string_view(url).substr(0, scheme.size()), scheme)) {
    return bad("is not an http:// URL (duet's HttpClient speaks plain HTTP/1.1 only)");
  }
  std::string_view rest = std::string_view(url).substr(scheme.size());
  const std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  Url u;
  if (slash != std::string_view::npos) {
    u.target = std::string(rest.substr(slash));
    if (u.target.front() == '?') u.target.insert(0, "/");
  }
  u.host_header = std::string(authority);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated [IPv6] host");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("has junk after its [IPv6] host");
      port = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return bad("has no host");
  if (!port.empty()) {
    long long p = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size()) return bad("has a port that is not a number");
    if (p < 0 || p > 65535) {
      throw ArgumentError("duet::net::HttpClient::get_async: port " + std::to_string(p) + " in \"" + url +
                          "\" is outside 0..65535");
    }
    u.port = static_cast<int>(p);
  }
  return u;
}

}  // namespace

// ---- HttpClient ------------------------------------------------------------------------------

struct HttpClient::Impl {
  mutable std::mutex lock;
  std::vector<std::pair<IPEndPoint, std::unique_ptr<Connection>>> idle;
  std::atomic<std::size_t> opened{0};

  std::unique_ptr<Connection> take(const IPEndPoint& ep) {
    std::lock_guard guard(lock);
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if (it->first == ep) {
        std::unique_ptr<Connection> c = std::move(it->second);
        idle.erase(it);
        return c;
      }
    }
    return nullptr;
  }
  void put(const IPEndPoint& ep, std::unique_ptr<Connection> c) {
    std::lock_guard guard(lock);
    idle.emplace_back(ep, std::move(c));
  }
};

namespace {

using ResponseParser = http::response_parser<http::string_body>;

// GetAsync — HttpClient.GetAsync(url):
//   var u = Parse(url); var ep = await Resolve(u);
//   for (attempt = 0; ; ++attempt) {
//     var conn = pool.Take(ep) ?? await Connect(ep);
//     await conn.SendAsync(request);
//     read until Beast's parser has the response; a reused connection that ends before the
//     first byte was closed by the server while idle: retry once on a new connection;
//     if (response.KeepAlive) pool.Put(ep, conn); return response;
//   }
struct GetAsync : duet::AsyncMethod<GetAsync, HttpResponseMessage> {
  std::shared_ptr<HttpClient::Impl> client_;
  std::string url_;
  CancellationToken token_;
  Url u_;
  std::vector<IPAddress> addresses_;
  IPEndPoint endpoint_;
  std::string request_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<ResponseParser> parser_;
  bool reused_ = false;
  bool got_bytes_ = false;
  bool retry_ = false;
  int attempt_ = 0;
  std::size_t n_ = 0;

  GetAsync(std::shared_ptr<HttpClient::Impl> c, std::string url, CancellationToken t)
      : client_(std::move(c)), url_(std::move(url)), token_(std::move(t)) {}

  void move_next() {
    DUET_BEGIN
      u_ = parse_url(url_);
      {
        IPAddress literal;
        if (IPAddress::try_parse(u_.host, literal)) addresses_.push_back(literal);
      }
      if (addresses_.empty()) DUET_AWAIT_INTO(addresses_, Dns::get_host_addresses_async(u_.host));
      endpoint_ = IPEndPoint(addresses_.front(), u_.port);
      {
        http::request<http::empty_body> req{http::verb::get, u_.target, 11};
        req.set(http::field::host, u_.host_header);
        req.set(http::field::user_agent, "duet");
        req.keep_alive(true);
        request_ = to_wire(req);
      }
      for (attempt_ = 0;; ++attempt_) {
        conn_ = attempt_ == 0 ? client_->take(endpoint_) : nullptr;
        reused_ = conn_ != nullptr;
        if (!conn_) {
          conn_ = std::make_unique<Connection>();
          conn_->socket = Socket(endpoint_.address_family());
          DUET_AWAIT(conn_->socket.connect_async(endpoint_, token_));
          conn_->socket.set_no_delay(true);
          client_->opened.fetch_add(1, std::memory_order_relaxed);
        }
        DUET_AWAIT(conn_->socket.send_async(as_bytes(request_), token_));
        parser_ = std::make_unique<ResponseParser>();
        parser_->eager(true);
        parser_->body_limit(64u << 20);
        got_bytes_ = false;
        retry_ = false;
        while (!feed(*parser_, *conn_, "HttpClient::get_async")) {
          DUET_AWAIT_INTO(n_, conn_->socket.receive_async(conn_->free_space(), token_));
          if (n_ == 0) {
            if (reused_ && !got_bytes_) {
              retry_ = true;  // the server closed the idle connection: a new one
              break;
            }
            if (end_of_stream(*parser_)) break;
            throw InvalidOperationError("duet::net::HttpClient::get_async: the server closed the "
                                        "connection before the response to \"" + url_ +
                                        "\" was complete");
          }
          got_bytes_ = true;
          conn_->length += n_;
        }
        if (!retry_) break;
      }
      {
        auto& res = parser_->get();
        HttpResponseMessage m;
        m.status_code = static_cast<int>(res.result_int());
        m.reason_phrase = std::string(res.reason());
        m.headers = headers_of(res);
        m.content = std::move(res.body());
        m.keep_alive = res.keep_alive();
        m.chunked = res.chunked();
        m.content_type = m.headers.get("Content-Type");
        if (m.keep_alive && conn_->length == 0) client_->put(endpoint_, std::move(conn_));
        DUET_RETURN(std::move(m));
      }
    DUET_END
  }
};

}  // namespace

HttpClient::HttpClient() : impl_(std::make_shared<Impl>()) {}
HttpClient::~HttpClient() = default;

Task<HttpResponseMessage> HttpClient::get_async(std::string url, CancellationToken token) {
  return duet::start<GetAsync>(impl_, std::move(url), std::move(token));
}

std::size_t HttpClient::connections_opened() const noexcept { return impl_->opened.load(std::memory_order_relaxed); }
std::size_t HttpClient::idle_connections() const {
  std::lock_guard guard(impl_->lock);
  return impl_->idle.size();
}

// ---- HttpServer ------------------------------------------------------------------------------

struct HttpServer::Impl {
  Handler handler;
  Socket listener;
  std::mutex lock;
  std::condition_variable all_ended;
  Connection* open = nullptr;  // every connection whose method runs
  int running = 0;             // the accept loop + the connection methods
  bool stopping = false;
  std::atomic<std::size_t> accepted{0};
  std::atomic<std::size_t> served{0};

  void began(Connection* c) {
    std::lock_guard guard(lock);
    ++running;
    if (c) {
      c->next = open;
      if (open) open->prev = c;
      open = c;
      if (stopping) c->socket.close();
    }
  }
  void ended(Connection* c) {
    std::lock_guard guard(lock);
    if (c) {
      (c->prev ? c->prev->next : open) = c->next;
      if (c->next) c->next->prev = c->prev;
    }
    if (--running == 0) all_ended.notify_all();
  }
};

namespace {

using RequestParser = http::request_parser<http::string_body>;

std::string respond(HttpServer::Impl& server, RequestParser& parser) {
  auto& req = parser.get();
  HttpRequestMessage in;
  in.method = std::string(req.method_string());
  in.target = std::string(req.target());
  in.headers = headers_of(req);
  in.content = std::move(req.body());
  in.keep_alive = req.keep_alive();
  HttpResponseMessage out;
  try {
    out = server.handler(in);
  } catch (const std::exception& e) {
    out = HttpResponseMessage{};
    out.status_code = 500;
    out.content = std::string("handler failed: ") + e.what();
  }
  http::response<http::string_body> res{static_cast<http::status>(out.status_code), 11};
  if (!out.reason_phrase.empty()) res.reason(out.reason_phrase);
  for (const auto& [k, v] : out.headers.items) res.insert(k, v);
  if (!out.content_type.empty()) res.set(http::field::content_type, out.content_type);
  res.body() = std::move(out.content);
  res.keep_alive(in.keep_alive && out.keep_alive);
  if (out.chunked) {
    res.chunked(true);
  } else {
    res.prepare_payload();
  }
  server.served.fetch_add(1, std::memory_order_relaxed);
  return to_wire(res);
}

// ServeConnection — one connection:
//   try { while (true) { var req = await ReadRequest(); if (req == null) break;
//                        await SendAsync(Respond(req)); if (!keepAlive) break; } }
//   catch { }  // a reset or the server stopping ends the connection
struct ServeConnection : duet::AsyncMethod<ServeConnection> {
  std::shared_ptr<HttpServer::Impl> server_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<RequestParser> parser_;
  std::string response_;
  bool keep_alive_ = true;
  std::size_t n_ = 0;

  ServeConnection(std::shared_ptr<HttpServer::Impl> s, std::unique_ptr<Connection> c)
      : server_(std::move(s)), conn_(std::move(c)) {}

  void move_next() {
    DUET_BEGIN
      DUET_TRY
        while (keep_alive_) {
          parser_ = std::make_unique<RequestParser>();
          parser_->eager(true);
          while (!feed(*parser_, *conn_, "HttpServer")) {
            DUET_AWAIT_INTO(n_, conn_->socket.receive_async(conn_->free_space()));
            if (n_ == 0) {
              keep_alive_ = false;  // the client closed (between requests, or mid-request)
              break;
            }
            conn_->length += n_;
          }
          if (!parser_->is_done()) break;
          keep_alive_ = parser_->get().keep_alive();
          response_ = respond(*server_, *parser_);
          DUET_AWAIT(conn_->socket.send_async(as_bytes(response_)));
        }
      DUET_CATCH_ALL
      DUET_END_TRY
      conn_->socket.close();
      server_->ended(conn_.get());
    DUET_END
  }
};

// AcceptLoop — while (true) { var s = await listener.AcceptAsync(); _ = Serve(s); } until the
// listener is closed.
struct AcceptLoop : duet::AsyncMethod<AcceptLoop> {
  std::shared_ptr<HttpServer::Impl> server_;
  Socket accepted_;
  bool stopped_ = false;

  explicit AcceptLoop(std::shared_ptr<HttpServer::Impl> s) : server_(std::move(s)) {}

  void move_next() {
    DUET_BEGIN
      while (!stopped_) {
        DUET_TRY
          DUET_AWAIT_INTO(accepted_, server_->listener.accept_async());
        DUET_CATCH_ALL
          stopped_ = true;  // the listener was closed (stop), or accept failed for good
        DUET_END_TRY
        if (!stopped_) {
          server_->accepted.fetch_add(1, std::memory_order_relaxed);
          auto c = std::make_unique<Connection>();
          c->socket = std::move(accepted_);
          c->socket.set_no_delay(true);
          server_->began(c.get());
          (void)duet::start<ServeConnection>(server_, std::move(c));
        }
      }
      server_->ended(nullptr);
    DUET_END
  }
};

}  // namespace

HttpServer::HttpServer(Handler handler) : impl_(std::make_shared<Impl>()) {
  if (!handler) throw ArgumentError("duet::net::HttpServer: the handler is empty; pass a callable");
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(const IPEndPoint& endpoint, int backlog) {
  Socket s(endpoint.address_family());
  s.set_reuse_address(true);
  s.bind(endpoint);
  s.listen(backlog);
  start(std::move(s));
}

void HttpServer::start(Socket&& listening) {
  if (impl_->listener.is_open() || impl_->stopping) {
    throw InvalidOperationError("duet::net::HttpServer::start: the server was started already; "
                                "create another HttpServer");
  }
  if (!listening.is_open()) {
    throw ArgumentError("duet::net::HttpServer::start: the listening socket is closed; pass a "
                        "bound, listening Socket");
  }
  impl_->listener = std::move(listening);
  impl_->began(nullptr);
  (void)duet::start<AcceptLoop>(impl_);
}

IPEndPoint HttpServer::local_endpoint() const { return impl_->listener.local_endpoint(); }

void HttpServer::stop() {
  std::unique_lock guard(impl_->lock);
  if (impl_->stopping) return;
  impl_->stopping = true;
  const bool started = impl_->running > 0;
  impl_->listener.close();
  for (Connection* c = impl_->open; c; c = c->next) c->socket.close();
  if (started) impl_->all_ended.wait(guard, [&] { return impl_->running == 0; });
}

std::size_t HttpServer::connections_accepted() const noexcept { return impl_->accepted.load(); }
std::size_t HttpServer::requests_served() const noexcept { return impl_->served.load(); }

}  // namespace duet::net
