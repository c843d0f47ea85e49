// tests/semantic/test_channel_methods.cpp — Channel<T> read and written by async methods, in
// every style: FIFO order, a reader suspended until a write, a bounded channel's four full modes
// and its backpressure, completion with and without an error, cancellation of a pending read and
// of a pending write (nothing lost, nothing written twice), the single_reader rule,
// read_all_async consumed as an async stream, the single-reader algorithm (order, count,
// completion, four writers and one reader), and the
// 4-producer / 4-consumer stress over bounded(64) (every item received exactly once).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::BoundedChannelFullMode;
using duet::CancellationTokenSource;
using duet::Channel;
using duet::ChannelClosedError;
using duet::Task;

template <class S>
class ChannelMethods : public duet::testing::DuetTest {
 protected:
  // reader(ch, n) — async Task<vector<int>> M() { var got = new List<int>();
  //   for (i < n) got.Add(await ch.Reader.ReadAsync(token)); return got; }
  static Task<std::vector<int>> reader(Channel<int>& ch, int n, duet::CancellationToken token = {}) {
    auto got = std::make_shared<std::vector<int>>();
    return S::loop(
        n, [r = ch.reader(), token](int) mutable { return r.read_async(token); },
        [got](int, int v) { got->push_back(v); }, [got] { return *got; });
  }
  // writer(ch, v) — async Task<int> M() { await ch.Writer.WriteAsync(v, token); return v; }
  static Task<int> writer(Channel<int>& ch, int v, duet::CancellationToken token = {}) {
    return S::task(nop, [w = ch.writer(), v, token]() mutable { return w.write_async(v, token); },
                   [v] { return v; });
  }
  // read_all(e, k) — collect<S>(e, k) over e = ch.Reader.ReadAllAsync().GetAsyncEnumerator(token).
  static Task<std::vector<int>> read_all(duet::AsyncEnumerator<int>& e, int k) { return collect<S>(e, k); }
  static std::vector<int> drain(Channel<int>& ch) {
    std::vector<int> out;
    while (auto v = ch.reader().try_read()) out.push_back(*v);
    return out;
  }
};
TYPED_TEST_SUITE(ChannelMethods, AllStyles, StyleName);

TYPED_TEST(ChannelMethods, UnboundedChannelDeliversInFifoOrder) {
  auto ch = Channel<int>::create_unbounded();
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(ch.writer().try_write(i));
  Task<std::vector<int>> t = this->reader(ch, 5);
  ASSERT_TRUE(t.is_completed()) << "buffered items are read without suspending";
  EXPECT_EQ(t.result(), (std::vector<int>{1, 2, 3, 4, 5}));
}

TYPED_TEST(ChannelMethods, ReaderSuspendsUntilAWriteAndReadersAreServedInOrder) {
  auto ch = Channel<int>::create_unbounded();
  Task<std::vector<int>> first = this->reader(ch, 1);
  Task<std::vector<int>> second = this->reader(ch, 1);
  EXPECT_FALSE(first.is_completed());
  EXPECT_EQ(ch.reader().count(), 0u);
  ch.writer().try_write(10);
  EXPECT_EQ(first.result(), std::vector<int>{10}) << "the oldest blocked reader gets the first item";
  EXPECT_FALSE(second.is_completed());
  ch.writer().try_write(20);
  EXPECT_EQ(second.result(), std::vector<int>{20});
  EXPECT_EQ(ch.reader().count(), 0u) << "handed straight to the reader, never buffered";
}

TYPED_TEST(ChannelMethods, BoundedWaitModeAppliesBackpressureToWriters) {
  auto ch = Channel<int>::create_bounded(2);
  EXPECT_TRUE(ch.writer().try_write(1));
  EXPECT_TRUE(ch.writer().try_write(2));
  EXPECT_FALSE(ch.writer().try_write(3)) << "full: try_write refuses";
  Task<int> w3 = this->writer(ch, 3);
  Task<int> w4 = this->writer(ch, 4);
  EXPECT_FALSE(w3.is_completed());
  EXPECT_FALSE(w4.is_completed());
  EXPECT_EQ(ch.reader().try_read(), 1);
  EXPECT_EQ(w3.result(), 3) << "a read makes room for the oldest blocked writer";
  EXPECT_FALSE(w4.is_completed());
  EXPECT_EQ(this->reader(ch, 3).result(), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(w4.result(), 4);
}

TYPED_TEST(ChannelMethods, BoundedFullModesDropAsDotNetDoes) {
  struct Case {
    BoundedChannelFullMode mode;
    std::vector<int> expect;
  };
  for (const Case& c : {Case{BoundedChannelFullMode::drop_newest, {1, 2, 4}},
                        Case{BoundedChannelFullMode::drop_oldest, {2, 3, 4}},
                        Case{BoundedChannelFullMode::drop_write, {1, 2, 3}}}) {
    auto ch = Channel<int>::create_bounded(3, c.mode);
    for (int i = 1; i <= 3; ++i) EXPECT_TRUE(ch.writer().try_write(i));
    Task<int> w = this->writer(ch, 4);
    ASSERT_TRUE(w.is_completed()) << "a drop mode never waits";
    EXPECT_EQ(w.result(), 4);
    EXPECT_TRUE(ch.writer().wait_to_write_async().result()) << "a drop-mode channel always has room";
    EXPECT_EQ(this->reader(ch, 3).result(), c.expect) << static_cast<int>(c.mode);
  }
}

TYPED_TEST(ChannelMethods, CompletionWithoutErrorDrainsThenCloses) {
  auto ch = Channel<int>::create_unbounded();
  ch.writer().try_write(1);
  ch.writer().complete();
  EXPECT_FALSE(ch.writer().try_write(2));
  EXPECT_THROW(ch.writer().complete(), ChannelClosedError);
  EXPECT_FALSE(ch.reader().completion().is_completed()) << "an item is still buffered";
  EXPECT_EQ(this->reader(ch, 1).result(), std::vector<int>{1});
  EXPECT_TRUE(ch.reader().completion().is_completed_successfully());
  // async Task<bool> M() { return await ch.Reader.WaitToReadAsync(); }
  Task<bool> more = TypeParam::task(nop, [&] { return ch.reader().wait_to_read_async(); },
                                    [](bool b) { return b; });
  EXPECT_FALSE(more.result());
  Task<std::vector<int>> past_end = this->reader(ch, 1);
  EXPECT_THROW(past_end.result(), ChannelClosedError);
}

TYPED_TEST(ChannelMethods, CompletionWithAnErrorFailsPendingReadersAndTheCompletion) {
  auto ch = Channel<int>::create_unbounded();
  Task<std::vector<int>> pending = this->reader(ch, 1);
  Task<bool> waiting = TypeParam::task(nop, [&] { return ch.reader().wait_to_read_async(); },
                                       [](bool b) { return b; });
  ch.writer().complete(std::make_exception_ptr(std::runtime_error("producer failed")));
  try {
    (void)pending.result();
    ADD_FAILURE() << "expected ChannelClosedError";
  } catch (const ChannelClosedError& e) {
    ASSERT_TRUE(e.inner());
    EXPECT_THROW(std::rethrow_exception(e.inner()), std::runtime_error);
  }
  EXPECT_THROW((void)waiting.result(), std::runtime_error) << "wait_to_read rethrows the error itself";
  EXPECT_TRUE(ch.reader().completion().is_faulted());
  EXPECT_THROW(ch.reader().completion().wait(), std::runtime_error);
}

TYPED_TEST(ChannelMethods, CompletionWithACancellationEndsTheCompletionCanceled) {
  auto ch = Channel<int>::create_unbounded();
  ch.writer().complete(std::make_exception_ptr(duet::OperationCanceledError()));
  EXPECT_TRUE(ch.reader().completion().is_canceled());
  EXPECT_THROW((void)this->reader(ch, 1).result(), duet::OperationCanceledError);
}

TYPED_TEST(ChannelMethods, CompletingFailsBlockedWriters) {
  auto ch = Channel<int>::create_bounded(1);
  ch.writer().try_write(1);
  Task<int> blocked = this->writer(ch, 2);
  ch.writer().complete();
  EXPECT_THROW((void)blocked.result(), ChannelClosedError);
  EXPECT_EQ(this->drain(ch), std::vector<int>{1}) << "the blocked write was not written";
}

TYPED_TEST(ChannelMethods, CanceledPendingReadLosesNoItem) {
  auto ch = Channel<int>::create_unbounded();
  CancellationTokenSource cts;
  Task<std::vector<int>> canceled = this->reader(ch, 1, cts.token());
  Task<std::vector<int>> next = this->reader(ch, 1);
  cts.cancel();
  EXPECT_THROW((void)canceled.result(), duet::OperationCanceledError);
  EXPECT_TRUE(canceled.is_canceled());
  ch.writer().try_write(7);
  EXPECT_EQ(next.result(), std::vector<int>{7}) << "the canceled reader left the queue";
  ch.writer().try_write(8);
  EXPECT_EQ(this->drain(ch), std::vector<int>{8});
}

TYPED_TEST(ChannelMethods, CanceledPendingWriteWritesNothing) {
  auto ch = Channel<int>::create_bounded(1);
  ch.writer().try_write(1);
  CancellationTokenSource cts;
  Task<int> canceled = this->writer(ch, 2, cts.token());
  Task<int> next = this->writer(ch, 3);
  cts.cancel();
  EXPECT_THROW(canceled.wait(), duet::OperationCanceledError);  // its continuation is posted
  EXPECT_TRUE(canceled.is_canceled());
  EXPECT_EQ(ch.reader().try_read(), 1);
  EXPECT_EQ(next.result(), 3);
  EXPECT_EQ(this->drain(ch), std::vector<int>{3}) << "the canceled write's item never entered";
  EXPECT_THROW((void)this->writer(ch, 4, duet::CancellationToken::canceled()).result(),
               duet::OperationCanceledError);
  EXPECT_EQ(ch.reader().count(), 0u);
}

TYPED_TEST(ChannelMethods, SingleReaderRejectsASecondConcurrentRead) {
  duet::ChannelOptions o;
  o.single_reader = true;
  auto ch = Channel<int>::create_unbounded(o);
  Task<std::vector<int>> first = this->reader(ch, 1);
  Task<std::vector<int>> second = this->reader(ch, 1);
  try {
    (void)second.result();
    ADD_FAILURE() << "expected InvalidOperationError";
  } catch (const duet::InvalidOperationError& e) {
    EXPECT_NE(std::string(e.what()).find("single_reader"), std::string::npos) << e.what();
  }
  ch.writer().try_write(5);
  EXPECT_EQ(first.result(), std::vector<int>{5});
}

TYPED_TEST(ChannelMethods, WaitToWriteWaitsForRoom) {
  auto ch = Channel<int>::create_bounded(1);
  ch.writer().try_write(1);
  Task<bool> room = TypeParam::task(nop, [&] { return ch.writer().wait_to_write_async(); },
                                    [](bool b) { return b; });
  EXPECT_FALSE(room.is_completed());
  (void)ch.reader().try_read();
  EXPECT_TRUE(room.result());
  ch.writer().try_write(2);
  Task<bool> closed = TypeParam::task(nop, [&] { return ch.writer().wait_to_write_async(); },
                                      [](bool b) { return b; });
  ch.writer().complete();
  EXPECT_FALSE(closed.result());
}

// The stress: 4 producer methods and 4 consumer methods, each on the pool, over bounded(64).
// DUET_CHANNEL_STRESS_ITEMS sets the total (default 1M: well under a second per style in a
// debugoptimized build; the `long` suite's channel_stress_10M runs it with 10000000).
TYPED_TEST(ChannelMethods, ReadAllAsyncYieldsEveryItemUntilCompletedAndDrained) {
  auto ch = Channel<int>::create_unbounded();
  ch.writer().try_write(1);
  ch.writer().try_write(2);
  duet::AsyncStream<int> all = ch.reader().read_all_async();
  auto e = all.get_async_enumerator();
  Task<std::vector<int>> t = this->read_all(e, 5);
  EXPECT_FALSE(t.is_completed()) << "two buffered items read, the third move_next_async waits";
  ch.writer().try_write(3);
  ch.writer().try_write(4);
  ch.writer().complete();
  EXPECT_EQ(t.result(), (std::vector<int>{1, 2, 3, 4})) << "the fifth move_next_async is false";
  EXPECT_FALSE(e.move_next_async().result());
  EXPECT_EQ(ch.reader().count(), 0u);
  EXPECT_TRUE(ch.reader().completion().is_completed());
}

TYPED_TEST(ChannelMethods, ReadAllAsyncEndsWithTheCompletionError) {
  auto ch = Channel<int>::create_unbounded();
  ch.writer().try_write(7);
  auto e = ch.reader().read_all_async().get_async_enumerator();
  Task<std::vector<int>> t = this->read_all(e, 3);
  ch.writer().complete(std::make_exception_ptr(std::runtime_error("producer broke")));
  EXPECT_THROW((void)t.result(), std::runtime_error) << "the item first, then the error: "
                                                        "WaitToReadAsync throws it";
}

TYPED_TEST(ChannelMethods, ReadAllAsyncTokenCancelsAPendingMoveNextAndLosesNoItem) {
  auto ch = Channel<int>::create_unbounded();
  CancellationTokenSource outer, inner;
  auto e = ch.reader().read_all_async(outer.token()).get_async_enumerator(inner.token());
  Task<std::vector<int>> t = this->read_all(e, 1);
  EXPECT_FALSE(t.is_completed());
  inner.cancel();  // either token cancels: they are linked
  EXPECT_THROW((void)t.result(), duet::OperationCanceledError);
  EXPECT_TRUE(t.is_canceled());
  ch.writer().try_write(9);
  EXPECT_EQ(ch.reader().try_read(), std::optional<int>(9)) << "the canceled read took nothing";

  auto e2 = ch.reader().read_all_async(outer.token()).get_async_enumerator();
  Task<std::vector<int>> t2 = this->read_all(e2, 1);
  outer.cancel();
  EXPECT_THROW((void)t2.result(), duet::OperationCanceledError);
}

TYPED_TEST(ChannelMethods, ReadAllAsyncEarlyDisposeLeavesTheRestInTheChannel) {
  auto ch = Channel<int>::create_unbounded();
  for (int i = 1; i <= 4; ++i) ch.writer().try_write(i);
  {
    auto e = ch.reader().read_all_async().get_async_enumerator();
    EXPECT_EQ(this->read_all(e, 2).result(), (std::vector<int>{1, 2}));
    EXPECT_TRUE(e.dispose_async().get_awaiter().is_completed());
  }
  EXPECT_EQ(ch.reader().count(), 2u) << "an enumerator reads only what its move_next_async asks for";
  std::vector<int> got;
  ch.writer().complete();
  duet::for_each_async(ch.reader().read_all_async(), [&](int& v) { got.push_back(v); }).wait();
  EXPECT_EQ(got, (std::vector<int>{3, 4}));
}

TYPED_TEST(ChannelMethods, SingleReaderAlgorithmKeepsFifoOrderAndCountAcrossBatches) {
  duet::ChannelOptions o;
  o.single_reader = true;
  auto ch = Channel<int>::create_unbounded(o);
  for (int i = 1; i <= 3; ++i) ch.writer().try_write(i);
  EXPECT_EQ(this->reader(ch, 2).result(), (std::vector<int>{1, 2}));
  EXPECT_EQ(ch.reader().count(), 1u) << "one item left in the reader's batch";
  ch.writer().try_write(4);
  ch.writer().try_write(5);
  EXPECT_EQ(ch.reader().count(), 3u) << "the batch's item and the two buffered since";
  Task<std::vector<int>> t = this->reader(ch, 4);
  EXPECT_FALSE(t.is_completed()) << "three read, the fourth read waits";
  ch.writer().try_write(6);
  EXPECT_EQ(t.result(), (std::vector<int>{3, 4, 5, 6}));
  EXPECT_EQ(ch.reader().count(), 0u);
}

TYPED_TEST(ChannelMethods, SingleReaderAlgorithmCompletesOnlyOnceTheReadersBatchIsDrained) {
  duet::ChannelOptions o;
  o.single_reader = true;
  auto ch = Channel<int>::create_unbounded(o);
  ch.writer().try_write(1);
  ch.writer().try_write(2);
  EXPECT_EQ(this->reader(ch, 1).result(), std::vector<int>{1});  // 2 waits in the reader's batch
  ch.writer().complete();
  EXPECT_FALSE(ch.reader().completion().is_completed()) << "an item is still unread";
  EXPECT_EQ(this->reader(ch, 1).result(), std::vector<int>{2});
  ch.reader().completion().wait();
  EXPECT_THROW((void)this->reader(ch, 1).result(), ChannelClosedError);
}

TYPED_TEST(ChannelMethods, SingleReaderAlgorithmFourWritersOneReaderMoveEveryItemOnceInWriterOrder) {
  duet::ChannelOptions o;
  o.single_reader = true;
  auto ch = Channel<int>::create_unbounded(o);
  constexpr int per = 50000;
  std::vector<std::thread> writers;
  for (int p = 0; p < 4; ++p) {
    writers.emplace_back([w = ch.writer(), p]() mutable {
      for (int i = 0; i < per; ++i) w.try_write(p * per + i);
    });
  }
  Task<std::vector<int>> t = this->reader(ch, 4 * per);
  for (auto& w : writers) w.join();
  const std::vector<int> got = t.result();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(4 * per));
  std::vector<int> next(4, 0);  // each writer's items arrive in the order it wrote them
  for (int v : got) {
    const int p = v / per;
    ASSERT_EQ(v % per, next[static_cast<std::size_t>(p)]) << "writer " << p << " out of order or repeated";
    ++next[static_cast<std::size_t>(p)];
  }
  EXPECT_EQ(next, std::vector<int>(4, per)) << "every item exactly once";
  EXPECT_EQ(ch.reader().count(), 0u);
}

TYPED_TEST(ChannelMethods, FourProducersFourConsumersOverBounded64MoveEveryItemExactlyOnce) {
  long long total = 1000000;
  if (const char* env = std::getenv("DUET_CHANNEL_STRESS_ITEMS")) total = std::atoll(env);
  const int per = static_cast<int>(total / 4);
  total = static_cast<long long>(per) * 4;
  auto ch = Channel<int>::create_bounded(64);
  std::unique_ptr<std::atomic<unsigned char>[]> seen(new std::atomic<unsigned char>[static_cast<std::size_t>(total)]());
  std::atomic<long long> sum{0};
  std::vector<Task<int>> tasks;
  for (int p = 0; p < 4; ++p) {
    tasks.push_back(duet::run([&, p] {
      return TypeParam::loop(
          per, [w = ch.writer(), p, per](int i) mutable { return w.write_async(p * per + i); }, [](int) {},
          [] { return 0; });
    }));
  }
  for (int c = 0; c < 4; ++c) {
    tasks.push_back(duet::run([&] {
      return TypeParam::loop(
          per, [r = ch.reader()](int) mutable { return r.read_async(); },
          [&](int, int v) {
            seen[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
            sum.fetch_add(v, std::memory_order_relaxed);
          },
          [] { return 1; });
    }));
  }
  for (auto& t : tasks) (void)t.result();
  long long missing = 0, twice = 0;
  for (long long i = 0; i < total; ++i) {
    const int n = seen[static_cast<std::size_t>(i)].load();
    missing += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(sum.load(), total * (total - 1) / 2);
  EXPECT_EQ(ch.reader().count(), 0u);
}

}  // namespace
}  // namespace semantic
