// stress_support.hpp — helpers of the many-seed concurrency tests (include after
// <gtest/gtest.h>):
//  * within(pred) — polls pred until it holds or k_hang_bound (60 s) passes; returns whether it
//    held. A hang bound, never a timing assertion.
//  * mix(x) — a 32-bit integer hash, to derive a test's choices from its seed.
//  * WorkersSeed, workers_seed_name(info) — the parameter of a many-seed test (a pool size and a
//    seed) and its test name "w<workers>_seed<seed>" (any parameter with those two fields).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace duet::testing {

inline constexpr std::chrono::seconds k_hang_bound{60};

// mix(x) — a 32-bit integer hash (seeds -> per-item choices).
inline std::uint32_t mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// WorkersSeed — the parameter of a many-seed test: a pool size and a seed.
struct WorkersSeed {
  unsigned workers;
  int seed;
};

template <class Pred>
bool within(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + k_hang_bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

template <class Param>
std::string workers_seed_name(const ::testing::TestParamInfo<Param>& param_info) {
  // Appended piece by piece, not "w" + std::to_string(...): g++ 12 -O3 reports a false
  // -Wrestrict on operator+(const char*, string&&).
  std::string name = "w";
  name += std::to_string(param_info.param.workers);
  name += "_seed";
  name += std::to_string(param_info.param.seed);
  return name;
}

}  // namespace duet::testing
