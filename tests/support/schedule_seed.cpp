// schedule_seed.cpp — linked into every test executable (test_support_sources): when the schedule
// shuffler is on (DUET_SCHEDULE_SEED, detail/schedule_shuffler.hpp), a failing test prints the
// seed that replays its schedule, right under its failure.
#include <gtest/gtest.h>

#include <cstdio>

#include "duet/detail/schedule_shuffler.hpp"

namespace {

// SeedReporter — prints the shuffler's seed after every failed test.
class SeedReporter : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    if (const auto seed = duet::detail::shuffle::seed()) {
      std::printf("[ shuffle  ] %s.%s failed under the schedule shuffler: rerun with "
                  "DUET_SCHEDULE_SEED=%llu to replay it\n",
                  info.test_suite_name(), info.name(), static_cast<unsigned long long>(*seed));
      std::fflush(stdout);
    }
  }
};

[[maybe_unused]] const bool g_registered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new SeedReporter);
  return true;
}();

}  // namespace
