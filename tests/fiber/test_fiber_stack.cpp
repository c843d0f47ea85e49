// test_fiber_stack.cpp — stack overflow into the guard page is reported clearly (death test), and
// the default stack size has measured headroom over what fibers here actually use.
//
// meson runs this binary twice: as `fiber_stack` with the guard mechanism the kernel offers
// (madvise(MADV_GUARD_INSTALL) on Linux >= 6.13), and as `fiber_stack_mprotect` with
// DUET_FIBER_GUARD=mprotect forcing the fallback, so every test here covers both mechanisms.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

#include "stack_pool.hpp"

namespace {

using duet::fiber::async;
using duet::fiber::FiberOptions;

// recurse(n) — burns about 300 bytes of stack per level and cannot be turned into a loop.
[[gnu::noinline]] int recurse(int n) {
  volatile char buf[256];
  buf[0] = static_cast<char>(n);
  asm volatile("" ::: "memory");
  if (n <= 0) return buf[0];
  return recurse(n - 1) + buf[0];
}

TEST(FiberStackDeathTest, OverflowIntoTheGuardPageIsReportedWithTheSizeAndTheFix) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(async([] { return recurse(1 << 20); }, FiberOptions{}.with_stack_size(16 * 1024)).wait(),
               "fiber stack overflow: a fiber ran past the end of its 16384-byte stack.*"
               "with_stack_size.*set_default_stack_size");
}

TEST(FiberStackDeathTest, OverflowOnAPoolThreadIsReportedToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        duet::run([] {
          (void)async([] { return recurse(1 << 20); }, FiberOptions{}.with_stack_size(16 * 1024));
        }).wait();
      },
      "fiber stack overflow: a fiber ran past the end of its 16384-byte stack");
}

// expected_mechanism() — what guard_page_mechanism() must say in this run: the fallback when
// forced; madvise on a kernel that has MADV_GUARD_INSTALL (6.13 and later); "" when unknown.
std::string expected_mechanism() {
  if (const char* forced = std::getenv("DUET_FIBER_GUARD"); forced && std::strcmp(forced, "mprotect") == 0) {
    return "mprotect";
  }
  utsname u{};
  int major = 0, minor = 0;
  if (::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2) {
    return major > 6 || (major == 6 && minor >= 13) ? "madvise" : "mprotect";
  }
  return "";
}

TEST(FiberStack, GuardMechanismIsTheKernelsOrTheForcedFallback) {
  const std::string expected = expected_mechanism();
  std::cout << "guard page mechanism: " << duet::fiber::guard_page_mechanism() << "\n";
  if (!expected.empty()) {
    EXPECT_EQ(duet::fiber::guard_page_mechanism(), expected);
  }
}

TEST(FiberStackDeathTest, TheGuardSurvivesTheStackPagesGoingBackToTheOs) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        // Every cached stack gets MADV_DONTNEED, then the same stack (LIFO) overflows again.
        async([] { return recurse(10); }, FiberOptions{}.with_stack_size(16 * 1024)).wait();
        duet::fiber::trim_stack_pool();
        async([] { return recurse(1 << 20); }, FiberOptions{}.with_stack_size(16 * 1024)).wait();
      },
      "fiber stack overflow: a fiber ran past the end of its 16384-byte stack");
}

TEST(FiberStack, ShortLivedFibersReuseStacksWithoutMappingMore) {
  for (int i = 0; i < 100; ++i) EXPECT_EQ(async([i] { return i; }).result(), i);  // warm up
  const auto before = duet::fiber::stack_stats();
  // 20 000 fibers: far more than the 32 stacks a thread caches, and few enough for
  // ThreadSanitizer, which makes a fiber cost about a millisecond.
  long sum = 0;
  long expected = 0;
  for (int i = 0; i < 20000; ++i) {
    sum += async([i] { return i % 7; }).result();
    expected += i % 7;
  }
  EXPECT_EQ(sum, expected);
  const auto after = duet::fiber::stack_stats();
  EXPECT_EQ(after.mapped, before.mapped);
  EXPECT_EQ(after.slabs, before.slabs);
}

// Clock — the stack pool's decay clock, stepped by hand.
struct Clock {
  static std::uint64_t now() noexcept { return ns.load(); }
  static inline std::atomic<std::uint64_t> ns{0};
};

// A burst of fibers leaves its stacks resident while it may come back, and gives their pages to
// the OS one decay interval after their last use (src/fiber/stack_pool.hpp, "Returning memory";
// the intervals here are stepped by hand).
TEST(FiberStack, ABurstsStacksGoBackToTheOsOneIntervalAfterTheirLastUse) {
  duet::fiber::detail::StackPool::set_clock(&Clock::now);
  duet::fiber::trim_stack_pool();  // every other key cold: the counts below are this key's
  // 1500 fibers alive at once: 12 slabs, and few enough for ThreadSanitizer (which gives each
  // fiber state of its own).
  constexpr std::size_t n = 1500;
  const std::size_t size = 32 * 1024;  // a size of its own: this test's pool starts empty
  const auto options = FiberOptions{}.with_stack_size(size);
  const auto before = duet::fiber::stack_stats();
  duet::TaskCompletionSource<> gate;
  std::vector<duet::Task<int>> burst;
  for (std::size_t i = 0; i < n; ++i) {
    burst.push_back(async([&gate] { duet::await(gate.task()); return recurse(20); }, options));
  }
  const auto during = duet::fiber::stack_stats();
  EXPECT_GE(during.mapped, n);
  EXPECT_LT(during.slabs - before.slabs, n / 64);  // many stacks per mapping (here 128)
  gate.set_result();
  for (auto& t : burst) EXPECT_EQ(t.result(), recurse(20));
  // (Counted once all are back: a cold stack taken by the burst, from an earlier run, is hot.)
  const std::size_t returned_before = duet::fiber::stack_stats().returned;
  Clock::ns += 1'000'000'000;
  duet::fiber::decay_stack_pool();  // the burst's own interval: every stack was in use in it
  EXPECT_EQ(duet::fiber::stack_stats().returned, returned_before);
  Clock::ns += 1'000'000'000;
  duet::fiber::decay_stack_pool();  // a whole interval unused: back to the OS, but 256
  const auto after = duet::fiber::stack_stats();
  // Released stacks went to the releasing threads' caches (32 each) and the shared list.
  EXPECT_GE(after.returned - returned_before, n - 256 - 8 * 32);  // up to 8 threads' caches
  // Hot: this key's floor, plus any stacks of other keys that threads' caches flushed since.
  EXPECT_LE(after.shared_cached - after.returned, 256u + 64u);
  // The stacks are reused, not mapped again.
  std::vector<duet::Task<int>> again;
  for (std::size_t i = 0; i < n; ++i) again.push_back(async([] { return 1; }, options));
  for (auto& t : again) EXPECT_EQ(t.result(), 1);
  EXPECT_EQ(duet::fiber::stack_stats().mapped, after.mapped);
  duet::fiber::detail::StackPool::set_clock(nullptr);
}

TEST(FiberStack, DeepRecursionWithinTheStackIsFine) {
  // About 100 levels * ~300 bytes: fits the default stack with room to spare.
  EXPECT_EQ(async([] { return recurse(100); }).result(), recurse(100));
}

// The workloads the tests and samples run on fibers: assertions, formatted output of doubles,
// string streams, throwing and catching, nested fibers and suspensions.
[[gnu::noinline]] std::string everyday_work(int i) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%d %.17g %e %s", i, 3.14159265358979 * i, 1e300 / (i + 1), "text");
  std::ostringstream os;
  os << buf << ' ' << 2.718281828 * i << ' ' << std::hex << i;
  try {
    throw std::runtime_error(os.str());
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("text"), std::string::npos);
    return e.what();
  }
}

TEST(FiberStack, DefaultSizeHasMeasuredHeadroom) {
  duet::fiber::trim_stack_pool();  // start from fresh stacks: resident pages = this test's use
  duet::fiber::reset_stack_high_water();
  duet::fiber::set_stack_usage_tracking(true);
  duet::TaskCompletionSource<> gate;
  auto t = async([&] {
    std::string s = everyday_work(1);
    duet::await(gate.task());
    auto inner = async([] { return everyday_work(2); });
    duet::await(duet::configure_await(duet::yield(), false));
    s += duet::await(inner);
    EXPECT_FALSE(s.empty());
    return s.size();
  });
  gate.set_result();
  EXPECT_GT(t.result(), 0u);
  duet::fiber::set_stack_usage_tracking(false);
  const std::size_t used = duet::fiber::stack_stats().high_water_bytes;
  std::cout << "deepest fiber stack use: " << used << " bytes of " << duet::fiber::default_stack_size()
            << " (default)\n";
  RecordProperty("stack_high_water_bytes", static_cast<int>(used));
  EXPECT_GT(used, 0u);
  // The default must leave at least 4x headroom over everyday use.
  EXPECT_LE(used * 4, duet::fiber::default_stack_size());
}

}  // namespace
