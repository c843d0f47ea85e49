// tests/semantic/test_stream_methods.cpp — async streams, produced and consumed in every style:
// the same iterator (C# below) written as a hand-written Roslyn-shaped iterator (explicit), with
// DUET_YIELD_RETURN (dsl) and as a fiber generator (fiber), consumed by a loop over
// move_next_async() written in the same style, and by for_each_async (with a synchronous body,
// and with an async body written in the same style):
//
//   async IAsyncEnumerable<int> Numbers(int n, Func<int, Task> between, Log log,
//                                       [EnumeratorCancellation] CancellationToken token) {
//     log("start");
//     try {
//       for (int i = 0; i < n; ++i) {
//         await between(i);
//         token.ThrowIfCancellationRequested();
//         if (i == failAt) throw new InvalidOperationException("producer failed");
//         yield return i;
//       }
//     } finally { log("finally"); }
//     log("end");
//   }
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::AsyncStream;
using duet::Task;
using Between = std::function<Task<>(int)>;
using Log = duet::testing::EventLog;

struct NumbersArgs {
  int n = 3;
  Between between = [](int) { return duet::completed_task(); };
  Log* log = nullptr;
  int fail_at = -1;
};

[[noreturn]] inline void producer_failed() { throw std::logic_error("producer failed"); }

// ---- explicit: the iterator Roslyn would generate, by hand --------------------------------------
struct NumbersExplicit : duet::AsyncIterator<NumbersExplicit, int> {
  NumbersArgs a_;
  int i_ = 0;
  std::optional<duet::TaskAwaiter<void>> awaiter1_;  // <>u__1
  std::exception_ptr pending_;                      // the exception parked for the finally block
  explicit NumbersExplicit(NumbersArgs a) : a_(std::move(a)) {}

  void move_next() {
    try {
      if (state_ == -1) a_.log->add("start");
      try {
        switch (state_) {  // the try block's own dispatch (C++ cannot jump into a try block)
          case 0:
            goto resume0;
          case 1:
            goto resume1;
          default:
            break;
        }
        for (i_ = 0; i_ < a_.n; ++i_) {
          awaiter1_.emplace(a_.between(i_).get_awaiter());
          if (!awaiter1_->is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(*awaiter1_, *this);
            return;
          }
        resume0:
          state_ = -1;
          awaiter1_->get_result();
          awaiter1_.reset();
          token().throw_if_cancellation_requested();
          if (i_ == a_.fail_at) producer_failed();
          state_ = 1;  // yield return i;
          yield_return(i_);
          return;
        resume1:
          state_ = -1;
          if (dispose_mode()) break;  // disposed at this yield: leave through the finally block
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      a_.log->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (!dispose_mode()) a_.log->add("end");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

// ---- dsl ------------------------------------------------------------------------------------------
struct NumbersDsl : duet::AsyncIterator<NumbersDsl, int> {
  NumbersArgs a_;
  int i_ = 0;
  explicit NumbersDsl(NumbersArgs a) : a_(std::move(a)) {}
  void move_next() {
    DUET_BEGIN
      a_.log->add("start");
      DUET_TRY
        for (i_ = 0; i_ < a_.n; ++i_) {
          DUET_AWAIT(a_.between(i_));
          token().throw_if_cancellation_requested();
          if (i_ == a_.fail_at) producer_failed();
          DUET_YIELD_RETURN(i_);
        }
      DUET_FINALLY
        a_.log->add("finally");
      DUET_END_TRY
      a_.log->add("end");
    DUET_END
  }
};

template <class S>
struct Producer;
template <>
struct Producer<Explicit> {
  static AsyncStream<int> numbers(NumbersArgs a) { return duet::make_async_stream<NumbersExplicit>(std::move(a)); }
};
template <>
struct Producer<Dsl> {
  static AsyncStream<int> numbers(NumbersArgs a) { return duet::make_async_stream<NumbersDsl>(std::move(a)); }
};
template <>
struct Producer<Fiber> {
  static AsyncStream<int> numbers(NumbersArgs a) {
    return duet::fiber::async_stream<int>([a](duet::fiber::StreamYield<int>& yield) {
      a.log->add("start");
      try {
        for (int i = 0; i < a.n; ++i) {
          duet::await(a.between(i));
          yield.token().throw_if_cancellation_requested();
          if (i == a.fail_at) producer_failed();
          yield(i);
        }
      } catch (...) {
        a.log->add("finally");
        throw;
      }
      a.log->add("finally");
      a.log->add("end");
    });
  }
};

template <class S>
class StreamMethods : public duet::testing::DuetTest {
 protected:
  // consume(e, k) — collect<S>(e, k): a loop over e.MoveNextAsync() in this style.
  static Task<std::vector<int>> consume(duet::AsyncEnumerator<int>& e, int k) { return collect<S>(e, k); }
  // dispose(e) — async Task<int> M() { await e.DisposeAsync(); return 0; }
  static Task<int> dispose(duet::AsyncEnumerator<int>& e) {
    return S::task(nop, [&e] { return e.dispose_async(); }, [] { return 0; });
  }
  NumbersArgs args(int n = 3) {
    NumbersArgs a;
    a.n = n;
    a.log = &log_;
    return a;
  }
  Log log_;
};
TYPED_TEST_SUITE(StreamMethods, AllStyles, StyleName);

TYPED_TEST(StreamMethods, EnumeratesEveryItemInOrderThenTheFinallyAndTheEnd) {
  auto s = Producer<TypeParam>::numbers(this->args(3));
  auto e = s.get_async_enumerator();
  Task<std::vector<int>> t = this->consume(e, 4);
  ASSERT_TRUE(t.is_completed()) << "nothing awaited between the yields: every move_next was synchronous";
  EXPECT_EQ(t.result(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally", "end"}));
  EXPECT_FALSE(e.move_next_async().result()) << "false again after the end";
  EXPECT_EQ(this->dispose(e).result(), 0);
  EXPECT_EQ(this->log_.events().size(), 3u);
}

TYPED_TEST(StreamMethods, TheProducerMayAwaitBetweenYields) {
  std::vector<duet::TaskCompletionSource<>> gates(3);
  NumbersArgs a = this->args(3);
  a.between = [&gates](int i) { return gates[static_cast<std::size_t>(i)].task(); };
  auto s = Producer<TypeParam>::numbers(a);
  auto e = s.get_async_enumerator();
  Task<std::vector<int>> t = this->consume(e, 4);
  EXPECT_FALSE(t.is_completed());
  gates[0].set_result();
  gates[1].set_result();
  EXPECT_FALSE(t.is_completed());
  gates[2].set_result();
  EXPECT_EQ(t.result(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally", "end"}));
}

TYPED_TEST(StreamMethods, EarlyDisposeRunsTheFinallyExactlyOnce) {
  auto s = Producer<TypeParam>::numbers(this->args(5));
  auto e = s.get_async_enumerator();
  EXPECT_EQ(this->consume(e, 2).result(), (std::vector<int>{0, 1}));
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start"}));
  EXPECT_EQ(this->dispose(e).result(), 0);
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}))
      << "the finally ran on dispose, and the code after it did not";
  EXPECT_EQ(this->dispose(e).result(), 0);
  EXPECT_FALSE(e.move_next_async().result());
  EXPECT_EQ(this->log_.events().size(), 2u) << "exactly once";
}

TYPED_TEST(StreamMethods, DroppingTheEnumeratorAtAYieldDisposesIt) {
  auto s = Producer<TypeParam>::numbers(this->args(5));
  {
    auto e = s.get_async_enumerator();
    EXPECT_EQ(this->consume(e, 1).result(), std::vector<int>{0});
  }
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}));
}

TYPED_TEST(StreamMethods, EachEnumerationRunsTheProducerAfresh) {
  auto s = Producer<TypeParam>::numbers(this->args(2));
  auto e1 = s.get_async_enumerator();
  auto e2 = s.get_async_enumerator();
  EXPECT_EQ(this->consume(e1, 3).result(), (std::vector<int>{0, 1}));
  EXPECT_EQ(this->consume(e2, 3).result(), (std::vector<int>{0, 1}));
}

TYPED_TEST(StreamMethods, ProducerExceptionReachesTheConsumerAfterTheFinally) {
  NumbersArgs a = this->args(5);
  a.fail_at = 1;
  auto s = Producer<TypeParam>::numbers(a);
  auto e = s.get_async_enumerator();
  Task<std::vector<int>> t = this->consume(e, 3);
  EXPECT_THROW((void)t.result(), std::logic_error);
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}));
}

TYPED_TEST(StreamMethods, TokenPassedToGetAsyncEnumeratorCancelsTheProducer) {
  duet::TaskCompletionSource<> gate;
  NumbersArgs a = this->args(3);
  a.between = [&gate](int i) { return i == 1 ? gate.task() : duet::completed_task(); };
  auto s = Producer<TypeParam>::numbers(a);
  duet::CancellationTokenSource cts;
  auto e = s.get_async_enumerator(cts.token());
  Task<std::vector<int>> t = this->consume(e, 3);
  EXPECT_FALSE(t.is_completed());
  cts.cancel();
  gate.set_result();
  EXPECT_THROW((void)t.result(), duet::OperationCanceledError);
  EXPECT_TRUE(t.is_canceled());
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}));
}

TYPED_TEST(StreamMethods, ForEachAsyncVisitsEveryItemAndDisposes) {
  auto s = Producer<TypeParam>::numbers(this->args(4));
  std::vector<int> got;
  Task<> t = duet::for_each_async(s, [&](int& v) { got.push_back(v); });
  t.wait();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally", "end"}));
}

TYPED_TEST(StreamMethods, ForEachAsyncBodyThrowingDisposesTheProducerAndFaults) {
  auto s = Producer<TypeParam>::numbers(this->args(4));
  Task<> t = duet::for_each_async(s, [&](int& v) {
    if (v == 1) throw std::runtime_error("body failed");
  });
  EXPECT_THROW(t.wait(), std::runtime_error);
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}));
}

TYPED_TEST(StreamMethods, ForEachAsyncAwaitsAnAsyncBodyBeforeTheNextItem) {
  // await foreach (var v in s) await Body(v);  with  async Task<int> Body(int v) { await gate[v]; log(v); return v; }
  auto s = Producer<TypeParam>::numbers(this->args(3));
  std::vector<duet::TaskCompletionSource<>> gates(3);
  Task<> t = duet::for_each_async(s, [&](int& v) {
    const int item = v;
    return TypeParam::task(
        nop, [&gates, item] { return gates[static_cast<std::size_t>(item)].task(); },
        [this, item] {
          this->log_.add("body " + std::to_string(item));
          return item;
        });
  });
  EXPECT_FALSE(t.is_completed());
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start"}))
      << "the second item is not asked for while the first body is pending";
  gates[1].set_result();
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start"})) << "item 1's body has not started";
  gates[0].set_result();
  gates[2].set_result();
  t.wait();
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "body 0", "body 1", "body 2", "finally", "end"}));
}

TYPED_TEST(StreamMethods, ForEachAsyncAsyncBodyFaultingDisposesTheProducerAndFaults) {
  auto s = Producer<TypeParam>::numbers(this->args(4));
  duet::TaskCompletionSource<> gate;
  int bodies = 0;
  Task<> t = duet::for_each_async(s, [&](int& v) {
    ++bodies;
    const int item = v;
    return TypeParam::task(
        nop, [&gate] { return gate.task(); },
        [item] {
          if (item == 1) throw std::runtime_error("async body failed");
          return item;
        });
  });
  EXPECT_FALSE(t.is_completed());
  gate.set_result();
  EXPECT_THROW(t.wait(), std::runtime_error);
  EXPECT_EQ(bodies, 2) << "no body after the failing one";
  EXPECT_EQ(this->log_.events(), (std::vector<std::string>{"start", "finally"}));
}

TYPED_TEST(StreamMethods, MoveNextWhileOneIsPendingIsRejected) {
  duet::TaskCompletionSource<> gate;
  NumbersArgs a = this->args(2);
  a.between = [&gate](int) { return gate.task(); };
  auto s = Producer<TypeParam>::numbers(a);
  auto e = s.get_async_enumerator();
  duet::ValueTask<bool> first = e.move_next_async();
  EXPECT_THROW((void)e.move_next_async(), duet::InvalidOperationError);
  EXPECT_THROW((void)e.dispose_async(), duet::InvalidOperationError);
  gate.set_result();
  EXPECT_TRUE(first.result());
  EXPECT_EQ(e.current(), 0);
  EXPECT_EQ(this->dispose(e).result(), 0);
}

// The producer resumes on pool threads (each `between` completes there) while this thread consumes
// and drops the enumerator at every point: at a yield, after the end, and with a move_next_async
// still pending (the orphan is then disposed by the producer's own thread). Under many seeds the
// producer's finally runs exactly once per enumeration, the consumer sees a prefix of 0..n-1, and
// nothing is touched after it is freed (ASan and TSan run this suite).
TYPED_TEST(StreamMethods, CrossThreadProducerAndAConsumerDroppingTheEnumeratorAnywhereLoseNothing) {
  constexpr int kSeeds = 300;
  std::uint32_t rng = 12345;
  auto next = [&rng](std::uint32_t bound) {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % bound;
  };
  for (int seed = 0; seed < kSeeds; ++seed) {
    Log log;
    NumbersArgs a;
    a.n = 1 + static_cast<int>(next(4));
    a.log = &log;
    a.between = [](int) { return duet::run([] {}); };
    auto s = Producer<TypeParam>::numbers(a);
    const int take = static_cast<int>(next(static_cast<std::uint32_t>(a.n + 2)));
    const bool leave_pending = next(2) == 0;
    std::vector<int> got;
    {
      auto e = s.get_async_enumerator();
      got = this->consume(e, take).result();
      if (leave_pending) (void)e.move_next_async();  // dropped below with this one in flight
    }
    std::vector<int> expected;
    for (int i = 0; i < std::min(take, a.n); ++i) expected.push_back(i);
    EXPECT_EQ(got, expected) << "seed " << seed;
    const bool started = take > 0 || leave_pending;
    auto finallies = [&log] {
      const auto ev = log.events();
      return std::count(ev.begin(), ev.end(), std::string("finally"));
    };
    for (int round = 0; started && finallies() == 0 && round < 10000; ++round) {
      duet::testing::drain_default_pool();  // bounded: an orphan's dispose runs on the pool
    }
    duet::testing::drain_default_pool();
    EXPECT_EQ(finallies(), started ? 1 : 0) << "seed " << seed << " take " << take << " of " << a.n;
  }
}

}  // namespace
}  // namespace semantic
