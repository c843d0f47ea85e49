// test_fiber_stack_pool.cpp — the stack pool itself (src/fiber/stack_pool.hpp): guarded stacks
// scale past vm.max_map_count with madvise(MADV_GUARD_INSTALL), and the mprotect fallback stops
// at that limit with an error naming it and the fixes.
//
// meson runs this binary twice, as for test_fiber_stack.cpp: with the kernel's mechanism and with
// DUET_FIBER_GUARD=mprotect. The tests that carve tens of thousands of stacks run in a child
// process (EXPECT_EXIT), so the parent's mappings and pool stay as they were; the child leaves
// with _Exit, as a process at its mapping limit cannot run LeakSanitizer's exit check.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <duet/duet.hpp>
#include <duet/fiber/fiber.hpp>

#include "stack_pool.hpp"

namespace {

using duet::fiber::detail::guard_kind;
using duet::fiber::detail::StackKind;
using duet::fiber::detail::StackPool;

std::size_t count_lines(const char* path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

long max_map_count() {
  long n = 0;
  if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    if (std::fscanf(f, "%ld", &n) != 1) n = 0;
    std::fclose(f);
  }
  return n;
}

// is_guard(p) — whether reading the byte at p faults: a child process reads it (mincore and
// /proc/self/mem cannot tell both kinds of guard from an ordinary page).
bool is_guard(const void* p) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    ::signal(SIGBUS, SIG_DFL);
    (void)*static_cast<const volatile char*>(p);
    ::_exit(0);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

TEST(StackPool, StacksAreCarvedFromSlabsWithTheGuardBelowEach) {
  const std::size_t page = duet::fiber::detail::page_size();
  // A size no other test (and no earlier run, under --gtest_repeat) uses: a fresh pool.
  static int run = 0;
  const std::size_t size = 40 * 1024 + std::size_t{32 * 1024} * static_cast<std::size_t>(run++);
  std::vector<boost::context::stack_context> stacks;
  for (int i = 0; i < 10; ++i) stacks.push_back(StackPool::acquire(size, guard_kind()));
  for (std::size_t i = 0; i + 1 < stacks.size(); ++i) {
    // Adjacent slots of one slab: each stack's top is the next slot's guard.
    EXPECT_EQ(static_cast<char*>(stacks[i].sp) + size + page, stacks[i + 1].sp);
  }
  for (const auto& s : stacks) {
    char* const low = static_cast<char*>(s.sp) - s.size;
    EXPECT_TRUE(is_guard(low - page)) << "no guard below the stack at " << s.sp;
    EXPECT_FALSE(is_guard(low));
    low[0] = 1;  // the whole usable range is writable
    static_cast<char*>(s.sp)[-1] = 1;
  }
  for (const auto& s : stacks) StackPool::release(s, guard_kind());
  // Returned pages read back as zero; the guards stay.
  duet::fiber::trim_stack_pool();
  auto again = StackPool::acquire(size, guard_kind());
  EXPECT_EQ(static_cast<char*>(again.sp)[-1], 0);
  EXPECT_TRUE(is_guard(static_cast<char*>(again.sp) - size - page));
  StackPool::release(again, guard_kind());
}

TEST(StackPool, UnguardedStacksAreContiguous) {
  static int run = 0;  // a fresh size per run, as above (24, 56, 88 KiB...: never 40 + 32k)
  const std::size_t size = 24 * 1024 + std::size_t{32 * 1024} * static_cast<std::size_t>(run++);
  auto a = StackPool::acquire(size, StackKind::unguarded);
  auto b = StackPool::acquire(size, StackKind::unguarded);
  EXPECT_EQ(static_cast<char*>(a.sp) + size, b.sp);
  EXPECT_FALSE(is_guard(static_cast<char*>(b.sp) - size - 1));
  StackPool::release(a, StackKind::unguarded);
  StackPool::release(b, StackKind::unguarded);
}

// DecayClock — the stack pool's decay intervals on a clock the test steps by hand (1 s each).
std::atomic<std::uint64_t> g_fake_ns{0};
std::uint64_t fake_now() noexcept { return g_fake_ns.load(); }
struct DecayClock {
  DecayClock() {
    g_fake_ns = 0;
    StackPool::set_clock(&fake_now);
  }
  ~DecayClock() { StackPool::set_clock(nullptr); }
  DecayClock(const DecayClock&) = delete;
  DecayClock& operator=(const DecayClock&) = delete;
  // next_interval() — one interval later, and the pool told so.
  void next_interval() {
    g_fake_ns += 1'000'000'000;
    duet::fiber::decay_stack_pool();
  }
};

// hot_stacks() — cached stacks in the shared lists whose pages are still resident.
std::size_t hot_stacks() {
  const auto st = duet::fiber::stack_stats();
  return st.shared_cached - st.returned;
}

// resident(s) — whether the top page of stack s is resident.
bool resident(const boost::context::stack_context& s) {
  const std::size_t page = duet::fiber::detail::page_size();
  unsigned char v = 0;
  void* const top_page = static_cast<char*>(s.sp) - page;
  return ::mincore(top_page, page, &v) == 0 && (v & 1) != 0;
}

// Stacks that a workload takes again in every interval keep their pages, however many: a service
// holding thousands of fibers batch after batch never refaults its stacks. Those that then stay
// unused through one whole interval go back to the OS, all but a floor of 256.
TEST(StackPool, StacksUsedEveryIntervalStayResidentAndGoBackOneIntervalAfterTheirLastUse) {
  DecayClock clock;
  duet::fiber::trim_stack_pool();  // every other key cold: the counts below are this key's
  constexpr std::size_t n = 3000;
  constexpr std::size_t size = 40 * 1024;  // a key of its own
  std::vector<boost::context::stack_context> stacks(n);
  std::size_t returned_before = 0;
  for (int round = 0; round < 4; ++round) {
    for (auto& s : stacks) {
      s = StackPool::acquire(size, StackKind::unguarded);
      static_cast<volatile char*>(s.sp)[-1] = 1;  // the fiber's first frame touches its top page
    }
    for (auto& s : stacks) StackPool::release(s, StackKind::unguarded);
    // (Taking a cold stack makes it hot again: count from when all are back, all hot.)
    if (round == 0) returned_before = duet::fiber::stack_stats().returned;
    clock.next_interval();
    EXPECT_EQ(duet::fiber::stack_stats().returned, returned_before) << "round " << round;
  }
  const std::size_t hot = hot_stacks();
  EXPECT_GE(hot, n - 32);  // all but those in this thread's cache
  clock.next_interval();  // the first interval in which nobody took them
  const std::size_t returned = duet::fiber::stack_stats().returned - returned_before;
  EXPECT_EQ(returned, hot - 256);
  std::size_t still_resident = 0;
  for (const auto& s : stacks) still_resident += resident(s) ? 1 : 0;
  EXPECT_EQ(still_resident, n - returned);
  clock.next_interval();  // nothing more: the floor stays
  EXPECT_EQ(duet::fiber::stack_stats().returned - returned_before, returned);
  // Taken again, the cold stacks come back (fresh pages), without a new mapping.
  const std::size_t mapped = duet::fiber::stack_stats().mapped;
  for (auto& s : stacks) s = StackPool::acquire(size, StackKind::unguarded);
  EXPECT_EQ(duet::fiber::stack_stats().mapped, mapped);
  for (auto& s : stacks) StackPool::release(s, StackKind::unguarded);
}

// An interval ends only once it has lasted the whole interval: stacks released half an interval
// ago stay resident.
TEST(StackPool, StacksFreeForLessThanAWholeIntervalStayResident) {
  DecayClock clock;
  duet::fiber::trim_stack_pool();
  constexpr std::size_t n = 2000;
  constexpr std::size_t size = 44 * 1024;
  std::vector<boost::context::stack_context> stacks(n);
  duet::fiber::decay_stack_pool();  // this key's interval begins now, at 0 (if it exists already)
  for (auto& s : stacks) s = StackPool::acquire(size, StackKind::unguarded);
  for (auto& s : stacks) StackPool::release(s, StackKind::unguarded);
  const std::size_t returned_before = duet::fiber::stack_stats().returned;
  g_fake_ns += 999'999'999;  // the interval began at 0
  duet::fiber::decay_stack_pool();
  EXPECT_EQ(duet::fiber::stack_stats().returned, returned_before);
  g_fake_ns += 1;  // now it has lasted 1 s, but the stacks were all taken during it
  duet::fiber::decay_stack_pool();
  EXPECT_EQ(duet::fiber::stack_stats().returned, returned_before);
  g_fake_ns += 999'999'999;
  duet::fiber::decay_stack_pool();
  EXPECT_EQ(duet::fiber::stack_stats().returned, returned_before);
  g_fake_ns += 1;
  duet::fiber::decay_stack_pool();
  EXPECT_GT(duet::fiber::stack_stats().returned, returned_before + n - 32 - 256 - 1);
}

// Carves more guarded stacks than vm.max_map_count allows mappings. Returns the child's exit
// code: 0 when all fit in few mappings, 3 when the pool threw the expected error, else 1.
int carve_past_the_map_limit(long limit) {
  const std::size_t n = static_cast<std::size_t>(limit) + 5000;
  const std::size_t maps_before = count_lines("/proc/self/maps");
  std::vector<boost::context::stack_context> stacks;
  stacks.reserve(n);
  try {
    for (std::size_t i = 0; i < n; ++i) stacks.push_back(StackPool::acquire(16 * 1024, guard_kind()));
  } catch (const duet::fiber::FiberStackError& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "%s\n", e.what());
    const bool names_all = what.find("vm.max_map_count") != std::string::npos &&
                           what.find("sysctl vm.max_map_count") != std::string::npos &&
                           what.find("guard_page = false") != std::string::npos &&
                           what.find("mprotect") != std::string::npos;
    return names_all ? 3 : 1;
  }
  const std::size_t maps_after = count_lines("/proc/self/maps");
  std::fprintf(stderr, "%zu guarded stacks in %zu more mappings\n", n, maps_after - maps_before);
  if (maps_after - maps_before > n / 64) return 1;
  for (const auto& s : stacks) StackPool::release(s, guard_kind());
  return 0;
}

TEST(StackPoolDeathTest, GuardedStacksBeyondTheMapLimitFitOrFailNamingTheLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const long limit = max_map_count();
  ASSERT_GT(limit, 0) << "cannot read /proc/sys/vm/max_map_count";
  if (limit > 1'000'000) GTEST_SKIP() << "vm.max_map_count is " << limit << ": too high to reach";
  if (guard_kind() == StackKind::guard_madvise) {
    EXPECT_EXIT(std::_Exit(carve_past_the_map_limit(limit)), testing::ExitedWithCode(0),
                "guarded stacks in [0-9]+ more mappings");
  } else {
    EXPECT_EXIT(std::_Exit(carve_past_the_map_limit(limit)), testing::ExitedWithCode(3),
                "could not (map a slab|install a guard page).*vm.max_map_count.*Raise the limit");
  }
}

}  // namespace
