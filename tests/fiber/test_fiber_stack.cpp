// test_fiber_stack.cpp — stack overflow into the guard page is reported clearly (death test), and
// the default stack size has measured headroom over what fibers here actually use.
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

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
