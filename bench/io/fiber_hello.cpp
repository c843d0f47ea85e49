// bench/io/fiber_hello.cpp — the keep-alive "hello" server (hello_protocol.h) on Boost.Fiber over
// Boost.Asio, one thread: one fiber per connection writing straight-line read/write code, the
// pattern of Boost.Fiber's examples/asio. Two pieces make fibers and Asio share the thread:
//  * AsioAlgorithm, the fiber scheduling algorithm: a FIFO of ready fibers; when none is ready it
//    runs the io_context (run_one, then poll) instead of sleeping, so completion handlers wake
//    fibers (Boost.Fiber's example round_robin does the same);
//  * await_op(start), the "yield" completion: the fiber starts an Asio operation whose handler
//    records the outcome and schedules the fiber, then suspends; the handler runs later on the
//    same thread, inside the algorithm's run_one.
// Stacks: Boost.Fiber's default fixedsize_stack (only the touched pages are resident).
#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/fiber/all.hpp>

#include "hello_protocol.h"

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class AsioAlgorithm final : public boost::fibers::algo::algorithm {
 public:
  explicit AsioAlgorithm(net::io_context& io) : io_(io), work_(io.get_executor()) {}
  void awakened(boost::fibers::context* ctx) noexcept override { ready_.push_back(ctx); }
  boost::fibers::context* pick_next() noexcept override {
    if (ready_.empty()) return nullptr;
    boost::fibers::context* ctx = ready_.front();
    ready_.pop_front();
    return ctx;
  }
  bool has_ready_fibers() const noexcept override { return !ready_.empty(); }
  void suspend_until(std::chrono::steady_clock::time_point const&) noexcept override {
    io_.run_one();  // blocks in epoll until a handler ran; the handlers schedule fibers
    io_.poll();
  }
  void notify() noexcept override {
    net::post(io_, [] {});
  }

 private:
  net::io_context& io_;
  // work_ — keeps run_one/poll from stopping the io_context in a moment with nothing pending.
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::deque<boost::fibers::context*> ready_;
};

// await_op(start) — runs start(handler) and suspends the fiber until the handler ran; returns
// (error_code, value).
template <class T, class Start>
std::pair<boost::system::error_code, T> await_op(Start start) {
  struct Result {
    boost::fibers::context* fiber;
    boost::system::error_code ec;
    T value{};
  } r{boost::fibers::context::active(), {}, {}};
  start([&r](boost::system::error_code ec, T value) {
    r.ec = ec;
    r.value = std::move(value);
    boost::fibers::context::active()->schedule(r.fiber);
  });
  r.fiber->suspend();
  return {r.ec, std::move(r.value)};
}

void session(tcp::socket socket) {
  std::array<char, HELLO_READ_BUFFER> buf;
  int state = 0;
  for (;;) {
    auto [ec, n] = await_op<std::size_t>([&](auto h) { socket.async_read_some(net::buffer(buf), std::move(h)); });
    if (ec) return;
    const int requests = hello_scan(&state, buf.data(), n);
    if (requests == 0) continue;
    std::size_t len = 0;
    const char* out = hello_responses(requests, &len);
    auto [wec, wn] = await_op<std::size_t>([&](auto h) { net::async_write(socket, net::buffer(out, len), std::move(h)); });
    (void)wn;
    if (wec) return;
  }
}

}  // namespace

int main() {
  net::io_context io(1);
  boost::fibers::use_scheduling_algorithm<AsioAlgorithm>(io);
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  acceptor.listen(4096);
  hello_announce(acceptor.local_endpoint().port());
  for (;;) {  // the main fiber accepts
    tcp::socket s(io);
    auto [ec, ignored] = await_op<int>([&](auto h) {
      acceptor.async_accept(s, [h = std::move(h)](boost::system::error_code e) mutable { h(e, 0); });
    });
    (void)ignored;
    if (ec) continue;
    s.set_option(tcp::no_delay(true));
    boost::fibers::fiber(session, std::move(s)).detach();
  }
}
