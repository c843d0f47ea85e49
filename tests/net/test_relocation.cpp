// tests/net/test_relocation.cpp — a socket operation whose buffer is a member of an explicit or
// dsl state machine follows the machine into its box (duet/detail/relocation.hpp), in every
// style: a receive into a member buffer, a send from one that has to wait, NetworkStream's
// read_exactly_async into one (with the owning stream itself a member), many of them racing the
// I/O thread, and the machine that ends unboxed with such an operation still waiting (it ends
// with InvalidOperationError). A fiber's locals never move: the same methods on fibers read the
// same bytes.
//
// How these tests fail without the mechanism: the explicit and dsl machines are started in
// storage the test owns and keeps alive, and wipes once the machine moved out of it. An operation
// left pointing at the old place then reads or writes that wiped storage instead of the box: the
// method sees zeros (or the peer does), never a crash.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "fault_injection.hpp"
#include "net_support.hpp"

namespace {

using duet::Task;
using duet::ValueTask;
using duet::net::NetworkStream;
using duet::net::Socket;
using namespace nettest;

using Relocation = duet::testing::DuetTest;

// start_in_storage(args...) — the stub method of a state machine SM, with the unboxed machine in
// heap storage that outlives the call: start, take the task, destroy the (moved-from) machine and
// wipe its bytes. Whatever still points there afterwards sees zeros. Storage the caller allocated
// already (of sizeof(SM) + alignof(SM) bytes) is used as it is.
template <class SM, class... Args>
auto start_in_storage(std::unique_ptr<std::byte[]>& storage, Args&&... args) {
  if (!storage) storage = std::make_unique<std::byte[]>(sizeof(SM) + alignof(SM));
  void* p = storage.get();
  std::size_t space = sizeof(SM) + alignof(SM);
  void* at = std::align(alignof(SM), sizeof(SM), p, space);
  SM* sm = ::new (at) SM(std::forward<Args>(args)...);
  sm->builder_.start(*sm);
  auto task = sm->builder_.task();
  sm->~SM();
  std::memset(at, 0, sizeof(SM));
  return task;
}

std::string text_of(const std::byte* p, std::size_t n) { return std::string(reinterpret_cast<const char*>(p), n); }

// ---- a receive into a member buffer ---------------------------------------------------------

// async Task<string> ReceiveAsync(Socket s) { var buf = new byte[16]; int n = await s.ReceiveAsync(buf); ... }
// with `buf` hoisted into the machine, as Roslyn hoists it. On any builder of std::string.
template <class Builder>
struct ReceiveExplicitOn {
  int state_ = -1;
  Builder builder_;
  Socket* socket_;
  std::array<std::byte, 16> buf_{};
  std::optional<duet::ValueTaskAwaiter<std::size_t>> awaiter_;

  explicit ReceiveExplicitOn(Socket& s) : socket_(&s) {}
  ReceiveExplicitOn(ReceiveExplicitOn&&) = default;

  void move_next() {
    try {
      if (state_ != 0) {
        awaiter_.emplace(socket_->receive_async(buf_).get_awaiter());
        if (!awaiter_->is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      const std::size_t n = awaiter_->get_result();
      awaiter_.reset();
      state_ = -2;
      builder_.set_result(text_of(buf_.data(), n));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};
using ReceiveExplicit = ReceiveExplicitOn<duet::AsyncTaskMethodBuilder<std::string>>;

struct ReceiveDsl : duet::AsyncMethod<ReceiveDsl, std::string> {
  Socket* socket_;
  std::array<std::byte, 16> buf_{};
  std::size_t n_ = 0;
  explicit ReceiveDsl(Socket& s) : socket_(&s) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(n_, socket_->receive_async(buf_));
      DUET_RETURN(text_of(buf_.data(), n_));
    DUET_END
  }
};

Task<std::string> receive_fiber(Socket& s) {
  return duet::fiber::async([&s] {
    std::array<std::byte, 16> buf{};
    const std::size_t n = duet::await(s.receive_async(buf));
    return text_of(buf.data(), n);
  });
}

// The data arrives only after the method suspended (its receive had to wait).
template <class Start>
void expect_receive_into_member_follows(Start start) {
  Pair p = make_pair();
  std::unique_ptr<std::byte[]> storage;
  Task<std::string> t = start(p.b, storage);
  ASSERT_FALSE(t.is_completed()) << "precondition: the receive waits";
  ASSERT_EQ(p.a.send_async(bytes("hello")).result(), 5u);
  EXPECT_EQ(t.result(), "hello");
}

TEST_F(Relocation, AReceiveIntoAMemberBufferFollowsTheMachineIntoItsBoxExplicit) {
  expect_receive_into_member_follows(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<ReceiveExplicit>(storage, s); });
}

TEST_F(Relocation, AReceiveIntoAMemberBufferFollowsTheMachineIntoItsBoxDsl) {
  expect_receive_into_member_follows(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<ReceiveDsl>(storage, s); });
}

TEST_F(Relocation, AReceiveIntoAFiberLocalBufferReadsTheSameBytesFiber) {
  expect_receive_into_member_follows([](Socket& s, std::unique_ptr<std::byte[]>&) { return receive_fiber(s); });
}

// The same method on the pooling ValueTask builder: its box comes from a pool, not from an
// allocation, and its create() makes the relocation check itself.
using ReceivePooledExplicit = ReceiveExplicitOn<duet::PoolingAsyncValueTaskMethodBuilder<std::string>>;

TEST_F(Relocation, AReceiveIntoAMemberBufferFollowsAPooledBoxExplicit) {
  // Twice: the second call's box is the first one's, rented again from the pool.
  for (int round = 0; round < 2; ++round) {
    Pair p = make_pair();
    std::unique_ptr<std::byte[]> storage;
    duet::ValueTask<std::string> t = start_in_storage<ReceivePooledExplicit>(storage, p.b);
    ASSERT_FALSE(t.is_completed()) << "precondition: the receive waits";
    ASSERT_EQ(p.a.send_async(bytes("pooled")).result(), 6u);
    EXPECT_EQ(t.result(), "pooled") << "round " << round;
  }
}

// The box cannot be allocated while the receive waits: the method faults with std::bad_alloc
// (the builder's rule), and the receive, whose buffer dies with the unboxed machine, ends instead
// of writing into freed memory; the socket stays usable and the peer's bytes reach the next
// receive. Every allocation point of the call is failed once (k = 1, 2, ... until none fires).
TEST_F(Relocation, TheBoxOutOfMemoryEndsTheWatchedReceiveAndTheSocketStaysUsableExplicit) {
  Pair p = make_pair();
  {  // Warm up: the socket's context and its epoll registration exist before the sweep.
    std::array<std::byte, 4> warm{};
    ValueTask<std::size_t> r = p.b.receive_async(warm);
    ASSERT_EQ(p.a.send_async(bytes("warm")).result(), 4u);
    ASSERT_EQ(r.result(), 4u);
  }
  bool saw_out_of_memory = false;
  for (std::uint64_t k = 1;; ++k) {
    // The storage and the task's slot exist before the injection: only the call is swept.
    auto storage = std::make_unique<std::byte[]>(sizeof(ReceiveExplicit) + alignof(ReceiveExplicit));
    std::optional<Task<std::string>> t;
    bool fired = false;
    {
      duet::testing::FailAt fail(k);
      t.emplace(start_in_storage<ReceiveExplicit>(storage, p.b));
      fired = fail.fired();
    }
    if (!fired) {
      ASSERT_FALSE(t->is_completed()) << "precondition: the receive waits";
      ASSERT_EQ(p.a.send_async(bytes("after")).result(), 5u);
      EXPECT_EQ(t->result(), "after");
      break;
    }
    if (t->is_faulted()) {
      try {
        (void)t->result();
        ADD_FAILURE() << "k=" << k << ": faulted without an exception";
      } catch (const std::bad_alloc&) {
        saw_out_of_memory = true;
      } catch (const std::exception& e) {
        // The receive could not go pending (its watch could not be allocated): its own error.
        SUCCEED() << "k=" << k << ": " << e.what();
      }
      // Whatever waited ended: the next receive gets the peer's next bytes, all of them.
      std::array<std::byte, 8> next{};
      ValueTask<std::size_t> r = p.b.receive_async(next);
      ASSERT_EQ(p.a.send_async(bytes("next")).result(), 4u);
      ASSERT_EQ(r.result(), 4u) << "k=" << k;
      EXPECT_EQ(text_of(next.data(), 4), "next") << "k=" << k;
    } else {
      // The failed allocation was elsewhere and the method recovered: it still gets its bytes.
      ASSERT_EQ(p.a.send_async(bytes("after")).result(), 5u);
      EXPECT_EQ(t->result(), "after") << "k=" << k;
    }
  }
  EXPECT_TRUE(saw_out_of_memory) << "no k failed the box: the scenario did not test the rule";
}

// ---- a send from a member buffer that has to wait -------------------------------------------

constexpr std::size_t k_big = 1 << 20;  // far more than the shrunk socket buffers hold

std::byte pattern(std::size_t i) { return static_cast<std::byte>(i % 251 + 1); }

// async Task<int> SendAsync(Socket s) { var buf = Pattern(1 MiB); await s.SendAsync(buf); return buf.Length; }
struct SendExplicit {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::size_t> builder_;
  Socket* socket_;
  std::array<std::byte, k_big> buf_;
  std::optional<duet::ValueTaskAwaiter<std::size_t>> awaiter_;

  explicit SendExplicit(Socket& s) : socket_(&s) {
    for (std::size_t i = 0; i < buf_.size(); ++i) buf_[i] = pattern(i);
  }
  SendExplicit(SendExplicit&&) = default;

  void move_next() {
    try {
      if (state_ != 0) {
        awaiter_.emplace(socket_->send_async(buf_).get_awaiter());
        if (!awaiter_->is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      const std::size_t n = awaiter_->get_result();
      awaiter_.reset();
      state_ = -2;
      builder_.set_result(n);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

struct SendDsl : duet::AsyncMethod<SendDsl, std::size_t> {
  Socket* socket_;
  std::array<std::byte, k_big> buf_;
  std::size_t n_ = 0;
  explicit SendDsl(Socket& s) : socket_(&s) {
    for (std::size_t i = 0; i < buf_.size(); ++i) buf_[i] = pattern(i);
  }
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(n_, socket_->send_async(buf_));
      DUET_RETURN(n_);
    DUET_END
  }
};

Task<std::size_t> send_fiber(Socket& s) {
  return duet::fiber::async(
      [&s] {
        std::array<std::byte, k_big> buf;
        for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = pattern(i);
        return duet::await(s.send_async(buf));
      },
      duet::fiber::FiberOptions{}.with_stack_size(k_big + (256 << 10)));
}

void shrink_buffers(Pair& p) {
  const int small = 65536;
  ASSERT_EQ(::setsockopt(p.a.handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  ASSERT_EQ(::setsockopt(p.b.handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
}

template <class Start>
void expect_send_from_member_follows(Start start) {
  Pair p = make_pair();
  shrink_buffers(p);
  std::unique_ptr<std::byte[]> storage;
  Task<std::size_t> t = start(p.a, storage);
  ASSERT_FALSE(t.is_completed()) << "precondition: the send waits for the peer";
  std::vector<std::byte> got(k_big);
  NetworkStream peer(p.b);
  peer.read_exactly_async(got).result();
  EXPECT_EQ(t.result(), k_big);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < k_big; ++i) wrong += got[i] != pattern(i) ? 1 : 0;
  EXPECT_EQ(wrong, 0u) << "bytes of the 1 MiB send that were not the member buffer's";
}

TEST_F(Relocation, ASendFromAMemberBufferThatWaitsFollowsTheMachineExplicit) {
  expect_send_from_member_follows(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<SendExplicit>(storage, s); });
}

TEST_F(Relocation, ASendFromAMemberBufferThatWaitsFollowsTheMachineDsl) {
  expect_send_from_member_follows(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<SendDsl>(storage, s); });
}

TEST_F(Relocation, ASendFromAFiberLocalBufferThatWaitsDeliversTheSameBytesFiber) {
  expect_send_from_member_follows([](Socket& s, std::unique_ptr<std::byte[]>&) { return send_fiber(s); });
}

// ---- read_exactly_async into a member, the owning stream a member too -------------------------

// async Task<string> ReadEightAsync(Socket s) { var stream = new NetworkStream(s, true);
//     var buf = new byte[8]; await stream.ReadExactlyAsync(buf); return Encoding.ASCII.GetString(buf); }
struct ReadExactlyDsl : duet::AsyncMethod<ReadExactlyDsl, std::string> {
  NetworkStream stream_;  // owns the socket: moves with the machine
  std::array<std::byte, 8> buf_{};
  explicit ReadExactlyDsl(Socket s) : stream_(std::move(s), true) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT(stream_.read_exactly_async(buf_));
      stream_.close();
      DUET_RETURN(text_of(buf_.data(), buf_.size()));
    DUET_END
  }
};

struct ReadExactlyExplicit {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<std::string> builder_;
  NetworkStream stream_;
  std::array<std::byte, 8> buf_{};
  std::optional<duet::ValueTaskAwaiter<void>> awaiter_;

  explicit ReadExactlyExplicit(Socket s) : stream_(std::move(s), true) {}
  ReadExactlyExplicit(ReadExactlyExplicit&&) = default;

  void move_next() {
    try {
      if (state_ != 0) {
        awaiter_.emplace(stream_.read_exactly_async(buf_).get_awaiter());
        if (!awaiter_->is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(*awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      awaiter_->get_result();
      awaiter_.reset();
      stream_.close();
      state_ = -2;
      builder_.set_result(text_of(buf_.data(), buf_.size()));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

Task<std::string> read_exactly_fiber(Socket s) {
  return duet::fiber::async([s = std::move(s)]() mutable {
    NetworkStream stream(std::move(s), true);
    std::array<std::byte, 8> buf{};
    duet::await(stream.read_exactly_async(buf));
    stream.close();
    return text_of(buf.data(), buf.size());
  });
}

// The eight bytes come in two sends after the method suspended.
template <class Start>
void expect_read_exactly_into_member_follows(Start start) {
  Pair p = make_pair();
  std::unique_ptr<std::byte[]> storage;
  Task<std::string> t = start(std::move(p.b), storage);
  ASSERT_FALSE(t.is_completed()) << "precondition: the read waits";
  ASSERT_EQ(p.a.send_async(bytes("abcd")).result(), 4u);
  ASSERT_EQ(p.a.send_async(bytes("efgh")).result(), 4u);
  EXPECT_EQ(t.result(), "abcdefgh");
}

TEST_F(Relocation, ReadExactlyIntoAMemberWithTheOwningStreamAMemberFollowsTheMachineExplicit) {
  expect_read_exactly_into_member_follows([](Socket s, std::unique_ptr<std::byte[]>& storage) {
    return start_in_storage<ReadExactlyExplicit>(storage, std::move(s));
  });
}

TEST_F(Relocation, ReadExactlyIntoAMemberWithTheOwningStreamAMemberFollowsTheMachineDsl) {
  expect_read_exactly_into_member_follows([](Socket s, std::unique_ptr<std::byte[]>& storage) {
    return start_in_storage<ReadExactlyDsl>(storage, std::move(s));
  });
}

TEST_F(Relocation, ReadExactlyIntoAFiberLocalReadsTheSameBytesFiber) {
  expect_read_exactly_into_member_follows(
      [](Socket s, std::unique_ptr<std::byte[]>&) { return read_exactly_fiber(std::move(s)); });
}

// ---- racing the I/O thread ------------------------------------------------------------------

// async Task<string> ReceiveAllAsync(Socket s) { var buf = new byte[8]; int got = 0;
//     while (got < 8) { int n = await s.ReceiveAsync(buf[got..]); if (n == 0) break; got += n; } ... }
struct ReceiveAllDsl : duet::AsyncMethod<ReceiveAllDsl, std::string> {
  Socket* socket_;
  std::array<std::byte, 8> buf_{};
  std::size_t got_ = 0;
  std::size_t n_ = 0;
  explicit ReceiveAllDsl(Socket& s) : socket_(&s) {}
  void move_next() {
    DUET_BEGIN
      while (got_ < buf_.size()) {
        DUET_AWAIT_INTO(n_, socket_->receive_async(std::span(buf_).subspan(got_)));
        if (n_ == 0) break;
        got_ += n_;
      }
      DUET_RETURN(text_of(buf_.data(), got_));
    DUET_END
  }
};

// Many methods started with duet::start (the machine in the caller's frame, as users write it),
// each reading 8 bytes into a member while another thread sends them: the bytes arrive before,
// during or after the move into the box. Every method must read exactly its own bytes.
TEST_F(Relocation, ManyMethodsRacingTheirDataIntoTheBoxEachReadTheirOwnBytes) {
  constexpr int k_pairs = 64;
  constexpr int k_rounds = 8;
  TcpListener l = make_listener();
  for (int round = 0; round < k_rounds; ++round) {
    std::vector<Pair> pairs;
    for (int i = 0; i < k_pairs; ++i) pairs.push_back(make_pair(l));
    std::vector<Task<std::string>> reads;
    std::atomic<int> started{0};
    std::thread sender([&] {
      for (int i = 0; i < k_pairs; ++i) {
        while (started.load(std::memory_order_acquire) <= i) std::this_thread::yield();
        char msg[9];
        std::snprintf(msg, sizeof msg, "m%03d-%03d", i, round);
        (void)pairs[static_cast<std::size_t>(i)].a.send_async(bytes(std::string_view(msg, 8))).result();
      }
    });
    for (int i = 0; i < k_pairs; ++i) {
      reads.push_back(i % 2 == 0 ? duet::start<ReadExactlyDsl>(std::move(pairs[static_cast<std::size_t>(i)].b))
                                 : duet::start<ReceiveAllDsl>(pairs[static_cast<std::size_t>(i)].b));
      started.store(i + 1, std::memory_order_release);
    }
    sender.join();
    for (int i = 0; i < k_pairs; ++i) {
      char msg[9];
      std::snprintf(msg, sizeof msg, "m%03d-%03d", i, round);
      EXPECT_EQ(reads[static_cast<std::size_t>(i)].result(), std::string(msg, 8)) << "method " << i;
    }
  }
}

// ---- the machine that ends unboxed with an operation still waiting ----------------------------

// async Task<ValueTask<int>> LeakAsync(Socket s) { var buf = new byte[8]; return s.ReceiveAsync(buf); }
// — the receive waits on a buffer in a frame that is gone as soon as the method returns.
struct LeakExplicit {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<ValueTask<std::size_t>> builder_;
  Socket* socket_;
  std::array<std::byte, 8> buf_{};
  explicit LeakExplicit(Socket& s) : socket_(&s) {}
  LeakExplicit(LeakExplicit&&) = default;
  void move_next() {
    state_ = -2;
    builder_.set_result(socket_->receive_async(buf_));
  }
};

struct LeakDsl : duet::AsyncMethod<LeakDsl, ValueTask<std::size_t>> {
  Socket* socket_;
  std::array<std::byte, 8> buf_{};
  explicit LeakDsl(Socket& s) : socket_(&s) {}
  void move_next() {
    DUET_BEGIN
      DUET_RETURN(socket_->receive_async(buf_));
    DUET_END
  }
};

template <class Start>
void expect_unboxed_end_aborts_the_receive(Start start) {
  Pair p = make_pair();
  std::unique_ptr<std::byte[]> storage;
  Task<ValueTask<std::size_t>> t = start(p.b, storage);
  ASSERT_TRUE(t.is_completed()) << "precondition: the method ended without suspending";
  ValueTask<std::size_t> leaked = t.result();
  expect_throws_containing<duet::InvalidOperationError>(
      [&] { (void)leaked.result(); }, "lies inside an async method's state machine that ended without suspending");
  // The socket stays usable, and no byte went to the dead frame.
  ASSERT_EQ(p.a.send_async(bytes("next")).result(), 4u);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(p.b.receive_async(buf).result(), 4u);
  EXPECT_EQ(text_of(buf.data(), 4), "next");
}

TEST_F(Relocation, AMachineThatEndsUnboxedWithAReceiveWaitingInItAbortsTheReceiveExplicit) {
  expect_unboxed_end_aborts_the_receive(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<LeakExplicit>(storage, s); });
}

TEST_F(Relocation, AMachineThatEndsUnboxedWithAReceiveWaitingInItAbortsTheReceiveDsl) {
  expect_unboxed_end_aborts_the_receive(
      [](Socket& s, std::unique_ptr<std::byte[]>& storage) { return start_in_storage<LeakDsl>(storage, s); });
}

// The fiber's frame is not a state machine: a receive started in it and handed out keeps its
// buffer (here, one that outlives the fiber) and completes normally.
TEST_F(Relocation, AFiberThatHandsOutAWaitingReceiveLeavesItRunningFiber) {
  Pair p = make_pair();
  auto buf = std::make_shared<std::array<std::byte, 8>>();
  Task<ValueTask<std::size_t>> t =
      duet::fiber::async([&p, buf] { return p.b.receive_async(*buf); });
  ValueTask<std::size_t> handed = t.result();
  ASSERT_EQ(p.a.send_async(bytes("next")).result(), 4u);
  EXPECT_EQ(handed.result(), 4u);
  EXPECT_EQ(text_of(buf->data(), 4), "next");
}

}  // namespace
