// tests/coord/test_coord_alloc.cpp — the allocation promises of the coordination types, counted
// with alloc_counter: an uncontended SemaphoreSlim wait_async + release allocates nothing; a
// channel read_async allocates nothing when an item is ready, and nothing in steady state when
// it must wait (its pooled operation is recycled); a PeriodicTimer wait allocates nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>

#include <duet/duet.hpp>

#include "alloc_counter.hpp"
#include "duet_fixture.hpp"

using namespace std::chrono_literals;

namespace {

using duet::testing::AllocScope;

class CoordAlloc : public duet::testing::DuetTest {};

TEST_F(CoordAlloc, UncontendedSemaphoreWaitAndReleaseAllocateNothing) {
  duet::SemaphoreSlim sem(1);
  (void)sem.wait_async().result();  // warm-up: the cached tasks exist
  sem.release();
  AllocScope scope;
  for (int i = 0; i < 1000; ++i) {
    duet::Task<bool> t = sem.wait_async();
    ASSERT_TRUE(t.is_completed_successfully());
    sem.release();
  }
  EXPECT_EQ(scope.allocations(), 0u);
}

TEST_F(CoordAlloc, ChannelReadOfAReadyItemAllocatesNothing) {
  auto ch = duet::Channel<int>::create_unbounded();
  for (int i = 0; i < 64; ++i) ch.writer().try_write(i);  // the ring has grown
  for (int i = 0; i < 64; ++i) (void)ch.reader().try_read();
  AllocScope scope;
  for (int i = 0; i < 1000; ++i) {
    ch.writer().try_write(i);
    duet::ValueTask<int> v = ch.reader().read_async();
    ASSERT_EQ(v.kind(), duet::ValueTask<int>::Kind::value);
    EXPECT_EQ(v.result(), i);
  }
  EXPECT_EQ(scope.allocations(), 0u);
}

TEST_F(CoordAlloc, ChannelPendingReadAllocatesNothingInSteadyState) {
  auto ch = duet::Channel<int>::create_unbounded();
  auto once = [&](int i) {
    duet::ValueTask<int> v = ch.reader().read_async();
    EXPECT_EQ(v.kind(), duet::ValueTask<int>::Kind::source);
    ch.writer().try_write(i);
    EXPECT_EQ(v.result(), i);
  };
  once(-1);  // warm-up: the first pending read allocates its operation
  AllocScope scope;
  for (int i = 0; i < 1000; ++i) once(i);
  EXPECT_EQ(scope.allocations(), 0u) << "the read operation is recycled";
}

TEST_F(CoordAlloc, BoundedChannelPendingWriteAllocatesNothingInSteadyState) {
  auto ch = duet::Channel<int>::create_bounded(1);
  ch.writer().try_write(0);
  auto once = [&](int i) {
    duet::ValueTask<void> w = ch.writer().write_async(i);
    EXPECT_EQ(w.kind(), duet::ValueTask<void>::Kind::source);
    (void)ch.reader().try_read();
    w.result();
  };
  once(1);
  AllocScope scope;
  for (int i = 0; i < 1000; ++i) once(i);
  EXPECT_EQ(scope.allocations(), 0u);
}

// IntrusiveQueue — a Scheduler that links posted continuations through their own `next` field,
// so draining it allocates nothing (QueueScheduler's deque allocates blocks now and then).
class IntrusiveQueue final : public duet::Scheduler {
 public:
  void post(duet::Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    c.next = nullptr;
    *tail_ = &c;
    tail_ = &c.next;
  }
  void drain() {
    for (;;) {
      duet::Continuation* c;
      {
        std::lock_guard<std::mutex> lk(mutex_);
        c = head_;
        if (!c) return;
        head_ = c->next;
        if (!head_) tail_ = &head_;
      }
      duet::run_continuation(c);
    }
  }

 private:
  std::mutex mutex_;
  duet::Continuation* head_ = nullptr;
  duet::Continuation** tail_ = &head_;
};

TEST_F(CoordAlloc, PeriodicTimerWaitAllocatesNothing) {
  duet::ManualClock clock;
  IntrusiveQueue queue;
  duet::TimerWheel wheel(clock, queue);
  duet::PeriodicTimer timer(10ms, wheel);
  auto once = [&] {
    duet::ValueTask<bool> v = timer.wait_for_next_tick_async();
    clock.advance(10ms);
    queue.drain();
    EXPECT_TRUE(v.result());
  };
  once();
  AllocScope scope;
  for (int i = 0; i < 100; ++i) once();
  EXPECT_EQ(scope.allocations(), 0u);
}

}  // namespace
