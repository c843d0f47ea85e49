// test_thread_pool_stress.cpp — ThreadPool under many seeds: trees of work items that post their
// children from pool threads (LIFO slot, ring, overflow, stealing), items posted from outside
// (global queue), and items that block in wait() on a child they just posted (the slot/ring
// hand-over and compensation). Each item must run exactly once and the pool must drain.
// Also built with ThreadSanitizer (meson.build: the *_tsan target when the sanitizer is on).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "stress_support.hpp"

namespace {

using duet::Continuation;
using duet::TaskCompletionSource;
using duet::ThreadPool;

constexpr int k_nodes = 30'000;

struct World;

// Node — one work item. When it runs it may post children and may block on one of them.
struct Node : Continuation {
  World* world = nullptr;
  std::uint32_t seed = 0;
  std::atomic<int> runs{0};
  TaskCompletionSource<int>* complete_when_run = nullptr;  // set: a parent blocks on us
  static void run(Continuation* c) noexcept;
};

struct World {
  ThreadPool* pool = nullptr;
  std::unique_ptr<Node[]> nodes{new Node[k_nodes]};
  std::atomic<int> next{0};         // nodes handed out
  std::atomic<int> outstanding{0};  // posted and not yet finished
  std::atomic<int> blocked_waits{0};
  std::unique_ptr<TaskCompletionSource<int>[]> gates{new TaskCompletionSource<int>[k_nodes]};

  // post_new(seed) — hands out and posts a node; null when the budget is spent.
  Node* post_new(std::uint32_t seed, TaskCompletionSource<int>* gate = nullptr) {
    const int i = next.fetch_add(1, std::memory_order_relaxed);
    if (i >= k_nodes) return nullptr;
    Node& n = nodes[i];
    n.invoke = &Node::run;
    n.world = this;
    n.seed = seed;
    n.complete_when_run = gate;
    outstanding.fetch_add(1, std::memory_order_relaxed);
    pool->post(n);
    return &n;
  }
};

using duet::testing::mix;

void Node::run(Continuation* c) noexcept {
  auto* self = static_cast<Node*>(c);
  World& w = *self->world;
  self->runs.fetch_add(1, std::memory_order_relaxed);
  const std::uint32_t r = mix(self->seed);
  const int children = static_cast<int>(r % 5);  // 0..4, mean 2: the tree keeps growing
  for (int i = 0; i < children; ++i) (void)w.post_new(mix(r + static_cast<std::uint32_t>(i)));
  if (r % 61 == 7) {
    // Block on a child posted just now from this worker (it sits in this worker's slot).
    const auto idx = static_cast<std::size_t>(self - w.nodes.get());
    TaskCompletionSource<int>& gate = w.gates[idx];
    if (w.post_new(mix(r ^ 0xabcdU), &gate)) {
      w.blocked_waits.fetch_add(1, std::memory_order_relaxed);
      (void)gate.task().result();
    }
  }
  if (self->complete_when_run) self->complete_when_run->set_result(1);
  if (w.outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1) w.outstanding.notify_all();
}

using Param = duet::testing::WorkersSeed;

class PoolStress : public ::testing::TestWithParam<Param> {};

TEST_P(PoolStress, EveryItemRunsExactlyOnceAndThePoolDrains) {
  const Param p = GetParam();
  World world;
  {
    ThreadPool pool(p.workers);
    world.pool = &pool;
    // Roots from two outside threads (global queue) while the trees grow on the workers.
    std::vector<std::thread> posters;
    for (int t = 0; t < 2; ++t) {
      posters.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          (void)world.post_new(mix(static_cast<std::uint32_t>(p.seed * 1000 + t * 100 + i)));
        }
      });
    }
    for (auto& t : posters) t.join();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int seen = world.outstanding.load(); seen != 0; seen = world.outstanding.load()) {
      if (std::chrono::steady_clock::now() > deadline) {
        // A hang: report and stop here (the pool's destructor would wait for the blocked items).
        std::fprintf(stderr, "%d items never finished; threads %u, pending %zu, blocked waits %d\n",
                     seen, pool.thread_count(), pool.pending_work_item_count(),
                     world.blocked_waits.load());
        std::abort();
      }
      std::this_thread::yield();
    }
  }  // the destructor joins every thread, compensation threads included
  const int handed_out = std::min(world.next.load(), k_nodes);
  for (int i = 0; i < handed_out; ++i) {
    ASSERT_EQ(world.nodes[i].runs.load(), 1) << "node " << i;
  }
  for (int i = handed_out; i < k_nodes; ++i) ASSERT_EQ(world.nodes[i].runs.load(), 0);
}

std::vector<Param> params() {
  std::vector<Param> ps;
  for (unsigned w : {1u, 2u, 4u}) {
    for (int seed = 0; seed < 8; ++seed) ps.push_back({w, seed});
  }
  return ps;
}

INSTANTIATE_TEST_SUITE_P(Seeds, PoolStress, ::testing::ValuesIn(params()),
                         duet::testing::workers_seed_name<Param>);

}  // namespace
