// duet/asio/use_task.hpp — duet::use_task, the completion token that turns any Boost.Asio
// asynchronous operation into a duet::Task<T> that every style awaits.
//
//   duet::Task<std::size_t> n = sock.async_read_some(boost::asio::buffer(buf), duet::use_task);
//   duet::Task<> t = timer.async_wait(duet::use_task(token, timer));   // cancelable
//   std::size_t got = duet::await(n);                                   // fiber style; the
//                                                                       // machines await it as any Task
//
// Boost 1.74 (Asio 1.18) has one completion signature per operation and no per-operation
// cancellation slot; this header specialises async_result<UseTask, Signature> with the static
// initiate() that async_initiate calls, so it covers every operation written on async_initiate:
// sockets, acceptors, timers, resolvers, signal sets, the composed operations (async_read,
// async_write, async_connect) and Boost.Beast's http::async_read / async_write.
//
// The result. A signature `void(error_code, A)` gives Task<A>; `void(error_code)` Task<>;
// `void(error_code, A, B...)` Task<std::tuple<A, B...>>; `void()` Task<>. A non-zero error_code
// faults the task with duet::AsioError, a std::system_error carrying the code (code() as a
// std::error_code; asio_code() as the original boost::system::error_code, to compare against
// boost::asio::error::*), as .NET's sockets throw SocketException.
//
// Where the continuation runs. Asio calls the handler on a thread running the io_context; that
// thread never runs user code here. The handler records the outcome and posts one work item to
// the Scheduler that was TaskScheduler::current() when the operation started (the default pool
// unless a start_new work item is running), or to the one named with use_task.on(scheduler). That
// work item completes the task, whose awaiters then resume as after any await: posted to the
// SynchronizationContext they captured, else inline on that scheduler's thread. So an io_context
// thread plays the role of .NET's epoll thread (SocketAsyncEngine), which never runs user code
// either and hands completions to the thread pool. One allocation per operation (the state below,
// which holds the TaskCompletionSource's task); the post allocates nothing.
//
// Cancellation, honestly. `duet::use_task(token, io_object)` names the token and the Asio object
// whose cancel() stops the operation (a socket, acceptor, timer, resolver, signal_set,
// beast::tcp_stream: anything with cancel() and get_executor()). When the token is canceled while
// the operation is pending, duet posts io_object.cancel() to the object's executor (Asio objects
// are not thread-safe, so the cancel runs where the object's handlers run); Asio then completes the
// operation with operation_aborted, and the task ends canceled (an OperationCanceledError carrying
// the token), as .NET's socket operations end on a canceled token. Asio 1.18 can only cancel every
// pending operation of the object, not one: a canceled read also aborts a concurrent write on the
// same socket, which then faults with operation_aborted (AsioError). Cancel per object, or use one
// token per object. An operation that completed before the cancel reached the io_context keeps its
// result (the race .NET has too). A token already canceled when the operation starts ends the task
// canceled at once without starting the operation. A token without an object does not compile:
// there is nothing duet could cancel.
//
// Lifetime rules. Keep the io_context running, and the Asio object alive, until the task completed
// (as Asio requires of its own handlers). When the io_context is destroyed with the operation
// pending (its handler destroyed without being called) the task faults with an AsioError
// (operation_aborted) whose message says so: a started task always completes.
//
// Running an io_context next to duet's pool: duet/asio/io_context_thread.hpp.
// Thread-safety: use_task and UseTask values are immutable; an operation may be started from any
// thread under Asio's own rule (one object, one operation of a kind at a time unless its docs say
// otherwise).
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include "duet/core/continuation.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/task.hpp"
#include "duet/core/task_completion_source.hpp"
#include "duet/time/cancellation.hpp"

namespace duet {

// AsioError — a Boost.Asio operation completed with an error (the std::system_error of
// use_task). code() is the std::error_code (value and category name preserved); asio_code() the
// boost::system::error_code Asio reported.
class AsioError : public std::system_error {
 public:
  explicit AsioError(const boost::system::error_code& ec)
      : std::system_error(std::error_code(ec)), asio_code_(ec) {}
  AsioError(const boost::system::error_code& ec, const std::string& what)
      : std::system_error(std::error_code(ec), what), asio_code_(ec) {}
  const boost::system::error_code& asio_code() const noexcept { return asio_code_; }

 private:
  boost::system::error_code asio_code_;
};

namespace detail {

// AsioOpBase — the shared state of one operation started with use_task: the Continuation posted
// to the scheduler, the references, and the done flag that orders a cancel against completion.
class AsioOpBase : public Continuation {
 public:
  AsioOpBase(const AsioOpBase&) = delete;
  AsioOpBase& operator=(const AsioOpBase&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_(this);
  }

  // mutex / done — done is set (under mutex) when the handler ran or was destroyed; a cancel that
  // finds it set touches nothing (the object may be gone by then).
  std::mutex mutex;
  bool done = false;  // Guarded by mutex.
  CancellationToken token;
  CancellationRegistration registration;
  Scheduler* scheduler = nullptr;
  boost::system::error_code ec;
  bool abandoned = false;

 protected:
  AsioOpBase(void (*run)(Continuation*) noexcept, void (*destroy)(AsioOpBase*) noexcept) noexcept
      : destroy_(destroy) {
    invoke = run;
  }
  ~AsioOpBase() = default;

  // mark_done() — called once by the handler (or its destructor) on the io_context's thread.
  void mark_done() noexcept {
    std::lock_guard<std::mutex> g(mutex);
    done = true;
  }

 private:
  std::atomic<int> refs_{1};
  void (*destroy_)(AsioOpBase*) noexcept;
};

// OpRef — one owned reference to an AsioOpBase (move-only).
class OpRef {
 public:
  explicit OpRef(AsioOpBase* op) noexcept : op_(op) {}
  OpRef(OpRef&& o) noexcept : op_(std::exchange(o.op_, nullptr)) {}
  OpRef& operator=(OpRef&&) = delete;
  ~OpRef() {
    if (op_) op_->release();
  }
  AsioOpBase* operator->() const noexcept { return op_; }

 private:
  AsioOpBase* op_;
};

// cancel_io_object(o) — o.cancel(), ignoring the errors a cancel on a closed object reports (the
// operation it was meant for completes anyway).
template <class IoObject>
void cancel_io_object(IoObject& o) noexcept {
  try {
    o.cancel();
  } catch (...) {
  }
}

// Canceler — a type-erased "post io_object.cancel() to its executor for this operation".
struct Canceler {
  void (*post_cancel)(void* object, AsioOpBase& op) = nullptr;
  void* object = nullptr;

  template <class IoObject>
  static void post_cancel_of(void* object, AsioOpBase& op) {
    auto& o = *static_cast<IoObject*>(object);
    op.add_ref();
    boost::asio::post(o.get_executor(), [ref = OpRef(&op), &o] {
      std::lock_guard<std::mutex> g(ref->mutex);
      if (!ref->done) cancel_io_object(o);
    });
  }
};

// task_result_t<Args...> — the Task's T for a completion signature's arguments after the
// error_code: void, the one argument, or a tuple of them.
template <class... Args>
struct TaskResultOf {
  using type = std::tuple<std::decay_t<Args>...>;
};
template <>
struct TaskResultOf<> {
  using type = void;
};
template <class A>
struct TaskResultOf<A> {
  using type = std::decay_t<A>;
};

// AsioOp<T> — AsioOpBase plus the TaskCompletionSource and the value the handler received.
template <class T>
class AsioOp final : public AsioOpBase {
 public:
  AsioOp() noexcept : AsioOpBase(&AsioOp::run, &AsioOp::destroy) {}

  TaskCompletionSource<T> tcs;
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};

  // finish(ec, args...) — the handler: record the outcome, then post the completion.
  template <class... Args>
  void finish(const boost::system::error_code& e, Args&&... args) {
    mark_done();
    ec = e;
    if constexpr (!std::is_void_v<T>) {
      if (!e) value.emplace(std::forward<Args>(args)...);  // the one value, or the tuple
    }
    scheduler->post(*this);  // passes the handler's reference to run()
  }
  // abandon() — the handler was destroyed without being called.
  void abandon() noexcept {
    mark_done();
    abandoned = true;
    scheduler->post(*this);
  }

 private:
  ~AsioOp() = default;

  static void destroy(AsioOpBase* b) noexcept {
    auto* self = static_cast<AsioOp*>(b);
    self->registration.dispose();  // waits for a running callback, which reads `done`
    delete self;
  }

  // run — on the scheduler: complete the task (its continuations run or are posted from here).
  static void run(Continuation* c) noexcept {
    auto* self = static_cast<AsioOp*>(c);
    OpRef ref(self);
    try {
      if (self->abandoned) {
        self->tcs.try_set_exception(AsioError(
            boost::asio::error::operation_aborted,
            "duet::use_task: the operation's handler was destroyed without being called (its "
            "io_context was destroyed or stopped for good while the operation was pending); keep "
            "the io_context running until every awaited operation has completed"));
      } else if (self->ec) {
        if (self->ec == boost::asio::error::operation_aborted &&
            self->token.is_cancellation_requested()) {
          self->tcs.try_set_canceled(self->token);
        } else {
          self->tcs.try_set_exception(AsioError(self->ec));
        }
      } else if constexpr (std::is_void_v<T>) {
        self->tcs.try_set_result();
      } else {
        self->tcs.try_set_result(std::move(*self->value));
      }
    } catch (...) {  // out of memory building the exception: fault with what was thrown
      self->tcs.try_set_exception(std::current_exception());
    }
  }
};

// UseTaskHandler<T> — the completion handler async_initiate receives. Move-only; owns one
// reference to the operation until it is called or destroyed.
template <class T>
class UseTaskHandler {
 public:
  explicit UseTaskHandler(AsioOp<T>* op) noexcept : op_(op) {}
  UseTaskHandler(UseTaskHandler&& o) noexcept : op_(std::exchange(o.op_, nullptr)) {}
  UseTaskHandler& operator=(UseTaskHandler&&) = delete;
  ~UseTaskHandler() {
    if (op_) op_->abandon();
  }

  template <class... Args>
  void operator()(const boost::system::error_code& ec, Args&&... args) {
    std::exchange(op_, nullptr)->finish(ec, std::forward<Args>(args)...);
  }
  void operator()() { std::exchange(op_, nullptr)->finish(boost::system::error_code()); }

 private:
  AsioOp<T>* op_;
};

}  // namespace detail

// UseTask — the completion token (see the header comment). `use_task` is the plain one.
class UseTask {
 public:
  constexpr UseTask() noexcept = default;

  // use_task(token, io_object) — the same token, cancelable: when `token` is canceled while the
  // operation is pending, io_object.cancel() runs on io_object's executor and the task ends
  // canceled. io_object must outlive the operation.
  template <class IoObject>
    requires requires(IoObject& o) {
      o.cancel();
      o.get_executor();
    }
  UseTask operator()(CancellationToken token, IoObject& io_object) const {
    UseTask t = *this;
    t.token_ = std::move(token);
    t.canceler_.post_cancel = &detail::Canceler::post_cancel_of<IoObject>;
    t.canceler_.object = &io_object;
    return t;
  }

  // on(scheduler) — complete the task from `scheduler` instead of TaskScheduler::current()
  // (tests pass a manual scheduler; an app may pass a dedicated pool). It must outlive the
  // operation.
  UseTask on(Scheduler& scheduler) const {
    UseTask t = *this;
    t.scheduler_ = &scheduler;
    return t;
  }

  // start(initiation, args...) — what async_result<UseTask, ...>::initiate calls.
  template <class T, class Initiation, class... Args>
  Task<T> start(Initiation&& initiation, Args&&... args) const {
    auto* op = new detail::AsioOp<T>();
    detail::OpRef starting(op);  // held until the registration below is in place
    Task<T> task = op->tcs.task();
    op->scheduler = scheduler_ ? scheduler_ : &TaskScheduler::current();
    op->token = token_;
    if (token_.is_cancellation_requested()) {  // .NET: a canceled token never starts the operation
      op->tcs.try_set_canceled(token_);
      return task;
    }
    op->add_ref();  // the handler's reference
    std::forward<Initiation>(initiation)(detail::UseTaskHandler<T>(op), std::forward<Args>(args)...);
    if (canceler_.post_cancel && token_.can_be_canceled()) {
      // After the initiation, so a cancel always finds the operation started. The callback runs
      // while the registration exists, and the registration is disposed before the state dies.
      op->registration = token_.unsafe_register([op, c = canceler_] {
        {
          std::lock_guard<std::mutex> g(op->mutex);
          if (op->done) return;
        }
        c.post_cancel(c.object, *op);
      });
    }
    return task;
  }

 private:
  CancellationToken token_;
  detail::Canceler canceler_;
  Scheduler* scheduler_ = nullptr;
};

// use_task — the completion token: `async_xxx(args..., duet::use_task)` returns a Task<T>.
inline const UseTask use_task{};

}  // namespace duet

namespace boost::asio {

// async_result<duet::UseTask, R(error_code, Args...)> — Asio 1.18's customisation point.
template <class R, class... Args>
class async_result<duet::UseTask, R(boost::system::error_code, Args...)> {
 public:
  using result_type = typename duet::detail::TaskResultOf<Args...>::type;
  using return_type = duet::Task<result_type>;
  using completion_handler_type = duet::detail::UseTaskHandler<result_type>;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& initiation, duet::UseTask token, InitArgs&&... args) {
    return token.template start<result_type>(std::forward<Initiation>(initiation),
                                             std::forward<InitArgs>(args)...);
  }
};
template <class R, class... Args>
class async_result<duet::UseTask, R(const boost::system::error_code&, Args...)>
    : public async_result<duet::UseTask, R(boost::system::error_code, Args...)> {};
template <class R>
class async_result<duet::UseTask, R()> : public async_result<duet::UseTask, R(boost::system::error_code)> {};

}  // namespace boost::asio
