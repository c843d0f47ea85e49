// duet/asio/io_context_thread.hpp — IoContextThread: a boost::asio::io_context run by one
// dedicated thread next to duet's pool, the usual way to use duet::use_task.
//
//   duet::IoContextThread io;                          // starts the thread
//   boost::asio::ip::tcp::socket sock(io.context());
//   std::size_t n = duet::await(sock.async_read_some(buf, duet::use_task));   // any style
//
// The thread only runs Asio's reactor and the handlers use_task installs, which post each
// completion to a duet Scheduler (duet/asio/use_task.hpp): user code never runs on it, as no user
// code runs on .NET's epoll thread. A work guard keeps run() from returning while no operation is
// pending. The destructor stops the io_context and joins the thread; operations still pending then
// are abandoned by Asio when the io_context itself is destroyed (their tasks fault, use_task.hpp).
// Destroy the I/O objects (sockets, timers) before the IoContextThread that runs them.
//
// Handing work the other way (from duet to the io thread) is boost::asio::post(io.context(), fn),
// or simply starting an operation: Asio's reactor accepts operations started from any thread.
// Thread-safety: context() from any thread; construct and destroy on one thread, never on the io
// thread itself.
#pragma once

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace duet {

// IoContextThread — see the header comment.
class IoContextThread {
 public:
  IoContextThread() : io_(1), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoContextThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  IoContextThread(const IoContextThread&) = delete;
  IoContextThread& operator=(const IoContextThread&) = delete;

  // context() — the io_context the thread runs.
  boost::asio::io_context& context() noexcept { return io_; }
  // thread_id() — the io thread's id (tests check that no continuation runs there).
  std::thread::id thread_id() const noexcept { return thread_.get_id(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace duet
