// src/net/socket_context.hpp — SocketContext: one socket's state behind duet::net::Socket (.NET's
// SocketAsyncContext), and the operations its queues hold. Private to src/net.
//
// The lock
// --------
// One mutex per socket guards the descriptor, the two queues and every queued operation. The
// non-blocking syscalls run under it, on the calling thread (the first attempt) or on the engine's
// thread (a retry after readiness); an operation is dequeued and completed under it too. So:
//  * no readiness is lost: an attempt that saw EAGAIN is queued before the engine can look at the
//    queue (the engine's handle_events takes the same lock), and epoll reports an edge after the
//    registration;
//  * close() can never race a syscall onto a descriptor number the kernel already reused;
//  * a cancellation callback and the engine agree on who completes an operation: whoever finds it
//    queued under the lock.
// Completing posts the continuation (the operation's core runs continuations asynchronously), so
// no user code ever runs under the lock.
//
// Lifetime
// --------
// Counted references: the Socket holds one, each operation in use holds one (its ValueTask may
// outlive the Socket), the engine holds one while the socket is registered with epoll.
// An operation is in use from its start until its consumer called get_result or dropped its
// ValueTask (on_abandoned); only then is the reusable one free for the next operation.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <string>

#include "duet/detail/ref_count.hpp"
#include "duet/detail/relocation.hpp"
#include "duet/net/socket.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet::net::detail {

class SocketContext;
class OpQueue;

// SocketOp — one queued operation (.NET's AsyncOperation). A RelocationTarget: a receive or send
// whose buffer lies in a state machine that has not moved into its box yet follows it there
// (duet/detail/relocation.hpp; the callbacks are SocketContext::relocate).
class SocketOp : public duet::detail::RelocationTarget {
 public:
  SocketOp() noexcept = default;
  SocketOp(const SocketOp&) = delete;
  SocketOp& operator=(const SocketOp&) = delete;
  virtual ~SocketOp() = default;

  void relocation_pause() noexcept override;
  void relocation_resume(std::ptrdiff_t delta) noexcept override;
  void relocation_orphan() noexcept override;
  // rebase(delta) — moves the operation's buffer by `delta` bytes (under the context lock).
  virtual void rebase(std::ptrdiff_t) noexcept {}

  // paused — its buffer is moving with its state machine (relocation_pause): not attempted until
  // relocation_resume. Under the context lock. First: it sits in the base's tail padding.
  bool paused = false;

  // attempt(fd) — the syscall, under the context lock: true when the operation is over (its
  // outcome stored), false on EAGAIN.
  virtual bool attempt(int fd) noexcept = 0;
  // fail(e) — stores `e` as the outcome.
  virtual void fail(std::exception_ptr e) noexcept = 0;
  // complete() — publishes the stored outcome: the continuation is posted. Under the context
  // lock, after the operation left its queue; touches nothing of the operation afterwards.
  virtual void complete() noexcept = 0;
  // diag_what() — what dump_async() says the operation waits for, before its endpoint:
  // "socket receive from", ... (diag/diagnostics.hpp).
  virtual const char* diag_what() const noexcept = 0;
  // diag_own_endpoint() — the endpoint to name is the socket's own (an accept), not its peer's.
  virtual bool diag_own_endpoint() const noexcept { return false; }

  SocketOp* next = nullptr;     // the queue's link
  OpQueue* queue = nullptr;     // the queue holding it; null when not queued
  SocketContext* ctx = nullptr;
  CancellationToken token;
  CancellationRegistration registration;
};

// OpQueue — a FIFO of operations (.NET's OperationQueue): only the head is ever attempted.
class OpQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  SocketOp* front() const noexcept { return head_; }
  void push(SocketOp& op) noexcept;
  void remove(SocketOp& op) noexcept;  // op must be queued here
  SocketOp* pop() noexcept;

 private:
  SocketOp* head_ = nullptr;
  SocketOp* tail_ = nullptr;
};

// ValueOp<T> — an operation that is its own IValueTaskSource<T> (.NET's
// AwaitableSocketAsyncEventArgs). Reusable ones are embedded in the context and reset after each
// use; the others are allocated for one operation and deleted after it.
template <class T>
class ValueOp : public SocketOp, public IValueTaskSource<T> {
 public:
  explicit ValueOp(bool reusable) noexcept : reusable_(reusable) {
    core_.set_run_continuations_asynchronously(true);
  }

  // try_claim() — takes a reusable operation for a new use; false when it is in use.
  bool try_claim() noexcept { return !in_use_.exchange(true, std::memory_order_acquire); }
  bool reusable() const noexcept { return reusable_; }
  short version() const noexcept { return core_.version(); }

  ValueTaskSourceStatus get_status(short token) override { return core_.get_status(token); }
  void on_completed(Continuation& c, short token, ValueTaskSourceOnCompletedFlags flags) override {
    core_.on_completed(c, token, flags);
  }
  T get_result(short token) override {
    core_.validate(token);
    if (!core_.is_completed()) return core_.get_result(token);  // throws: not completed yet
    struct Finish {
      ValueOp* op;
      ~Finish() { op->finish(); }
    } finish{this};
    return core_.get_result(token);
  }
  void on_abandoned(short t) noexcept override;

  void fail(std::exception_ptr e) noexcept override { error_ = std::move(e); }

  // diag_describe(out) — "socket receive from 127.0.0.1:5000" (diag/diagnostics.hpp): asked by
  // a method suspending on this operation, which its ValueTask keeps in use (ctx is set).
  void diag_describe(diagnostics::Awaited& out) const noexcept override;

  // finish() — the consumer is done: unregister, reset, and free the operation.
  void finish() noexcept;

 protected:
  // publish(args...) — completes with the stored error, else with T(args...). Completing is the
  // last touch: the consumer may finish (reset, reuse or delete) the operation the moment the
  // core is signaled, so nothing of it is read or written afterwards.
  template <class... Args>
  void publish(Args&&... args) noexcept {
    std::exception_ptr e = std::move(error_);
    error_ = nullptr;
    try {
      if (e) {
        core_.set_exception(std::move(e));
      } else {
        core_.set_result(std::forward<Args>(args)...);
      }
    } catch (...) {
      // set_result cannot fail here (the operation completes once): constructing the value
      // threw before anything was signaled.
      core_.set_exception(std::current_exception());
    }
  }

  ManualResetValueTaskSourceCore<T> core_;
  std::exception_ptr error_;

 private:
  std::atomic<bool> in_use_{false};
  bool reusable_;
};

// ReceiveOp / SendOp — recv() into / send() from a buffer. A receive that fills (NetworkStream's
// read_exactly_async) completes only when the buffer is full, and fails with EndOfStreamError
// when the stream ends first.
class ReceiveOp final : public ValueOp<std::size_t> {
 public:
  using ValueOp::ValueOp;
  bool fill = false;  // first: it sits in ValueOp's tail padding
  std::span<std::byte> buffer;
  std::size_t received = 0;
  bool attempt(int fd) noexcept override;
  void rebase(std::ptrdiff_t delta) noexcept override { buffer = {buffer.data() + delta, buffer.size()}; }
  void complete() noexcept override { publish(received); }
  const char* diag_what() const noexcept override { return "socket receive from"; }
};
class SendOp final : public ValueOp<std::size_t> {
 public:
  using ValueOp::ValueOp;
  std::span<const std::byte> buffer;
  std::size_t sent = 0;
  bool attempt(int fd) noexcept override;
  void rebase(std::ptrdiff_t delta) noexcept override { buffer = {buffer.data() + delta, buffer.size()}; }
  void complete() noexcept override { publish(sent); }
  const char* diag_what() const noexcept override { return "socket send to"; }
};
// AcceptOp — accept4() of a listening socket.
class AcceptOp final : public ValueOp<Socket> {
 public:
  AcceptOp() noexcept : ValueOp(false) {}
  int accepted = -1;
  bool attempt(int fd) noexcept override;
  void complete() noexcept override;
  const char* diag_what() const noexcept override { return "socket accept on"; }
  bool diag_own_endpoint() const noexcept override { return true; }
};
// ConnectOp — waits for a non-blocking connect() to finish.
class ConnectOp final : public ValueOp<void> {
 public:
  ConnectOp() noexcept : ValueOp(false) {}
  IPEndPoint endpoint;
  bool attempt(int fd) noexcept override;
  void complete() noexcept override { publish(); }
  const char* diag_what() const noexcept override { return "socket connect to"; }
  // diag_describe(out) — "socket connect to <endpoint>": the target, which has no peer name yet.
  void diag_describe(diagnostics::Awaited& out) const noexcept override;
};

// SocketContext — see the header comment.
class SocketContext {
 public:
  explicit SocketContext(int fd) noexcept : fd_(fd) {}
  SocketContext(const SocketContext&) = delete;
  SocketContext& operator=(const SocketContext&) = delete;

  // adopt(fd) — a Socket owning a new context for the connected descriptor `fd`.
  static Socket adopt(int fd) noexcept { return Socket(new SocketContext(fd)); }
  // create(family) — a new non-blocking TCP socket's context. Throws SocketError.
  static SocketContext* create(AddressFamily family);

  void add_ref() noexcept { refs_.add_ref(); }
  void release() noexcept {
    if (refs_.drop()) delete this;
  }

  // receive(buffer, token, fill) — fill: until the buffer is full (EndOfStreamError at the end).
  ValueTask<std::size_t> receive(std::span<std::byte> buffer, const CancellationToken& token, bool fill = false);
  ValueTask<std::size_t> send(std::span<const std::byte> buffer, const CancellationToken& token);
  ValueTask<Socket> accept(const CancellationToken& token);
  ValueTask<> connect(const IPEndPoint& endpoint, const CancellationToken& token);
  void close() noexcept;

  // fd(operation) — the descriptor for a synchronous call; ObjectDisposedError when closed.
  int fd(const char* operation) const;
  int fd_or_closed() const noexcept;

  // handle_events(events) — epoll readiness, from the engine's thread.
  void handle_events(std::uint32_t events) noexcept;
  // cancel(op) — the token of a queued operation was canceled.
  void cancel(SocketOp& op) noexcept;
  // abandon(op) — the ValueTask of `op` was dropped: dequeue it if it still waits.
  void abandon(SocketOp& op) noexcept;
  // relocate(op, step, delta) — SocketOp's RelocationTarget callbacks, under the lock: pause it;
  // rebase it by `delta` and retry its queue; orphan it (its machine ended unboxed: it ends with
  // InvalidOperationError).
  enum class RelocationStep { pause, resume, orphan };
  void relocate(SocketOp& op, RelocationStep step, std::ptrdiff_t delta) noexcept;

  // describe() — "socket 127.0.0.1:40000 -> 127.0.0.1:5000" (what is known), for messages.
  std::string describe() const;
  // diag_describe(op, out) — what a method awaiting `op` waits for: op.diag_what() and the
  // endpoint at the other end (the peer; a listening socket's own for an accept, a connect's
  // target). Takes the lock; never throws (a label that cannot be built says less).
  void diag_describe(const SocketOp& op, const void* key, diagnostics::Awaited& out) const noexcept;
  // error(errno_value, operation) — a SocketError naming the operation and the socket.
  std::exception_ptr error(int errno_value, const char* operation) const noexcept;
  [[noreturn]] void throw_disposed(const char* operation) const;

  SocketContext* release_next = nullptr;  // the engine's list of contexts to release

 private:
  ~SocketContext();
  template <class T>
  ValueTask<T> enqueue(OpQueue& q, ValueOp<T>& op, const CancellationToken& token,
                       std::unique_lock<std::mutex>& guard);
  void ensure_registered();
  // watch(op, data, size) — watches `op` when its buffer lies in an unboxed state machine of the
  // calling thread (duet/detail/relocation.hpp).
  static void watch(SocketOp& op, const void* data, std::size_t size);
  static void process(OpQueue& q, int fd) noexcept;

  mutable std::mutex lock_;
  int fd_;
  bool registered_ = false;
  bool closed_ = false;
  OpQueue read_queue_;
  OpQueue write_queue_;
  // The reusable operations (see "Lifetime"). The receive one is embedded: an idle connection
  // waits in it. The send one is allocated at the first send that has to wait and kept: most
  // sends complete at once, and an idle connection's bytes matter (issue 14: bytes per idle
  // connection).
  ReceiveOp receive_op_{true};
  SendOp* send_op_ = nullptr;
  duet::detail::RefCount refs_{1};
};

template <class T>
void ValueOp<T>::finish() noexcept {
  duet::detail::relocation_finish(*this);  // first: the relocation lock may still reach it
  registration.dispose();  // waits for a cancellation callback running elsewhere
  token = CancellationToken();
  core_.reset();
  error_ = nullptr;
  SocketContext* owner = ctx;
  ctx = nullptr;
  if (reusable_) {
    in_use_.store(false, std::memory_order_release);
  } else {
    delete this;
  }
  owner->release();  // last: the context may hold this operation
}

template <class T>
void ValueOp<T>::diag_describe(diagnostics::Awaited& out) const noexcept {
  const void* const key = static_cast<const IValueTaskSource<T>*>(this);
  if (ctx) {
    ctx->diag_describe(*this, key, out);
  } else {
    out.set(diagnostics::AwaitKind::io, key, diag_what());
  }
}

template <class T>
void ValueOp<T>::on_abandoned(short t) noexcept {
  if (t != core_.version() || ctx == nullptr) return;
  ctx->abandon(*this);
  finish();
}

}  // namespace duet::net::detail
