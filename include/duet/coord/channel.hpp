// duet/coord/channel.hpp — Channel<T>, ChannelReader<T>, ChannelWriter<T>
// (.NET's System.Threading.Channels): an unbounded or bounded FIFO between async methods.
//
// Shape. One reference-counted detail::ChannelCore<T> holds, under one spin lock:
//   items            the buffered items (a ring that grows by doubling and never shrinks, so the
//                    steady state allocates nothing);
//   blocked readers  read_async operations waiting for an item (FIFO: the oldest gets the next);
//   blocked writers  write_async operations of a full bounded channel in `wait` mode, each holding
//                    its item (FIFO);
//   waiting readers / waiting writers
//                    wait_to_read_async / wait_to_write_async operations, all woken at once;
//   done writing     set by complete(error); the completion task ends once it is set and the
//                    items are drained.
// The invariants .NET's BoundedChannel keeps hold here too: blocked readers exist only while
// items is empty; blocked writers only while items is full. Whoever unlinks an operation under
// the lock completes it (after unlocking), so a write handed to a blocked reader can never also
// be canceled: an item is delivered exactly once or stays in the channel.
//
// Operations. A pending read, write or wait is a pooled detail::ChannelOp: an IValueTaskSource
// with a ManualResetValueTaskSourceCore, an embedded cancellation node and the intrusive links.
// The operation is handed out as a ValueTask over (op, version); it goes back to the channel's
// free list once both its producer (who completed it) and its consumer (get_result, or the
// ValueTask abandoned) are done with it. So read_async allocates nothing when an item is ready
// (ValueTask holding the value) and nothing in steady state when it must wait (a recycled op) —
// .NET's pooled ValueTask sources. As in .NET, continuations are posted, never run inside the
// writer's call, unless options.allow_synchronous_continuations.
//
// Single reader. An unbounded channel created with single_reader = true splits the buffer in two
// rings: the writers append to `items` under the lock as usual, and the reader pops from its own
// `outbox` without taking the lock. Only when the outbox runs dry does the reader lock once and
// swap the two rings, taking every item buffered meanwhile in one step (.NET's
// SingleConsumerUnboundedChannel likewise gives the one reader a path with no lock per item). So
// the reader takes the lock once per batch instead of once per item, and writers contend with it
// only at those swaps. The blocked-reader hand-off, waiters, completion and cancellation are the
// locked algorithm's: a reader blocks only when both rings are empty. `outbox_left` publishes
// the outbox's size for count() and for the completion's drained check.
//
// Thread-safety: every member of Channel, ChannelReader and ChannelWriter may be called from any
// thread, except that single_reader promises one reading thread at a time: try_read, read_async,
// wait_to_read_async and read_all_async's enumeration must not run concurrently (a second
// pending read_async or wait_to_read_async throws; a concurrent try_read is a data race, as in
// .NET where it is undefined). single_writer is .NET's hint and changes nothing here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "duet/compose/task_factory.hpp"
#include "duet/coord/async_stream.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/core/task_completion_source.hpp"
#include "duet/detail/spin_lock.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/time/delay.hpp"
#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"

namespace duet {

// ChannelClosedError — an operation on a channel that was completed (.NET's
// ChannelClosedException, an InvalidOperationException). inner() is the error complete() was
// given, or null.
class ChannelClosedError : public InvalidOperationError {
 public:
  ChannelClosedError() : InvalidOperationError("The channel has been closed.") {}
  explicit ChannelClosedError(std::exception_ptr inner)
      : InvalidOperationError(inner ? "The channel has been closed: it was completed with an error (see inner())"
                                    : "The channel has been closed."),
        inner_(std::move(inner)) {}
  const std::exception_ptr& inner() const noexcept { return inner_; }

 private:
  std::exception_ptr inner_;
};

// BoundedChannelFullMode — what a write to a full bounded channel does (.NET's enum).
enum class BoundedChannelFullMode {
  wait,         // write_async waits for room; try_write returns false
  drop_newest,  // remove the newest item already in the channel, then write
  drop_oldest,  // remove the oldest item already in the channel, then write
  drop_write,   // drop the item being written (the write still "succeeds")
};

// ChannelOptions — .NET's ChannelOptions / UnboundedChannelOptions.
struct ChannelOptions {
  // single_reader / single_writer — the caller promises at most one concurrent read / write
  // operation. single_reader: an unbounded channel uses the cheaper single-reader algorithm
  // (the reader pops without the lock; see "Single reader" above), and a second read_async or
  // wait_to_read_async while one is pending throws InvalidOperationError (a misuse .NET leaves
  // undefined). single_writer is accepted as .NET's hint and changes nothing.
  bool single_reader = false;
  bool single_writer = false;
  // allow_synchronous_continuations — a pending operation's continuation may run inline inside
  // the call that completed it (a writer's write runs the reader's method). Default: posted.
  bool allow_synchronous_continuations = false;
};

// BoundedChannelOptions — .NET's BoundedChannelOptions.
struct BoundedChannelOptions : ChannelOptions {
  BoundedChannelOptions(int capacity_, BoundedChannelFullMode mode = BoundedChannelFullMode::wait) noexcept
      : capacity(capacity_), full_mode(mode) {}
  int capacity;
  BoundedChannelFullMode full_mode;
};

namespace detail {

// Ring<T> — a FIFO of T in a power-of-two circular buffer; grows by doubling, never shrinks.
template <class T>
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    while (size_ != 0) pop_front();
    ::operator delete(slots_);
  }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push_back(T&& v) {
    if (size_ == cap_) grow();
    ::new (static_cast<void*>(slot(head_ + size_))) T(std::move(v));
    ++size_;
  }
  T pop_front() {
    T* p = slot(head_);
    T v(std::move(*p));
    p->~T();
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }
  void drop_back() noexcept {
    slot(head_ + size_ - 1)->~T();
    --size_;
  }
  void swap(Ring& o) noexcept {
    std::swap(slots_, o.slots_);
    std::swap(cap_, o.cap_);
    std::swap(head_, o.head_);
    std::swap(size_, o.size_);
  }

 private:
  T* slot(std::size_t i) noexcept { return slots_ + (i & (cap_ - 1)); }
  void grow() {
    const std::size_t cap = cap_ ? cap_ * 2 : 8;
    T* fresh = static_cast<T*>(::operator new(cap * sizeof(T)));
    for (std::size_t i = 0; i < size_; ++i) {
      T* p = slot(head_ + i);
      ::new (static_cast<void*>(fresh + i)) T(std::move(*p));
      p->~T();
    }
    ::operator delete(slots_);
    slots_ = fresh;
    cap_ = cap;
    head_ = 0;
  }
  T* slots_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

template <class T>
class ChannelCore;

// ChannelOp<T, R> — one pending read (R = T), write (R = void, item set) or wait (R = bool).
// See "Operations" in the header comment. Links and `queued` are guarded by the channel lock.
template <class T, class R>
class ChannelOp final : public SharedValueTaskSource<R, ChannelOp<T, R>>, public CancellationCallbackNode {
 public:
  explicit ChannelOp(ChannelCore<T>* ch) noexcept : channel_(ch) {
    CancellationCallbackNode::invoke = &ChannelOp::on_canceled;
  }

  // diag_describe(out) — a channel read, write or wait (diag/diagnostics.hpp).
  void diag_describe(diagnostics::Awaited& out) const noexcept override {
    if constexpr (std::is_void_v<R>) {
      out.set(diagnostics::AwaitKind::channel_write, this, "channel write_async (channel full)");
    } else if constexpr (std::is_same_v<R, bool> && !std::is_same_v<T, bool>) {
      if (waits_for_write) {
        out.set(diagnostics::AwaitKind::channel_write, this, "channel wait_to_write_async");
      } else {
        out.set(diagnostics::AwaitKind::channel_read, this, "channel wait_to_read_async");
      }
    } else {
      out.set(diagnostics::AwaitKind::channel_read, this, "channel read_async");
    }
  }

  // ---- producer side (whoever unlinked the op calls exactly one, outside the lock) -----------
  template <class... Args>
  void complete_value(Args&&... args) noexcept {
    unregister();
    this->core_.set_result(std::forward<Args>(args)...);
    drop_share();
  }
  void complete_error(std::exception_ptr e) noexcept {
    unregister();
    this->core_.set_exception(std::move(e));
    drop_share();
  }

  // ValueTask over the current operation.
  ValueTask<R> value_task() noexcept { return ValueTask<R>(*this, this->version()); }
  ManualResetValueTaskSourceCore<R>& core() noexcept { return this->core_; }

  ChannelOp* q_prev = nullptr;
  ChannelOp* q_next = nullptr;  // also the free-list link
  bool queued = false;
  bool registered = false;
  bool waits_for_write = false;  // a WaitOp: in waiting_writers (else waiting_readers)
  std::atomic<int> shares{0};
  CancellationToken cancel_token;
  std::optional<T> item;  // a blocked write's item

 private:
  void unregister() noexcept {
    if (registered) cancel_token.state()->unregister_node(*this);
  }
  static void on_canceled(CancellationCallbackNode* n) {
    auto& self = static_cast<ChannelOp&>(*n);
    if (self.channel_->take_out(self)) {
      self.registered = false;  // running inside our own callback: nothing to unregister
      self.complete_error(canceled_error(self.cancel_token));
    }
  }
  friend class PooledValueTaskSource<R, ChannelOp>;
  friend class SharedValueTaskSource<R, ChannelOp>;
  // consumed() — the consumer's share is done (get_result ran, or the ValueTask was abandoned).
  void consumed() noexcept { drop_share(); }
  void drop_share() noexcept {
    if (shares.fetch_sub(1, std::memory_order_acq_rel) == 1) channel_->recycle(*this);
  }

  ChannelCore<T>* channel_;
};

// OpList<Op> — an intrusive FIFO of ops.
template <class Op>
struct OpList {
  Op* head = nullptr;
  Op* tail = nullptr;
  std::size_t size = 0;
  bool empty() const noexcept { return head == nullptr; }
  void push_back(Op& op) noexcept {
    op.q_prev = tail;
    op.q_next = nullptr;
    if (tail) {
      tail->q_next = &op;
    } else {
      head = &op;
    }
    tail = &op;
    op.queued = true;
    ++size;
  }
  void remove(Op& op) noexcept {
    if (op.q_prev) {
      op.q_prev->q_next = op.q_next;
    } else {
      head = op.q_next;
    }
    if (op.q_next) {
      op.q_next->q_prev = op.q_prev;
    } else {
      tail = op.q_prev;
    }
    op.q_prev = op.q_next = nullptr;
    op.queued = false;
    --size;
  }
  Op* pop_front() noexcept {
    Op* op = head;
    if (op) remove(*op);
    return op;
  }
  // take_all() — empties the list; returns the ops linked through q_next (queued cleared).
  Op* take_all() noexcept {
    Op* all = head;
    for (Op* p = head; p; p = p->q_next) p->queued = false;
    head = tail = nullptr;
    size = 0;
    return all;
  }
};

// ChannelCore<T> — the shared state (see the header comment).
template <class T>
class ChannelCore {
 public:
  using ReadOp = ChannelOp<T, T>;
  using WriteOp = ChannelOp<T, void>;
  using WaitOp = ChannelOp<T, bool>;

  ChannelCore(std::size_t capacity, BoundedChannelFullMode mode, const ChannelOptions& options)
      : capacity_(capacity),
        mode_(mode),
        options_(options),
        split_(options.single_reader && capacity == std::numeric_limits<std::size_t>::max()),
        completion_(TaskCreationOptions::run_continuations_asynchronously) {}
  ChannelCore(const ChannelCore&) = delete;
  ChannelCore& operator=(const ChannelCore&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release_ref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // ---- writer ---------------------------------------------------------------------------------
  bool try_write(T&& item) {
    lock_.lock();
    if (done_) {
      lock_.unlock();
      return false;
    }
    return write_locked(std::move(item));
  }

  ValueTask<void> write_async(T&& item, const CancellationToken& token) {
    if (token.is_cancellation_requested()) return ValueTask<void>(canceled_task<void>(token));
    lock_.lock();
    if (done_) {
      std::exception_ptr e = closed_error_locked();
      lock_.unlock();
      return ValueTask<void>(from_exception<void>(std::move(e)));
    }
    if (full_locked() && mode_ == BoundedChannelFullMode::wait) {
      WriteOp* op = take_op(write_pool_);
      if (!register_locked(*op, token)) {
        give_back_locked(*op, write_pool_);
        lock_.unlock();
        return ValueTask<void>(canceled_task<void>(token));
      }
      op->item.emplace(std::move(item));
      blocked_writers_.push_back(*op);
      lock_.unlock();
      return op->value_task();
    }
    write_locked(std::move(item));
    return ValueTask<void>();
  }

  ValueTask<bool> wait_to_write_async(const CancellationToken& token) {
    if (token.is_cancellation_requested()) return ValueTask<bool>(canceled_task<bool>(token));
    lock_.lock();
    if (done_) {
      std::exception_ptr e = error_;
      lock_.unlock();
      return e ? ValueTask<bool>(from_exception<bool>(std::move(e))) : ValueTask<bool>(false);
    }
    if (!full_locked() || mode_ != BoundedChannelFullMode::wait) {
      lock_.unlock();
      return ValueTask<bool>(true);
    }
    return park_waiter_locked(waiting_writers_, token);
  }

  bool try_complete(std::exception_ptr error) {
    lock_.lock();
    if (done_) {
      lock_.unlock();
      return false;
    }
    done_ = true;
    error_ = error;
    const bool drained = items_.empty() && outbox_left_.load(std::memory_order_acquire) == 0;
    ReadOp* readers = blocked_readers_.take_all();
    WriteOp* writers = blocked_writers_.take_all();
    WaitOp* wait_r = waiting_readers_.take_all();
    WaitOp* wait_w = waiting_writers_.take_all();
    lock_.unlock();
    if (drained) complete_completion();
    for_each_taken(readers, [&](ReadOp& op) { op.complete_error(closed_error(error)); });
    for_each_taken(writers, [&](WriteOp& op) {
      op.item.reset();
      op.complete_error(closed_error(error));
    });
    auto fail_or_false = [&](WaitOp& op) {
      if (error) {
        op.complete_error(error);
      } else {
        op.complete_value(false);
      }
    };
    for_each_taken(wait_r, fail_or_false);
    for_each_taken(wait_w, fail_or_false);
    return true;
  }

  // ---- reader ---------------------------------------------------------------------------------
  std::optional<T> try_read() {
    if (split_) {
      if (!outbox_.empty() || refill()) return pop_outbox();
      return std::nullopt;
    }
    lock_.lock();
    if (items_.empty()) {
      lock_.unlock();
      return std::nullopt;
    }
    return read_locked();
  }

  ValueTask<T> read_async(const CancellationToken& token) {
    if (token.is_cancellation_requested()) return ValueTask<T>(canceled_task<T>(token));
    if (split_ && !outbox_.empty()) return ValueTask<T>(*pop_outbox());
    lock_.lock();
    if (split_ && refill_locked()) {
      lock_.unlock();
      return ValueTask<T>(*pop_outbox());
    }
    if (!items_.empty()) return ValueTask<T>(*read_locked());
    if (done_) {
      std::exception_ptr e = closed_error_locked();
      lock_.unlock();
      return ValueTask<T>(from_exception<T>(std::move(e)));
    }
    check_single_reader_locked("read_async");
    ReadOp* op = take_op(read_pool_);
    if (!register_locked(*op, token)) {
      give_back_locked(*op, read_pool_);
      lock_.unlock();
      return ValueTask<T>(canceled_task<T>(token));
    }
    blocked_readers_.push_back(*op);
    lock_.unlock();
    return op->value_task();
  }

  ValueTask<bool> wait_to_read_async(const CancellationToken& token) {
    if (token.is_cancellation_requested()) return ValueTask<bool>(canceled_task<bool>(token));
    if (split_ && !outbox_.empty()) return ValueTask<bool>(true);
    lock_.lock();
    if (!items_.empty()) {
      lock_.unlock();
      return ValueTask<bool>(true);
    }
    if (done_) {
      std::exception_ptr e = error_;
      lock_.unlock();
      return e ? ValueTask<bool>(from_exception<bool>(std::move(e))) : ValueTask<bool>(false);
    }
    check_single_reader_locked("wait_to_read_async");
    return park_waiter_locked(waiting_readers_, token);
  }

  Task<> completion() const noexcept { return completion_.task(); }

  std::size_t count() const noexcept {
    lock_.lock();
    const std::size_t n = items_.size() + outbox_left_.load(std::memory_order_acquire);
    lock_.unlock();
    return n;
  }
  std::size_t capacity() const noexcept { return capacity_; }

  // ---- for ChannelOp --------------------------------------------------------------------------
  template <class R>
  bool take_out(ChannelOp<T, R>& op) noexcept {
    lock_.lock();
    const bool was = op.queued;
    if (was) list_of(op).remove(op);
    lock_.unlock();
    return was;
  }
  template <class R>
  void recycle(ChannelOp<T, R>& op) noexcept {
    op.core().reset();
    op.cancel_token = CancellationToken();
    op.registered = false;
    op.item.reset();
    lock_.lock();
    give_back_locked(op, pool_of(op));
    lock_.unlock();
    release_ref();  // the op's reference on the channel
  }

 private:
  ~ChannelCore() {
    free_pool(read_pool_);
    free_pool(write_pool_);
    free_pool(wait_pool_);
  }

  template <class Op>
  static void free_pool(Op* p) noexcept {
    while (p) delete std::exchange(p, p->q_next);
  }
  template <class Op, class F>
  static void for_each_taken(Op* p, F&& f) {
    while (p) {
      Op* next = p->q_next;
      f(*p);
      p = next;
    }
  }

  bool full_locked() const noexcept { return items_.size() >= capacity_; }

  // ---- the single-reader algorithm (split_; see "Single reader" in the header comment) --------
  // refill_locked() — lock held, outbox empty: takes every buffered item over into the outbox
  // (a swap of the two rings, no copy); false when there was none.
  bool refill_locked() noexcept {
    if (items_.empty()) return false;
    items_.swap(outbox_);
    outbox_left_.store(outbox_.size(), std::memory_order_release);
    return true;
  }
  bool refill() noexcept {
    lock_.lock();
    const bool got = refill_locked();
    lock_.unlock();
    return got;
  }
  // pop_outbox() — outbox not empty: its oldest item, without the lock. When that empties the
  // outbox of a completed channel with nothing more buffered, completes `completion`.
  std::optional<T> pop_outbox() {
    std::optional<T> item(outbox_.pop_front());
    const std::size_t left = outbox_.size();
    outbox_left_.store(left, std::memory_order_release);
    if (left == 0) {
      lock_.lock();
      const bool drained = done_ && items_.empty();
      lock_.unlock();
      if (drained) complete_completion();
    }
    return item;
  }

  // write_locked(item) — lock held, not done: writes per the full mode; unlocks. True.
  bool write_locked(T&& item) {
    if (full_locked()) {
      switch (mode_) {
        case BoundedChannelFullMode::wait:
          lock_.unlock();
          return false;
        case BoundedChannelFullMode::drop_write:
          lock_.unlock();
          return true;
        case BoundedChannelFullMode::drop_newest:
          items_.drop_back();
          break;
        case BoundedChannelFullMode::drop_oldest:
          (void)items_.pop_front();
          break;
      }
      items_.push_back(std::move(item));
      lock_.unlock();
      return true;
    }
    if (items_.empty()) {
      if (ReadOp* r = blocked_readers_.pop_front()) {
        lock_.unlock();
        r->complete_value(std::move(item));
        return true;
      }
      items_.push_back(std::move(item));
      WaitOp* waiters = waiting_readers_.take_all();
      lock_.unlock();
      for_each_taken(waiters, [](WaitOp& op) { op.complete_value(true); });
      return true;
    }
    items_.push_back(std::move(item));
    lock_.unlock();
    return true;
  }

  // read_locked() — lock held, items non-empty: takes the oldest item, lets a blocked writer in
  // (or wakes the waiting writers), completes `completion` when done and drained; unlocks.
  std::optional<T> read_locked() {
    std::optional<T> item(items_.pop_front());
    if (WriteOp* w = blocked_writers_.pop_front()) {
      items_.push_back(std::move(*w->item));
      lock_.unlock();
      w->item.reset();
      w->complete_value();
      return item;
    }
    WaitOp* waiters = waiting_writers_.empty() ? nullptr : waiting_writers_.take_all();
    const bool drained = done_ && items_.empty();
    lock_.unlock();
    for_each_taken(waiters, [](WaitOp& op) { op.complete_value(true); });
    if (drained) complete_completion();
    return item;
  }

  ValueTask<bool> park_waiter_locked(OpList<WaitOp>& list, const CancellationToken& token) {
    WaitOp* op = take_op(wait_pool_);
    if (!register_locked(*op, token)) {
      give_back_locked(*op, wait_pool_);
      lock_.unlock();
      return ValueTask<bool>(canceled_task<bool>(token));
    }
    op->waits_for_write = (&list == &waiting_writers_);
    list.push_back(*op);
    lock_.unlock();
    return op->value_task();
  }

  void check_single_reader_locked(const char* what) {
    if (options_.single_reader && (!blocked_readers_.empty() || !waiting_readers_.empty())) {
      lock_.unlock();
      throw InvalidOperationError(std::string("ChannelReader::") + what +
                                  ": this channel was created with single_reader = true and another "
                                  "read_async / wait_to_read_async is still pending; await it first, or "
                                  "create the channel without single_reader");
    }
  }

  // take_op(pool) — lock held: a recycled op, or a new one (allocation outside the steady state).
  template <class Op>
  Op* take_op(Op*& pool) {
    Op* op = pool;
    if (op) {
      pool = op->q_next;
      op->q_next = nullptr;
    } else {
      op = new Op(this);
    }
    op->core().set_run_continuations_asynchronously(!options_.allow_synchronous_continuations);
    op->shares.store(2, std::memory_order_relaxed);
    add_ref();
    return op;
  }
  template <class Op>
  void give_back_locked(Op& op, Op*& pool) noexcept {
    op.q_next = pool;
    pool = &op;
  }
  // register_locked(op, token) — lock held. False (op unused, its channel reference dropped)
  // when the token is already canceled.
  template <class Op>
  bool register_locked(Op& op, const CancellationToken& token) {
    if (!token.can_be_canceled()) return true;
    op.cancel_token = token;
    if (!token.state()->register_node(op)) {
      op.cancel_token = CancellationToken();
      refs_.fetch_sub(1, std::memory_order_relaxed);  // the channel is still referenced by the caller
      return false;
    }
    op.registered = true;
    return true;
  }

  OpList<ReadOp>& list_of(ReadOp&) noexcept { return blocked_readers_; }
  OpList<WriteOp>& list_of(WriteOp&) noexcept { return blocked_writers_; }
  OpList<WaitOp>& list_of(WaitOp& op) noexcept { return op.waits_for_write ? waiting_writers_ : waiting_readers_; }
  ReadOp*& pool_of(ReadOp&) noexcept { return read_pool_; }
  WriteOp*& pool_of(WriteOp&) noexcept { return write_pool_; }
  WaitOp*& pool_of(WaitOp&) noexcept { return wait_pool_; }

  // closed_error(error) — what a read or write on a completed channel fails with (.NET's
  // ChannelUtilities.CreateInvalidCompletionException): the cancellation itself, else a
  // ChannelClosedError carrying the completion error.
  static std::exception_ptr closed_error(const std::exception_ptr& error) noexcept {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const OperationCanceledError&) {
        return error;
      } catch (const ChannelClosedError&) {
        return error;
      } catch (...) {
      }
    }
    return error_ptr<ChannelClosedError>(error);
  }
  std::exception_ptr closed_error_locked() const noexcept { return closed_error(error_); }

  void complete_completion() noexcept {
    if (!error_) {
      completion_.try_set_result();
    } else {
      // An OperationCanceledError cancels the completion (.NET's ChannelUtilities.Complete):
      // handed to a TaskCompletionSource as an exception it would fault (issue 12, rule 7).
      try {
        std::rethrow_exception(error_);
      } catch (const OperationCanceledError& oce) {
        completion_.try_set_canceled(oce.token());
        return;
      } catch (...) {
      }
      completion_.try_set_exception(error_);
    }
  }

  std::atomic<std::uint32_t> refs_{1};
  mutable SpinLock lock_;
  const std::size_t capacity_;
  const BoundedChannelFullMode mode_;
  const ChannelOptions options_;
  const bool split_;  // the single-reader algorithm: an unbounded channel with single_reader
  Ring<T> items_;     // the buffered items (with split_: the writers' inbox)
  Ring<T> outbox_;    // split_: the items the reader took over; the reader's alone, no lock
  std::atomic<std::size_t> outbox_left_{0};  // outbox_.size(), for count() and drained checks
  OpList<ReadOp> blocked_readers_;
  OpList<WriteOp> blocked_writers_;
  OpList<WaitOp> waiting_readers_;
  OpList<WaitOp> waiting_writers_;
  ReadOp* read_pool_ = nullptr;
  WriteOp* write_pool_ = nullptr;
  WaitOp* wait_pool_ = nullptr;
  bool done_ = false;
  std::exception_ptr error_;  // written once, under the lock, before done_ is read as true
  TaskCompletionSource<void> completion_;
};

// CoreRef<T> — a counted reference to a ChannelCore.
template <class T>
class CoreRef {
 public:
  explicit CoreRef(ChannelCore<T>* c) noexcept : core_(c) {}
  CoreRef(const CoreRef& o) noexcept : core_(o.core_) { core_->add_ref(); }
  CoreRef& operator=(const CoreRef& o) noexcept {
    CoreRef(o).swap(*this);
    return *this;
  }
  ~CoreRef() { core_->release_ref(); }
  void swap(CoreRef& o) noexcept { std::swap(core_, o.core_); }
  ChannelCore<T>* operator->() const noexcept { return core_; }

 private:
  ChannelCore<T>* core_;
};

// ChannelHalf<T> — what ChannelReader and ChannelWriter share: the counted core, which only
// Channel hands out.
template <class T>
class ChannelHalf {
 protected:
  explicit ChannelHalf(CoreRef<T> c) noexcept : core_(std::move(c)) {}
  CoreRef<T> core_;
};

}  // namespace detail

// ChannelWriter<T> — the writing half (.NET's ChannelWriter<T>). Copyable handle.
template <class T>
class ChannelWriter : private detail::ChannelHalf<T> {
  using detail::ChannelHalf<T>::core_;

 public:
  // try_write(item) — writes without waiting: false when the channel is full (wait mode) or
  // completed. In a drop mode a full channel drops an item and try_write returns true.
  bool try_write(T item) { return core_->try_write(std::move(item)); }
  // write_async(item, token) — writes, waiting for room in a full bounded `wait` channel
  // (FIFO among waiting writers). Fails with ChannelClosedError once the channel is completed;
  // canceled (the item not written) when `token` fires first. Completed synchronously when there
  // is room.
  ValueTask<void> write_async(T item, const CancellationToken& token = {}) {
    return core_->write_async(std::move(item), token);
  }
  // wait_to_write_async(token) — true once there is room; false once completed (or the
  // completion error is thrown).
  ValueTask<bool> wait_to_write_async(const CancellationToken& token = {}) {
    return core_->wait_to_write_async(token);
  }
  // try_complete(error) — marks the channel done writing; false when it already was. Pending
  // readers fail with ChannelClosedError(error), pending writers too; the items already written
  // can still be read, and the reader's completion() ends once they are.
  bool try_complete(std::exception_ptr error = nullptr) { return core_->try_complete(std::move(error)); }
  // complete(error) — try_complete, but ChannelClosedError when already completed.
  void complete(std::exception_ptr error = nullptr) {
    if (!try_complete(std::move(error))) {
      throw ChannelClosedError();
    }
  }

 private:
  template <class>
  friend class Channel;
  explicit ChannelWriter(detail::CoreRef<T> c) noexcept : detail::ChannelHalf<T>(std::move(c)) {}
};

// ChannelReader<T> — the reading half (.NET's ChannelReader<T>). Copyable handle.
template <class T>
class ChannelReader : private detail::ChannelHalf<T> {
  using detail::ChannelHalf<T>::core_;

 public:
  // try_read() — the oldest item, or nullopt when none is buffered.
  std::optional<T> try_read() { return core_->try_read(); }
  // read_async(token) — the oldest item; waits (FIFO among readers) when none is buffered. No
  // allocation when an item is ready, none in steady state when it waits. ChannelClosedError
  // once the channel is completed and drained (the completion's cancellation itself when it was
  // completed with an OperationCanceledError).
  ValueTask<T> read_async(const CancellationToken& token = {}) { return core_->read_async(token); }
  // wait_to_read_async(token) — true once an item is buffered; false once the channel is
  // completed and drained without an error (with one, the error is thrown).
  ValueTask<bool> wait_to_read_async(const CancellationToken& token = {}) {
    return core_->wait_to_read_async(token);
  }
  // completion() — completes once the channel is completed and every item was read; faulted
  // with the completion error (canceled for an OperationCanceledError).
  Task<> completion() const { return core_->completion(); }
  // count() — the buffered items now.
  std::size_t count() const { return core_->count(); }
  // read_all_async(token) — the items as an async stream (.NET's ReadAllAsync): each enumeration
  // is `while (await wait_to_read_async(t)) while (try_read()) yield return item;`, so it reads
  // until the channel is completed and drained, and then ends (or throws the completion error).
  // `t` is `token` linked with the token given to get_async_enumerator (.NET's
  // [EnumeratorCancellation]); canceling it ends a pending move_next_async canceled and loses no
  // item. Consume it with a loop over move_next_async() in any style, or with for_each_async.
  AsyncStream<T> read_all_async(const CancellationToken& token = {}) const;

 private:
  template <class>
  friend class Channel;
  explicit ChannelReader(detail::CoreRef<T> c) noexcept : detail::ChannelHalf<T>(std::move(c)) {}
};

namespace detail {

// ChannelReadAll<T> — read_all_async's enumerator, a hand-written iterator (this layer is below
// the builders) over the loop in read_all_async's comment. It holds a reader handle, so the
// channel outlives the enumeration.
template <class T>
class ChannelReadAll final : public AsyncIteratorCore<T>, private Continuation {
 public:
  ChannelReadAll(const ChannelReader<T>& reader, const CancellationToken& a, const CancellationToken& b)
      : reader_(reader) {
    Continuation::invoke = &ChannelReadAll::resume;
    if (a.can_be_canceled() && b.can_be_canceled()) {
      linked_.emplace(CancellationTokenSource::create_linked(a, b));
      this->set_token(linked_->token());
    } else {
      this->set_token(a.can_be_canceled() ? a : b);
    }
  }

 private:
  ~ChannelReadAll() override = default;

  void step() override {
    for (;;) {
      if (this->dispose_mode()) {  // disposed at a yield: `yield break`
        this->on_end();
        return;
      }
      if (wait_) {  // resumed after `await wait_to_read_async(t)`
        bool more = false;
        try {
          more = wait_->get_result();
        } catch (...) {
          wait_.reset();
          throw;  // run_step ends the enumeration with it
        }
        wait_.reset();
        if (!more) {
          this->on_end();
          return;
        }
      }
      if (std::optional<T> item = reader_.try_read()) {
        this->on_yield(std::move(*item));
        return;
      }
      wait_.emplace(reader_.wait_to_read_async(this->token()).get_awaiter());
      if (!wait_->is_completed()) {
        wait_->unsafe_on_completed(static_cast<Continuation&>(*this));
        return;
      }
    }
  }
  static void resume(Continuation* c) noexcept { static_cast<ChannelReadAll*>(c)->run_step(); }

  ChannelReader<T> reader_;
  std::optional<CancellationTokenSource> linked_;
  std::optional<ValueTaskAwaiter<bool>> wait_;
};

}  // namespace detail

template <class T>
AsyncStream<T> ChannelReader<T>::read_all_async(const CancellationToken& token) const {
  return AsyncStream<T>([reader = *this, token](const CancellationToken& t) -> IAsyncEnumerator<T>* {
    return new detail::ChannelReadAll<T>(reader, token, t);
  });
}

// Channel<T> — a reader and a writer over one channel (.NET's Channel<T>). Created by
// create_unbounded / create_bounded (.NET's static Channel.CreateUnbounded<T> /
// Channel.CreateBounded<T>).
template <class T>
class Channel {
 public:
  static_assert(std::is_move_constructible_v<T>, "duet::Channel<T> needs a move-constructible T");

  // create_unbounded(options) — a channel that never fills.
  static Channel create_unbounded(const ChannelOptions& options = {}) {
    return Channel(new detail::ChannelCore<T>(std::numeric_limits<std::size_t>::max(),
                                              BoundedChannelFullMode::wait, options));
  }
  // create_bounded(capacity, mode) / create_bounded(options) — at most `capacity` (>= 1, else
  // ArgumentError) buffered items; a write to a full channel does what `mode` says.
  static Channel create_bounded(int capacity, BoundedChannelFullMode mode = BoundedChannelFullMode::wait) {
    return create_bounded(BoundedChannelOptions(capacity, mode));
  }
  static Channel create_bounded(const BoundedChannelOptions& options) {
    if (options.capacity < 1) {
      throw ArgumentError("Channel::create_bounded: capacity " + std::to_string(options.capacity) +
                          " must be >= 1 (use create_unbounded for no limit)");
    }
    return Channel(new detail::ChannelCore<T>(static_cast<std::size_t>(options.capacity), options.full_mode,
                                              options));
  }

  ChannelReader<T>& reader() noexcept { return reader_; }
  ChannelWriter<T>& writer() noexcept { return writer_; }

 private:
  explicit Channel(detail::ChannelCore<T>* core) noexcept
      : reader_(detail::CoreRef<T>(core)), writer_(detail::CoreRef<T>((core->add_ref(), core))) {}
  ChannelReader<T> reader_;
  ChannelWriter<T> writer_;
};

}  // namespace duet
