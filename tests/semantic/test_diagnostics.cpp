// tests/semantic/test_diagnostics.cpp — duet::diagnostics (diag/diagnostics.hpp) in every style:
// the registry of suspended methods and dump_async()'s chains.
//
// Each style writes the same three methods, Leaf, Middle and Root, and the same async iterator,
// Gated (tests/diag/diag_chain.hpp). Methods awaiting real loopback sockets (the epoll
// engine) show what the socket operation waits for, with its endpoint.
// The executable is linked with export_dynamic so dladdr can name the fiber bodies.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <duet/duet.hpp>

#include "../net/net_support.hpp"
#include "diag_chain.hpp"
#include "duet_fixture.hpp"
#include "method_styles.hpp"
#include "queue_scheduler.hpp"

namespace diag_styles {

struct Explicit {
  static constexpr const char* tag = "[explicit]";
  using Generic = semantic::Explicit;
  static duet::AsyncStream<int> gated(duet::Task<> gate) { return duet::make_async_stream<GatedExplicit>(gate); }
  static duet::Task<int> root(duet::Task<int> t) { return explicit_call<2>(std::move(t)); }
  static duet::Task<int> leaf(duet::Task<int> t) { return explicit_call<0>(std::move(t)); }
};
struct Dsl {
  static constexpr const char* tag = "[dsl]";
  using Generic = semantic::Dsl;
  static duet::AsyncStream<int> gated(duet::Task<> gate) { return duet::make_async_stream<GatedDsl>(gate); }
  static duet::Task<int> root(duet::Task<int> t) { return dsl_call<2>(std::move(t)); }
  static duet::Task<int> leaf(duet::Task<int> t) { return dsl_call<0>(std::move(t)); }
};
struct Fiber {
  static constexpr const char* tag = "[fiber]";
  using Generic = semantic::Fiber;
  static duet::AsyncStream<int> gated(duet::Task<> gate) {
    return duet::fiber::async_stream<int>(
        [gate](duet::fiber::StreamYield<int>& yield) {
          duet::await(gate);
          yield(1);
        },
        duet::fiber::FiberOptions{}.with_name("Gated"));
  }
  static duet::Task<int> root(duet::Task<int> t) { return diag_fiber_call(2, std::move(t)); }
  static duet::Task<int> leaf(duet::Task<int> t) { return diag_fiber_call(0, std::move(t)); }
};

}  // namespace diag_styles

namespace semantic {
namespace {

using duet::Task;
using duet::TaskCompletionSource;
namespace diagnostics = duet::diagnostics;

// lines(s) — s split at newlines.
std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// frame_lines(dump) — the "#n ..." lines of a dump, in order (stack lines left out), with a dsl
// frame's state (its resume label, __COUNTER__-based) written as "N".
std::vector<std::string> frame_lines(const std::string& dump) {
  std::vector<std::string> out;
  for (const std::string& l : lines(dump)) {
    if (l.rfind("  #", 0) != 0) continue;
    std::string f = l.substr(2);
    const std::size_t at = f.find("(state ");
    if (f.find("[dsl]") != std::string::npos && at != std::string::npos) {
      f.replace(at + 7, f.find(')', at) - at - 7, "N");
    }
    out.push_back(f);
  }
  return out;
}

// DiagnosticsOn — enables the registry for the test and disables (clears) it afterwards.
class DiagnosticsOn : public duet::testing::DuetTest {
 protected:
  void SetUp() override {
    duet::testing::DuetTest::SetUp();
    diagnostics::enable();
  }
  void TearDown() override {
    diagnostics::disable();
    duet::testing::DuetTest::TearDown();
  }
};
template <class S>
class Diagnostics : public DiagnosticsOn {};
using DiagStyles = ::testing::Types<diag_styles::Explicit, diag_styles::Dsl, diag_styles::Fiber>;
struct DiagStyleName {
  template <class S>
  static std::string GetName(int) {
    return std::string(S::tag).substr(1, std::string(S::tag).size() - 2);
  }
};
TYPED_TEST_SUITE(Diagnostics, DiagStyles, DiagStyleName);

// expected_frame(S, name, awaits) — "#i [style] Name (state 0) awaits ..." (fibers: no state).
template <class S>
std::string expected_frame(int i, const char* name, const std::string& awaits) {
  std::string f = "#" + std::to_string(i) + " " + S::tag + " " + name;
  if (std::string(S::tag) == "[explicit]") f += " (state 0)";
  if (std::string(S::tag) == "[dsl]") f += " (state N)";
  return f + " awaits " + awaits;
}

TYPED_TEST(Diagnostics, AThreeDeepChainOnATcsIsDumpedInnermostFirstWithNamesAndTheTcs) {
  using S = TypeParam;
  TaskCompletionSource<int> tcs;
  Task<int> root = S::root(tcs.task());
  ASSERT_FALSE(root.is_completed());
  EXPECT_EQ(diagnostics::suspended_count(), 3u);
  const std::string dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("1 chain, 3 suspended frames"), std::string::npos) << dump;
  EXPECT_NE(dump.find("x1 chain:"), std::string::npos) << dump;
  const std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 3u) << dump;
  EXPECT_EQ(frames[0], expected_frame<S>(0, "Leaf", "duet::TaskCompletionSource<int>")) << dump;
  EXPECT_EQ(frames[1], expected_frame<S>(1, "Middle", "task of #0")) << dump;
  EXPECT_EQ(frames[2], expected_frame<S>(2, "Root", "task of #1")) << dump;
  tcs.set_result(1);
  EXPECT_EQ(root.result(), 4);
}

TYPED_TEST(Diagnostics, TheRegistryIsEmptyOnceTheChainCompletes) {
  using S = TypeParam;
  TaskCompletionSource<int> tcs;
  Task<int> root = S::root(tcs.task());
  EXPECT_EQ(diagnostics::suspended_count(), 3u);
  tcs.set_result(10);
  EXPECT_EQ(root.result(), 13);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
  EXPECT_EQ(diagnostics::dump_async(), "no suspended methods\n");
}

TYPED_TEST(Diagnostics, IdenticalChainsAreMergedWithTheirCount) {
  using S = TypeParam;
  TaskCompletionSource<int> a, b, c;
  Task<int> ra = S::root(a.task());
  Task<int> rb = S::root(b.task());
  Task<int> rc = S::root(c.task());
  const std::string dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("3 chains, 9 suspended frames"), std::string::npos) << dump;
  EXPECT_NE(dump.find("x3 chain:"), std::string::npos) << dump;
  EXPECT_EQ(frame_lines(dump).size(), 3u) << "merged chains are printed once:\n" << dump;
  a.set_result(0);
  b.set_result(0);
  c.set_result(0);
  EXPECT_EQ(ra.result() + rb.result() + rc.result(), 9);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

TYPED_TEST(Diagnostics, ChainsThatDifferAreNotMerged) {
  using S = TypeParam;
  TaskCompletionSource<int> a, b, c;
  Task<int> ra = S::root(a.task());
  Task<int> rb = S::root(b.task());
  Task<int> lc = S::leaf(c.task());  // a one-frame chain
  const std::string dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("3 chains, 7 suspended frames"), std::string::npos) << dump;
  EXPECT_NE(dump.find("x2 chain:"), std::string::npos) << dump;
  EXPECT_NE(dump.find("x1 chain:"), std::string::npos) << dump;
  const std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 4u) << dump;
  // The two chains in the order of their roots: the newest suspension first (the one-frame one).
  EXPECT_EQ(frames[0], expected_frame<S>(0, "Leaf", "duet::TaskCompletionSource<int>")) << dump;
  EXPECT_EQ(frames[3], expected_frame<S>(2, "Root", "task of #1")) << dump;
  a.set_result(0);
  b.set_result(0);
  c.set_result(0);
  EXPECT_EQ(ra.result() + rb.result() + lc.result(), 7);
}

TYPED_TEST(Diagnostics, NothingIsRecordedWhileDisabled) {
  using S = TypeParam;
  diagnostics::disable();
  TaskCompletionSource<int> tcs;
  Task<int> root = S::root(tcs.task());
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
  EXPECT_NE(diagnostics::dump_async().find("disabled"), std::string::npos);
  // Enabled while suspended: the running chain is not known; it resumes and completes cleanly.
  diagnostics::enable();
  tcs.set_result(1);
  EXPECT_EQ(root.result(), 4);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

TYPED_TEST(Diagnostics, DeadlockErrorCarriesTheChainClosingTheCycle) {
  using S = TypeParam;
  duet::SingleThreadContext ui;
  duet::SyncContextScope scope(&ui);
  TaskCompletionSource<int> tcs;
  Task<int> root = S::root(tcs.task());
  std::thread([&] { tcs.set_result(1); }).join();  // Leaf's continuation is queued to the loop
  std::string message;
  try {
    (void)root.result();
    ADD_FAILURE() << "no deadlock detected";
  } catch (const duet::DeadlockError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("The await chain of the blocked task:\n1 chain, 3 suspended frames"),
            std::string::npos)
      << message;
  const std::vector<std::string> frames = frame_lines(message);
  ASSERT_EQ(frames.size(), 3u) << message;
  EXPECT_EQ(frames[0], expected_frame<S>(0, "Leaf", "duet::TaskCompletionSource<int>")) << message;
  EXPECT_EQ(frames[2], expected_frame<S>(2, "Root", "task of #1")) << message;
  ui.run_until(root);
  EXPECT_EQ(root.result(), 4);
}

// A pooled ValueTask method in a chain (method_styles.hpp's value_task<true>): its frame is
// recorded (a pooled box in the machine styles, a fiber in the fiber style) and the Task method
// awaiting it links to it.
TYPED_TEST(Diagnostics, APooledValueTaskFrameLinksIntoItsChain) {
  using G = typename TypeParam::Generic;
  const bool fiber = std::string(TypeParam::tag) == "[fiber]";
  TaskCompletionSource<int> tcs;
  auto vt = [&] {
    return G::template value_task<true>(nop, [&] { return tcs.task(); }, [](int v) { return v * 2; });
  };
  Task<int> outer = G::task(nop, vt, [](int v) { return v + 1; });
  const std::string dump = diagnostics::dump_async();
  const std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 2u) << dump;
  EXPECT_NE(dump.find("1 chain, 2 suspended frames"), std::string::npos) << dump;
  EXPECT_NE(frames[0].find(fiber ? "[fiber]" : "[pooled ValueTask]"), std::string::npos) << dump;
  EXPECT_NE(frames[0].find("awaits duet::TaskCompletionSource<int>"), std::string::npos) << dump;
  EXPECT_NE(frames[1].find(TypeParam::tag), std::string::npos) << dump;
  EXPECT_NE(frames[1].find("of #0"), std::string::npos) << dump;
  tcs.set_result(5);
  EXPECT_EQ(outer.result(), 11);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// A method suspended on a delay: the frame says so, with the deadline (ManualClock wheel ticks).
TYPED_TEST(Diagnostics, ADelayIsDescribedWithItsDeadline) {
  using G = typename TypeParam::Generic;
  duet::ManualClock clock;
  duet::testing::QueueScheduler queue;
  duet::TimerWheel wheel(clock, queue);
  Task<int> t = G::task(nop, [&] { return duet::delay(wheel, std::chrono::milliseconds(150)); },
                        [] { return 7; });
  const std::vector<std::string> frames = frame_lines(diagnostics::dump_async());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_NE(frames[0].find(std::string(TypeParam::tag)), std::string::npos) << frames[0];
  EXPECT_NE(frames[0].find("awaits delay (due at wheel tick 150 ms)"), std::string::npos) << frames[0];
  clock.advance(std::chrono::milliseconds(150));
  queue.drain();
  EXPECT_EQ(t.result(), 7);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// A method suspended on a channel read: described as one.
TYPED_TEST(Diagnostics, AChannelReadIsDescribedAsOne) {
  using G = typename TypeParam::Generic;
  auto ch = duet::Channel<int>::create_unbounded();
  Task<int> t = G::task(nop, [&] { return ch.reader().read_async(); }, [](int v) { return v; });
  const std::vector<std::string> frames = frame_lines(diagnostics::dump_async());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_NE(frames[0].find("awaits channel read_async"), std::string::npos) << frames[0];
  EXPECT_TRUE(ch.writer().try_write(3));
  EXPECT_EQ(t.result(), 3);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// A method awaiting when_all of two methods suspended on TCSs: each child's chain goes on up
// through a when_all link to the awaiting method (one chain per pending child); a child that
// completes leaves, its link with it.
TYPED_TEST(Diagnostics, ChildrenOfAWhenAllHangUnderTheMethodAwaitingIt) {
  using S = TypeParam;
  using G = typename S::Generic;
  TaskCompletionSource<int> a, b;
  Task<int> root = G::task(nop, [&] { return duet::when_all(S::leaf(a.task()), S::leaf(b.task())); },
                           [](std::tuple<int, int> r) { return std::get<0>(r) + std::get<1>(r); });
  ASSERT_FALSE(root.is_completed());
  EXPECT_EQ(diagnostics::suspended_count(), 3u) << "two leaves and the root; links are not frames";
  std::string dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("2 chains, 3 suspended frames"), std::string::npos) << dump;
  std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 6u) << "the chains differ by child index, so both are printed:\n" << dump;
  std::vector<std::string> links;
  for (std::size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(frames[3 * c], expected_frame<S>(0, "Leaf", "duet::TaskCompletionSource<int>")) << dump;
    links.push_back(frames[3 * c + 1]);
    EXPECT_EQ(frames[3 * c + 2].rfind(std::string("#2 ") + S::tag, 0), 0u) << dump;
    EXPECT_NE(frames[3 * c + 2].find("awaits when_all of #1"), std::string::npos) << dump;
  }
  std::sort(links.begin(), links.end());
  EXPECT_EQ(links, (std::vector<std::string>{"#1 [when_all] when_all (child 0) awaits task of #0",
                                             "#1 [when_all] when_all (child 1) awaits task of #0"}))
      << dump;
  a.set_result(1);  // the first child completes: its chain (and link) goes
  dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("1 chain, 2 suspended frames"), std::string::npos) << dump;
  frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 3u) << dump;
  EXPECT_EQ(frames[1], "#1 [when_all] when_all (child 1) awaits task of #0") << dump;
  b.set_result(2);
  EXPECT_EQ(root.result(), 5);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
  EXPECT_EQ(diagnostics::dump_async(), "no suspended methods\n");
}

// A method suspended in a socket receive: the frame names the operation and the peer it reads
// from (a real loopback pair on the epoll engine).
TYPED_TEST(Diagnostics, ASocketReceiveIsDescribedWithItsPeerEndpoint) {
  using G = typename TypeParam::Generic;
  nettest::Pair p = nettest::make_pair();
  std::array<std::byte, 8> buf{};
  Task<std::size_t> t = G::task(nop, [&] { return p.b.receive_async(buf); }, [](std::size_t n) { return n; });
  ASSERT_FALSE(t.is_completed());
  const std::string dump = diagnostics::dump_async();
  const std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 1u) << dump;
  EXPECT_NE(frames[0].find(TypeParam::tag), std::string::npos) << dump;
  const std::string peer = p.a.local_endpoint().to_string();  // 127.0.0.1:<the client's port>
  EXPECT_NE(frames[0].find("awaits socket receive from " + peer), std::string::npos)
      << "expected the peer " << peer << ":\n" << dump;
  ASSERT_EQ(p.a.send_async(nettest::bytes("hi")).result(), 2u);
  EXPECT_EQ(t.result(), 2u);
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// A method suspended in an accept: the frame names the listening endpoint.
TYPED_TEST(Diagnostics, ASocketAcceptIsDescribedWithItsListeningEndpoint) {
  using G = typename TypeParam::Generic;
  duet::net::TcpListener listener = nettest::make_listener();
  Task<bool> t = G::task(nop, [&] { return listener.accept_socket_async(); },
                         [](duet::net::Socket s) { return s.is_open(); });
  ASSERT_FALSE(t.is_completed());
  const std::vector<std::string> frames = frame_lines(diagnostics::dump_async());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_NE(frames[0].find("awaits socket accept on " + listener.local_endpoint().to_string()),
            std::string::npos)
      << frames[0];
  duet::net::Socket client(listener.local_endpoint().address_family());
  client.connect_async(listener.local_endpoint()).result();
  EXPECT_TRUE(t.result());
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// A consumer awaiting move_next_async while the iterator awaits a TCS: one chain, the iterator's
// frame (named, in its style, at its await) under the consumer's. Parked at its yield afterwards,
// the iterator is not recorded.
TYPED_TEST(Diagnostics, AConsumerAwaitingMoveNextLinksToTheIteratorSuspendedOnItsAwait) {
  using S = TypeParam;
  using G = typename S::Generic;
  TaskCompletionSource<> gate;
  duet::AsyncStream<int> s = S::gated(gate.task());
  duet::AsyncEnumerator<int> e = s.get_async_enumerator();
  Task<int> consumer = G::task(nop, [&] { return e.move_next_async(); },
                               [&](bool more) { return more ? e.current() : -1; });
  ASSERT_FALSE(consumer.is_completed());
  const std::string dump = diagnostics::dump_async();
  EXPECT_NE(dump.find("1 chain, 2 suspended frames"), std::string::npos) << dump;
  const std::vector<std::string> frames = frame_lines(dump);
  ASSERT_EQ(frames.size(), 2u) << dump;
  EXPECT_EQ(frames[0], expected_frame<S>(0, "Gated", "duet::TaskCompletionSource<void>")) << dump;
  EXPECT_EQ(frames[1].rfind(std::string("#1 ") + S::tag, 0), 0u) << dump;
  EXPECT_NE(frames[1].find("awaits move_next_async of #0"), std::string::npos) << dump;
  gate.set_result();
  EXPECT_EQ(consumer.result(), 1);
  EXPECT_EQ(diagnostics::suspended_count(), 0u) << "an iterator parked at its yield is not recorded:\n"
                                                 << diagnostics::dump_async();
  e.dispose_async().result();
  EXPECT_EQ(diagnostics::suspended_count(), 0u);
}

// The fiber's frame carries its own stack: the functions the fiber is suspended in, innermost
// first, captured on the fiber's stack (not the resumer's).
class FiberDiagnostics : public DiagnosticsOn {};

TEST_F(FiberDiagnostics, TheFiberFrameShowsFunctionsFromItsOwnStack) {
  TaskCompletionSource<int> tcs;
  Task<int> root = diag_styles::Fiber::root(tcs.task());
  const std::string dump = diagnostics::dump_async();
  // Three fiber frames, each with a stack naming the body it is suspended in.
  std::vector<std::string> ls = lines(dump);
  int frames = 0;
  int bodies_after_frame = 0;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].find("[fiber]") == std::string::npos) continue;
    ++frames;
    for (std::size_t k = i + 1; k < ls.size() && ls[k].rfind("       at ", 0) == 0; ++k) {
      if (ls[k].find("diag_fiber_body(int, duet::Task<int>)") != std::string::npos) {
        ++bodies_after_frame;
        break;
      }
    }
    // The test's own frame (this function) is on the resumer's stack, never on the fiber's.
    for (std::size_t k = i + 1; k < ls.size() && ls[k].rfind("       at ", 0) == 0; ++k) {
      EXPECT_EQ(ls[k].find("TheFiberFrameShowsFunctionsFromItsOwnStack"), std::string::npos) << dump;
    }
  }
  EXPECT_EQ(frames, 3) << dump;
  EXPECT_EQ(bodies_after_frame, 3) << dump;
  tcs.set_result(0);
  EXPECT_EQ(root.result(), 3);
}

}  // namespace
}  // namespace semantic
