// tests/net/test_engine_drive.cpp — who polls the socket engine (src/net/socket_engine.hpp, "Who
// waits in epoll_wait"): idle default-pool workers drive epoll, the engine's thread is the
// fallback. Echo round trips with the pool at 1 and 2 workers under many seeds; the only worker
// busy-waiting on a receive (nobody parks, so only the fallback can poll); a post from a foreign
// thread reaching a worker that waits in epoll_wait (a lost wake-up makes every iteration wait for
// the pool's 500 ms starvation monitor, so the test runs past its meson timeout); the engine's
// shutdown at exit while a worker waits in it. Every wait is bounded; nothing sleeps.
//
// Reads the engine's counters through its private header: what is tested is a private mechanism.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "../../src/net/socket_engine.hpp"
#include "duet_fixture.hpp"
#include "net_support.hpp"
#include "stress_support.hpp"

namespace {

using duet::Continuation;
using duet::ThreadPool;
using duet::ValueTask;
using duet::ValueTaskAwaiter;
using duet::net::Socket;
using duet::net::detail::SocketEngine;
using namespace nettest;

using duet::testing::k_hang_bound;
using duet::testing::within;

// bounded(vt) — vt's result, waiting at most k_hang_bound; a hang aborts with a message.
template <class T>
T bounded(ValueTask<T> vt, const char* what) {
  if (vt.is_completed()) return vt.result();
  duet::Task<T> t = vt.as_task();
  if (!t.wait(k_hang_bound)) {
    std::fprintf(stderr, "%s never completed\n", what);
    std::abort();
  }
  return t.result();
}

using duet::testing::mix;

// Noop — an item that counts its runs.
struct Noop : Continuation {
  std::atomic<int> runs{0};
  Noop() noexcept {
    invoke = [](Continuation* c) noexcept {
      auto* self = static_cast<Noop*>(c);
      self->runs.fetch_add(1, std::memory_order_release);
    };
  }
};

// size_default_pool(n) — the default pool keeps exactly n workers: min = max = n, and the
// surplus retires (items posted from here wake parked workers so they re-park with the 1 ms
// idle timeout of a surplus worker).
void size_default_pool(unsigned n) {
  ThreadPool& pool = duet::default_scheduler();
  pool.set_idle_timeout(std::chrono::milliseconds(1));
  ASSERT_TRUE(pool.set_max_threads(ThreadPool::k_thread_limit));
  ASSERT_TRUE(pool.set_min_threads(n));
  ASSERT_TRUE(pool.set_max_threads(n));
  Noop nudge;
  int posted = 0;
  ASSERT_TRUE(within([&] {
    if (pool.thread_count() == n) return true;
    if (nudge.runs.load(std::memory_order_acquire) == posted) {
      ++posted;
      pool.post(nudge);
    }
    return false;
  })) << "the default pool did not shrink to " << n << " workers: " << pool.thread_count();
  ASSERT_TRUE(within([&] { return nudge.runs.load(std::memory_order_acquire) == posted; }));
}

SocketEngine& engine() {
  SocketEngine* e = SocketEngine::running();
  EXPECT_NE(e, nullptr);
  return *e;
}

// Echo — the server side of one connection, as a raw continuation on the pool: receive, send the
// bytes back, until end of stream.
struct Echo : Continuation {
  Socket sock;
  std::array<std::byte, 512> buf{};
  std::optional<ValueTaskAwaiter<std::size_t>> aw;
  bool sending = false;
  std::size_t n = 0;
  std::atomic<bool> finished{false};
  std::atomic<bool> failed{false};

  explicit Echo(Socket s) : sock(std::move(s)) {
    invoke = [](Continuation* c) noexcept { static_cast<Echo*>(c)->advance(); };
  }
  void start() {
    aw.emplace(sock.receive_async(buf));
    if (aw->is_completed()) {
      advance();
    } else {
      aw->unsafe_on_completed(*this);
    }
  }
  void advance() noexcept {
    try {
      for (;;) {
        const std::size_t r = aw->get_result();
        if (!sending) {
          if (r == 0) break;
          n = r;
          sending = true;
          aw.emplace(sock.send_async(std::span<const std::byte>(buf.data(), n)));
        } else {
          if (r != n) failed.store(true);
          sending = false;
          aw.emplace(sock.receive_async(buf));
        }
        if (!aw->is_completed()) {
          aw->unsafe_on_completed(*this);
          return;
        }
      }
    } catch (...) {
      failed.store(true);
    }
    finished.store(true, std::memory_order_release);
  }
};

using Param = duet::testing::WorkersSeed;

class EngineDrive : public ::testing::TestWithParam<Param> {};

TEST_P(EngineDrive, EchoRoundTripsAreExactAndIdleWorkersDriveTheEngine) {
  const Param p = GetParam();
  size_default_pool(p.workers);
  TcpListener listener = make_listener();
  const std::uint32_t s0 = mix(static_cast<std::uint32_t>(p.seed) + 1);
  const int connections = 1 + static_cast<int>(s0 % 6);
  const int rounds = 30 + static_cast<int>(s0 % 40);
  const int client_threads = 1 + static_cast<int>((s0 >> 8) % 2);

  std::vector<Socket> clients;
  std::vector<std::unique_ptr<Echo>> servers;
  for (int i = 0; i < connections; ++i) {
    Pair pair = make_pair(listener);
    clients.push_back(std::move(pair.a));
    servers.push_back(std::make_unique<Echo>(std::move(pair.b)));
  }
  const std::uint64_t worker_polls_before = engine().worker_polls();
  for (auto& s : servers) s->start();

  std::atomic<int> mismatches{0};
  auto client = [&](int thread) {
    for (int r = 0; r < rounds; ++r) {
      // Every connection of this thread sends, then every one reads its echo back.
      std::vector<std::string> sent(connections);
      for (int i = thread; i < connections; i += client_threads) {
        std::uint32_t x = mix(s0 ^ static_cast<std::uint32_t>(r * 131 + i));
        const std::size_t len = 1 + x % 400;
        for (std::size_t k = 0; k < len; ++k) {
          x = mix(x + static_cast<std::uint32_t>(k));
          sent[i].push_back(static_cast<char>('a' + x % 26));
        }
        if (bounded(clients[i].send_async(bytes(sent[i])), "a client send") != len) ++mismatches;
      }
      for (int i = thread; i < connections; i += client_threads) {
        std::string got;
        std::array<std::byte, 512> buf{};
        while (got.size() < sent[i].size()) {
          const std::size_t n = bounded(clients[i].receive_async(buf), "a client receive");
          if (n == 0) break;
          got += text(std::span(buf).first(n));
        }
        if (got != sent[i]) ++mismatches;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < client_threads; ++t) threads.emplace_back(client, t);
  client(0);
  for (auto& t : threads) t.join();

  for (auto& c : clients) c.shutdown(duet::net::SocketShutdown::send);
  for (auto& s : servers) {
    ASSERT_TRUE(within([&] { return s->finished.load(std::memory_order_acquire); }))
        << "an echo loop did not see the end of stream";
    EXPECT_FALSE(s->failed.load());
  }
  EXPECT_EQ(mismatches.load(), 0);
  // The client waits for every echo, so the single worker parked between rounds: it polled.
  EXPECT_GT(engine().worker_polls(), worker_polls_before) << "no worker ever drove the engine";
}

std::vector<Param> params() {
  std::vector<Param> ps;
  for (unsigned w : {1u, 2u}) {
    for (int seed = 0; seed < 12; ++seed) ps.push_back({w, seed});
  }
  return ps;
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineDrive, ::testing::ValuesIn(params()),
                         duet::testing::workers_seed_name<Param>);

using EngineFallback = duet::testing::DuetTest;

// SpinReceiver — the only worker's item: starts a receive and spins until it completes, never
// parking, never blocking in a way the pool sees: only the engine's thread can poll meanwhile.
struct SpinReceiver : Continuation {
  Socket* sock = nullptr;
  std::array<std::byte, 16> buf{};
  std::atomic<bool> started{false};
  std::atomic<std::size_t> got{0};
  std::atomic<bool> done{false};
  SpinReceiver() noexcept {
    invoke = [](Continuation* c) noexcept {
      auto* self = static_cast<SpinReceiver*>(c);
      ValueTask<std::size_t> r = self->sock->receive_async(self->buf);
      self->started.store(true, std::memory_order_release);
      while (!r.is_completed()) std::this_thread::yield();
      self->got.store(r.result());
      self->done.store(true, std::memory_order_release);
    };
  }
};

TEST_F(EngineFallback, TheOnlyWorkerBusyWaitingOnAReceiveIsServedByTheEnginesThread) {
  size_default_pool(1);
  for (int round = 0; round < 20; ++round) {
    Pair p = make_pair();
    SpinReceiver item;
    item.sock = &p.b;
    duet::default_scheduler().post(item);
    ASSERT_TRUE(within([&] { return item.started.load(std::memory_order_acquire); }));
    ASSERT_EQ(bounded(p.a.send_async(bytes("late")), "the peer's send"), 4u);
    ASSERT_TRUE(within([&] { return item.done.load(std::memory_order_acquire); }))
        << "round " << round << ": nobody polled while the only worker was busy";
    EXPECT_EQ(item.got.load(), 4u);
    EXPECT_EQ(text(std::span(item.buf).first(4)), "late");
  }
}

// ForeignPoster — posts from a thread outside the pool while a worker waits in epoll_wait.
class ForeignPost : public ::testing::TestWithParam<unsigned> {};

TEST_P(ForeignPost, APostFromAForeignThreadWakesAWorkerWaitingInEpoll) {
  size_default_pool(GetParam());
  // A pending receive starts the engine; the workers then idle in it.
  Pair p = make_pair();
  std::array<std::byte, 4> buf{};
  ValueTask<std::size_t> pending = p.b.receive_async(buf);
  ASSERT_FALSE(pending.is_completed());
  SocketEngine& e = engine();
  Noop item;
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(within([&] { return e.worker_waiting(); })) << "iteration " << i;
    duet::default_scheduler().post(item);
    ASSERT_TRUE(within([&] { return item.runs.load(std::memory_order_acquire) == i + 1; }))
        << "iteration " << i << ": the post never ran";
  }
  ASSERT_EQ(bounded(p.a.send_async(bytes("end")), "the send"), 3u);
  EXPECT_EQ(bounded(std::move(pending), "the pending receive"), 3u);
}

INSTANTIATE_TEST_SUITE_P(Workers, ForeignPost, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<unsigned>& param_info) {
                           std::string name = "w";
                           name += std::to_string(param_info.param);
                           return name;
                         });

// At exit the engine leaves the pool while a worker waits in epoll_wait: the exit must finish
// (an atexit handler registered before the engine existed runs after its destructor).
TEST(EngineShutdown, ExitWhileAWorkerWaitsInTheEngineCompletes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto exit_while_driven = [] {
    size_default_pool(1);
    // Runs after the engine's destructor; ends the process there (what remains to destroy is
    // not under test, and ThreadSanitizer would report the retired workers' unjoined threads).
    std::atexit([] {
      std::fputs("engine stopped\n", stderr);
      std::_Exit(0);
    });
    Pair p = make_pair();
    std::array<std::byte, 4> buf{};
    ValueTask<std::size_t> pending = p.b.receive_async(buf);
    SocketEngine& e = engine();
    if (!within([&] { return e.worker_waiting(); })) std::_Exit(3);
    std::exit(0);  // `pending` still waits
  };
  EXPECT_EXIT(exit_while_driven(), ::testing::ExitedWithCode(0), "engine stopped");
}

}  // namespace
