// test_schedule_shuffler.cpp — the seeded schedule shuffler (detail/schedule_shuffler.hpp): a
// seed replays the same choices, different seeds make different ones, dispatch posts some of the
// continuations it would run inline, and every continuation still runs exactly once. In a build
// without the shuffler (release) the same tests check that enabling it does nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet/detail/schedule_shuffler.hpp"
#include "duet_fixture.hpp"

namespace {

namespace shuffle = duet::detail::shuffle;
using duet::testing::CountingContinuation;

// ShufflerTest — turns the shuffler off after each test, whatever the environment asked for.
class ShufflerTest : public duet::testing::DuetTest {
 protected:
  void SetUp() override {
    DuetTest::SetUp();
    saved_ = shuffle::seed();
  }
  void TearDown() override {
    if (saved_) {
      shuffle::enable(*saved_);
    } else {
      shuffle::disable();
    }
    DuetTest::TearDown();
  }

 private:
  std::optional<std::uint64_t> saved_;
};

// draws_of_a_fresh_thread(n) — the first n draws of a thread that never drew before.
std::vector<std::uint32_t> draws_of_a_fresh_thread(int n) {
  std::vector<std::uint32_t> out;
  std::thread([&] {
    for (int i = 0; i < n; ++i) out.push_back(shuffle::draw(1u << 30));
  }).join();
  return out;
}

TEST_F(ShufflerTest, ASeedReplaysTheSameChoicesAndAnotherSeedDoesNot) {
  if (!shuffle::compiled_in()) {
    shuffle::enable(7);
    EXPECT_FALSE(shuffle::seed().has_value()) << "compiled out: enable() must do nothing";
    return;
  }
  shuffle::enable(7);
  ASSERT_EQ(shuffle::seed(), std::optional<std::uint64_t>(7));
  const auto first = draws_of_a_fresh_thread(32);
  shuffle::enable(7);
  const auto replay = draws_of_a_fresh_thread(32);
  shuffle::enable(8);
  const auto other = draws_of_a_fresh_thread(32);
  EXPECT_EQ(first, replay);
  EXPECT_NE(first, other);
  shuffle::disable();
  EXPECT_FALSE(shuffle::seed().has_value());
}

TEST_F(ShufflerTest, DispatchPostsSomeInlineContinuationsAndRunsEachExactlyOnce) {
  constexpr int k_rounds = 400;
  const bool shuffling = shuffle::compiled_in();
  shuffle::enable(12345);
  auto items = std::make_unique<CountingContinuation[]>(k_rounds);
  std::atomic<int> done{0};
  int inline_runs = 0;
  for (int i = 0; i < k_rounds; ++i) {
    items[i].done = &done;
    duet::detail::dispatch_continuation(items[i], false);
    if (items[i].runs.load() == 1 && items[i].ran_on == std::this_thread::get_id()) ++inline_runs;
  }
  duet::testing::wait_for_count(done, k_rounds);
  for (int i = 0; i < k_rounds; ++i) EXPECT_EQ(items[i].runs.load(), 1) << "item " << i;
  if (shuffling) {  // about half posted: far from 0 and from all
    EXPECT_GT(inline_runs, k_rounds / 8);
    EXPECT_LT(inline_runs, k_rounds - k_rounds / 8);
  } else {
    EXPECT_EQ(inline_runs, k_rounds);
  }
  shuffle::disable();
  CountingContinuation after;
  after.done = &done;
  duet::detail::dispatch_continuation(after, false);
  EXPECT_EQ(after.runs.load(), 1) << "off again: dispatch runs inline";
}

}  // namespace
