// tests/semantic/test_method_core.cpp — how an async method runs, in every style: synchronously
// up to its first incomplete await, a completed await that does not suspend, numbered
// suspensions, exceptions and cancellation before and after the first await, one task awaited by
// many methods, chains of methods, the thread a method resumes on, long chains and concurrent
// completion (ported from tests/core/test_builder.cpp and tests/fiber/test_fiber.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>

#include "duet_fixture.hpp"
#include "method_styles.hpp"

namespace semantic {
namespace {

using duet::OperationCanceledError;
using duet::Task;
using duet::TaskCompletionSource;
using duet::TaskStatus;
using duet::testing::EventLog;
using duet::testing::expect_rethrows;

struct CustomError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class S>
class MethodCore : public duet::testing::DuetTest {};
TYPED_TEST_SUITE(MethodCore, AllStyles, StyleName);

// add_one(in, probe, log) — `async Task<int> AddOneAsync(Task<int> input)`:
//   log("2. ..."); int v = await input; log("4. ..."); return v + 1;
template <class S>
Task<int> add_one(Task<int> in, Probe& probe, EventLog* log = nullptr) {
  return S::task([log] { if (log) log->add("2. method runs synchronously up to its first await"); },
                 [in] { return in; },
                 [log](int v) {
                   if (log) log->add("4. continuation after the await");
                   return v + 1;
                 },
                 &probe);
}

TYPED_TEST(MethodCore, RunsSynchronouslyUntilItsFirstIncompleteAwait) {
  EventLog log;
  Probe probe;
  TaskCompletionSource<int> tcs;
  log.add("1. before the call");
  Task<int> t = add_one<TypeParam>(tcs.task(), probe, &log);
  log.add("3. the caller continues while the method is suspended");
  EXPECT_EQ(probe.suspended_at, (std::vector<int>{0})) << "the suspended method is at await 0";
  EXPECT_EQ(t.status(), TaskStatus::pending);
  EXPECT_EQ(probe.slices.load(), 1);

  tcs.set_result(41);
  log.add("5. after the awaited task completed");
  EXPECT_EQ(t.result(), 42);
  EXPECT_EQ(probe.slices.load(), 2);
  EXPECT_EQ(probe.after_await.load(), 1);
  EXPECT_EQ(probe.resumed_on, std::this_thread::get_id()) << "no context: resumes inline";
  EXPECT_EQ(log.events(), (std::vector<std::string>{
                              "1. before the call",
                              "2. method runs synchronously up to its first await",
                              "3. the caller continues while the method is suspended",
                              "4. continuation after the await",
                              "5. after the awaited task completed",
                          }));
}

TYPED_TEST(MethodCore, AwaitingACompletedTaskDoesNotSuspend) {
  EventLog log;
  Probe probe;
  log.add("1. before the call");
  Task<int> t = add_one<TypeParam>(duet::from_result(1), probe, &log);
  log.add("3. the caller continues");
  EXPECT_TRUE(probe.suspended_at.empty()) << "the method ran to its end inside the call";
  EXPECT_EQ(probe.slices.load(), 1);
  EXPECT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 2);
  EXPECT_EQ(log.events(), (std::vector<std::string>{
                              "1. before the call",
                              "2. method runs synchronously up to its first await",
                              "4. continuation after the await",
                              "3. the caller continues",
                          }));
}

TYPED_TEST(MethodCore, RunsOnTheCallersThreadUntilItsFirstAwait) {
  std::thread::id ran_on;
  Task<int> t = TypeParam::task([&] { ran_on = thread_now(); }, [] { return duet::completed_task(); },
                                [] { return 42; });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  ASSERT_TRUE(t.is_completed_successfully());
  EXPECT_EQ(t.result(), 42);
}

// sum3(tasks, probe) — `async Task<int> SumAsync(Task<int> a, b, c)`: three awaits, a local.
template <class S>
Task<int> sum3(std::vector<Task<int>> in, Probe& probe) {
  auto sum = std::make_shared<int>(0);
  return S::loop(3, [in](int i) { return in[static_cast<std::size_t>(i)]; },
                 [sum](int, int v) { *sum += v; }, [sum] { return *sum; }, &probe);
}

TYPED_TEST(MethodCore, MultipleAwaitsSuspendAtZeroOneTwo) {
  TaskCompletionSource<int> a, b, c;
  Probe probe;
  Task<int> t = sum3<TypeParam>({a.task(), b.task(), c.task()}, probe);
  EXPECT_EQ(probe.suspended_at, (std::vector<int>{0}));
  a.set_result(1);
  EXPECT_EQ(probe.suspended_at, (std::vector<int>{0, 1}));
  b.set_result(10);
  EXPECT_EQ(probe.suspended_at, (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(t.is_completed());
  c.set_result(100);
  EXPECT_EQ(t.result(), 111) << "the hoisted local survived both suspensions";
  EXPECT_EQ(probe.slices.load(), 4);
  EXPECT_EQ(probe.after_await.load(), 1);
}

TYPED_TEST(MethodCore, OnlyIncompleteAwaitsSuspend) {
  TaskCompletionSource<int> a, c;
  Probe probe;
  Task<int> t = sum3<TypeParam>({a.task(), duet::from_result(10), c.task()}, probe);
  a.set_result(1);
  c.set_result(100);
  EXPECT_EQ(t.result(), 111);
  EXPECT_EQ(probe.suspended_at, (std::vector<int>{0, 2}));
  EXPECT_EQ(probe.slices.load(), 3);
}

// ---- exceptions and cancellation -----------------------------------------------------------------

// throwing<S, R>(before, error) — `async Task<R> M(Task<int> input)` that throws `error` before
// or after its one await; checks that it completed inside the call exactly when it threw before.
template <class S, class R>
Task<R> run_throwing(bool before, std::exception_ptr error) {
  TaskCompletionSource<int> tcs;
  Task<R> t = S::task([before, error] { if (before) std::rethrow_exception(error); },
                      [in = tcs.task()] { return in; },
                      [error](int) -> R { std::rethrow_exception(error); });
  if (before) {
    EXPECT_TRUE(t.is_completed()) << "threw before its first await: completed inside the call";
  } else {
    EXPECT_FALSE(t.is_completed());
  }
  tcs.try_set_result(0);
  EXPECT_TRUE(t.is_completed());
  return t;
}

TYPED_TEST(MethodCore, ExceptionFaultsBeforeAndAfterTheFirstAwaitAndCancellationCancels) {
  for (bool before : {true, false}) {
    SCOPED_TRACE(before ? "thrown before the first await" : "thrown after the first await");
    const std::string msg = before ? "boom before" : "boom after";
    auto error = std::make_exception_ptr(CustomError(msg));
    Task<int> ti = run_throwing<TypeParam, int>(before, error);
    EXPECT_EQ(ti.status(), TaskStatus::faulted);
    expect_rethrows<CustomError>([&] { (void)ti.result(); }, msg);
    expect_rethrows<CustomError>([&] { ti.wait(); }, msg);
    Task<> tv = run_throwing<TypeParam, void>(before, error);
    EXPECT_EQ(tv.status(), TaskStatus::faulted);
    expect_rethrows<CustomError>([&] { tv.wait(); }, msg);

    auto cancel = std::make_exception_ptr(OperationCanceledError(msg + " (canceled)"));
    Task<int> ci = run_throwing<TypeParam, int>(before, cancel);
    EXPECT_EQ(ci.status(), TaskStatus::canceled);
    expect_rethrows<OperationCanceledError>([&] { (void)ci.result(); }, msg + " (canceled)");
    Task<> cv = run_throwing<TypeParam, void>(before, cancel);
    EXPECT_EQ(cv.status(), TaskStatus::canceled);
  }
}

TYPED_TEST(MethodCore, AwaitingAFaultedTaskPropagatesTheSameException) {
  TaskCompletionSource<int> tcs;
  Probe probe;
  Task<int> t = add_one<TypeParam>(tcs.task(), probe);
  tcs.set_exception(CustomError("inner failure"));
  EXPECT_TRUE(t.is_faulted());
  expect_rethrows<CustomError>([&] { (void)t.result(); }, "inner failure");
  EXPECT_EQ(probe.after_await.load(), 0);
  // An awaited cancellation cancels the awaiting method too.
  TaskCompletionSource<int> canceled;
  Probe probe2;
  Task<int> t2 = add_one<TypeParam>(canceled.task(), probe2);
  canceled.set_canceled();
  EXPECT_TRUE(t2.is_canceled());
}

TYPED_TEST(MethodCore, AFaultCaughtAroundTheAwaitIsHandledInsideTheMethod) {
  TaskCompletionSource<int> tcs;
  Task<std::string> t = TypeParam::template try_recover<std::runtime_error>(
      [in = tcs.task()] { return in; }, [](int) { return std::string("no exception"); },
      [](const std::runtime_error&) { return duet::from_result(0); },
      [](const std::runtime_error& e, int) { return std::string("caught ") + e.what(); });
  tcs.set_exception(std::runtime_error("bad"));
  EXPECT_EQ(t.result(), "caught bad");
}

// to_pool() — an awaitable that always suspends and resumes on a thread-pool worker.
auto to_pool() { return duet::configure_await(duet::yield(), false); }

// PoolHop — to_pool() whose await yields an int (0), for the places that await a value.
struct PoolHop {
  using Inner = duet::awaiter_t<decltype(to_pool())>;
  struct Awaiter {
    Inner inner;
    bool is_completed() noexcept { return inner.is_completed(); }
    void on_completed(duet::Continuation& c) { inner.on_completed(c); }
    void unsafe_on_completed(duet::Continuation& c) { inner.unsafe_on_completed(c); }
    int get_result() {
      inner.get_result();
      return 0;
    }
  };
  Awaiter get_awaiter() const { return Awaiter{duet::get_awaiter(to_pool())}; }
};

TYPED_TEST(MethodCore, AnAwaitInsideACatchBlockMayResumeOnAnotherThreadAndRethrow) {
  std::thread::id handler_thread;
  bool handler_on_pool = false;
  Task<std::string> t = TypeParam::template try_recover<std::runtime_error>(
      [] { return duet::from_exception<int>(std::make_exception_ptr(std::runtime_error("first"))); },
      [](int) { return std::string("no exception"); },
      // await inside the catch block, resuming on a pool thread
      [](const std::runtime_error&) { return PoolHop{}; },
      [&](const std::runtime_error& e, int) -> std::string {
        handler_thread = thread_now();
        handler_on_pool = duet::is_thread_pool_thread();
        throw std::runtime_error(e.what());  // C#: throw;
      });
  // The caller is not inside any handler, whatever the suspended method is doing.
  EXPECT_EQ(std::current_exception(), nullptr);
  EXPECT_EQ(std::uncaught_exceptions(), 0);
  expect_rethrows<std::runtime_error>([&] { (void)t.result(); }, "first");
  EXPECT_NE(handler_thread, std::this_thread::get_id());
  EXPECT_TRUE(handler_on_pool);
}

// AwaiterThatFailsToRegister — is_completed() false, and registration throws.
struct AwaiterThatFailsToRegister {
  bool is_completed() const noexcept { return false; }
  void on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  void unsafe_on_completed(duet::Continuation&) { throw std::runtime_error("cannot register"); }
  int get_result() { return 0; }
};
struct FailsToRegister {
  AwaiterThatFailsToRegister get_awaiter() const { return {}; }
};

// .NET's builder catches the registration's exception and rethrows it on the thread pool,
// never into the method ("which can't handle exceptions well at that location"); duet faults
// the method's task with it instead (docs/design.md, "A registration that throws").
TYPED_TEST(MethodCore, ARegistrationThatThrowsFaultsTheTaskWithoutEnteringTheCatchBlock) {
  int recovered = 0;
  Task<std::string> t = TypeParam::template try_recover<std::runtime_error>(
      [] { return FailsToRegister{}; }, [](int) { return std::string("no exception"); },
      [&](const std::runtime_error&) {
        ++recovered;
        return duet::from_result(0);
      },
      [](const std::runtime_error& e, int) { return std::string(e.what()); });
  ASSERT_TRUE(t.is_faulted());
  expect_rethrows<std::runtime_error>([&] { (void)t.result(); }, "cannot register");
  EXPECT_EQ(recovered, 0) << "the method's catch block saw the registration's exception";
}

// Counted — counts live instances; its move constructor throws when asked to.
struct Counted {
  static inline std::atomic<int> live{0};
  bool throw_on_move = false;
  explicit Counted(bool t) : throw_on_move(t) { ++live; }
  Counted(Counted&& o) : throw_on_move(o.throw_on_move) {
    if (throw_on_move) throw std::runtime_error("move failed");
    ++live;
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --live; }
};

TYPED_TEST(MethodCore, FinishingBeforeOrAfterASuspensionPublishesTheResultAndFreesItOnce) {
  using S = TypeParam;
  {
    Task<Counted> now = S::task(nop, [] { return duet::completed_task(); }, [] { return Counted(false); });
    ASSERT_TRUE(now.is_completed_successfully());
    EXPECT_FALSE(now.result().throw_on_move);
    std::thread([t = now] { EXPECT_TRUE(t.is_completed_successfully()); }).join();

    TaskCompletionSource<> gate;
    Task<Counted> later = S::task(nop, [in = gate.task()] { return in; }, [] { return Counted(false); });
    EXPECT_EQ(later.status(), TaskStatus::pending);
    std::thread([&gate] { gate.set_result(); }).join();
    ASSERT_TRUE(later.is_completed_successfully());
    EXPECT_GE(Counted::live.load(), 2);
  }
  EXPECT_EQ(Counted::live.load(), 0);  // both states (and the values they held) are gone
  // Publishing a result whose move throws faults the task instead, on either path.
  Task<Counted> bad = S::task(nop, [] { return duet::completed_task(); }, [] { return Counted(true); });
  ASSERT_TRUE(bad.is_faulted());
  EXPECT_THROW(bad.wait(), std::runtime_error);
  TaskCompletionSource<> gate;
  Task<Counted> bad_later = S::task(nop, [in = gate.task()] { return in; }, [] { return Counted(true); });
  gate.set_result();
  ASSERT_TRUE(bad_later.is_faulted());
  EXPECT_THROW(bad_later.wait(), std::runtime_error);
}

// ---- one task, many methods; chains ----------------------------------------------------------------

TYPED_TEST(MethodCore, OneTaskAwaitedByThreeMethodsResumesEachExactlyOnce) {
  TaskCompletionSource<int> tcs;
  EventLog log;
  Probe probes[3];
  Task<int> tasks[3];
  for (int i = 0; i < 3; ++i) tasks[i] = add_one<TypeParam>(tcs.task(), probes[i]);
  for (auto& t : tasks) EXPECT_FALSE(t.is_completed());
  for (auto& p : probes) p.log = &log;
  tcs.set_result(9);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tasks[i].result(), 10);
    EXPECT_EQ(probes[i].slices.load(), 2);
    EXPECT_EQ(probes[i].after_await.load(), 1);
  }
  for (auto& p : probes) p.event("resumed");
  EXPECT_EQ(log.events().size(), 3u);
}

TYPED_TEST(MethodCore, AwaitingAnotherMethodsTaskChainsCompletion) {
  using S = TypeParam;
  EventLog log;
  Probe inner;
  TaskCompletionSource<int> tcs;
  // OuterAsync(x) { log("outer starts"); int v = await AddOneAsync(x); log("outer resumes");
  //                 return v * 10; }
  Task<int> t = S::task([&] { log.add("outer starts"); },
                        [&] {
                          Task<int> in = add_one<S>(tcs.task(), inner, &log);
                          if (!in.is_completed()) log.add("outer suspends");
                          return in;
                        },
                        [&](int v) {
                          log.add("outer resumes");
                          return v * 10;
                        });
  log.add("caller continues");
  tcs.set_result(4);
  EXPECT_EQ(t.result(), 50);
  EXPECT_EQ(log.events(), (std::vector<std::string>{
                              "outer starts",
                              "2. method runs synchronously up to its first await",
                              "outer suspends",
                              "caller continues",
                              "4. continuation after the await",
                              "outer resumes",
                          }));
}

TYPED_TEST(MethodCore, InteroperatesWithTheOtherStyles) {
  // This style awaits an explicit method that awaits a dsl method that awaits this style.
  using S = TypeParam;
  TaskCompletionSource<int> tcs;
  Task<int> first = S::task(nop, [in = tcs.task()] { return in; }, [](int v) { return v * 10; });
  Task<int> second = Explicit::task(nop, [first] { return first; }, [](int v) { return v + 1; });
  Task<int> third = Dsl::task(nop, [second] { return second; }, [](int v) { return v * 2; });
  Task<int> back = S::task(nop, [third] { return third; }, [](int v) { return v - 2; });
  tcs.set_result(4);
  EXPECT_EQ(back.result(), (4 * 10 + 1) * 2 - 2);
}

TYPED_TEST(MethodCore, ResumesOnTheThreadThatCompletesTheAwaitedTask) {
  TaskCompletionSource<int> tcs;
  Probe probe;
  Task<int> t = add_one<TypeParam>(tcs.task(), probe);
  std::thread::id completer;
  std::thread th([&] {
    completer = std::this_thread::get_id();
    tcs.set_result(1);
  });
  th.join();
  EXPECT_TRUE(t.is_completed()) << "resumed inline inside set_result on the other thread";
  EXPECT_EQ(probe.resumed_on, completer);
  EXPECT_EQ(t.result(), 2);
}

TYPED_TEST(MethodCore, LongChainOfAwaitingMethodsCompletesWithoutOverflowingTheStack) {
  // Each method awaits the previous one's task; completing the root resumes them all. Inline
  // resumption nests, so the depth guard must hand the rest to the pool; none may be lost.
  constexpr int k_chain = 2000;
  TaskCompletionSource<int> root;
  std::vector<Probe> probes(k_chain);
  std::vector<Task<int>> tasks;
  tasks.reserve(k_chain);
  Task<int> previous = root.task();
  for (int i = 0; i < k_chain; ++i) {
    tasks.push_back(add_one<TypeParam>(previous, probes[static_cast<std::size_t>(i)]));
    previous = tasks.back();
  }
  root.set_result(0);
  EXPECT_EQ(tasks.back().result(), k_chain);
  for (int i = 0; i < k_chain; ++i) {
    ASSERT_EQ(tasks[static_cast<std::size_t>(i)].result(), i + 1);
    ASSERT_EQ(probes[static_cast<std::size_t>(i)].after_await.load(), 1);
  }
}

TYPED_TEST(MethodCore, ThousandsOfTasksCompletedConcurrentlyNoneLostNoneResumedTwice) {
  constexpr int k_tasks = 3000;
  constexpr int k_starters = 2;  // methods per task, each started from its own thread
  constexpr int k_completers = 3;
  constexpr int k_rounds = 20;
  for (int round = 0; round < k_rounds; ++round) {
    std::vector<TaskCompletionSource<int>> sources(k_tasks);
    std::vector<Task<int>> inputs;
    inputs.reserve(k_tasks);
    for (auto& s : sources) inputs.push_back(s.task());
    auto probes = std::make_unique<Probe[]>(k_tasks * k_starters);
    std::vector<Task<int>> results(k_tasks * k_starters);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int s = 0; s < k_starters; ++s) {
      threads.emplace_back([&, s] {
        while (!go.load()) {
        }
        for (int i = 0; i < k_tasks; ++i) {
          const int slot = s * k_tasks + i;
          results[static_cast<std::size_t>(slot)] = add_one<TypeParam>(inputs[static_cast<std::size_t>(i)], probes[slot]);
        }
      });
    }
    for (int c = 0; c < k_completers; ++c) {
      threads.emplace_back([&, c] {
        while (!go.load()) {
        }
        for (int i = c; i < k_tasks; i += k_completers) sources[static_cast<std::size_t>(i)].set_result(i);
      });
    }
    go.store(true);
    for (auto& th : threads) th.join();
    // Resumptions run inline on the completers, except under the schedule shuffler
    // (detail/schedule_shuffler.hpp), which posts some of them to the pool: let those run. A lost
    // one stays incomplete however often the pool is drained.
    const auto all_completed = [&] {
      for (const auto& r : results) {
        if (!r.is_completed()) return false;
      }
      return true;
    };
    for (int drain = 0; drain < 64 && !all_completed(); ++drain) duet::testing::drain_default_pool();

    int suspended = 0;
    for (int slot = 0; slot < k_tasks * k_starters; ++slot) {
      const int i = slot % k_tasks;
      const Task<int>& r = results[static_cast<std::size_t>(slot)];
      // Later awaits of one input, and awaits that registered after it completed, are queued to
      // the pool (issue 12, rules 2 and 3): wait for them; a lost one never completes (the
      // bound only keeps a lost method from hanging the run).
      ASSERT_TRUE(r.state()->wait_for(std::chrono::minutes(2))) << "lost: method " << slot << " never resumed";
      ASSERT_EQ(r.result(), i + 1);
      ASSERT_EQ(probes[slot].after_await.load(), 1) << "method " << slot;
      const int calls = probes[slot].slices.load();
      ASSERT_TRUE(calls == 1 || calls == 2) << "method " << slot << " was entered " << calls << " times";
      ASSERT_EQ(calls == 2, probes[slot].suspended_at.size() == 1);
      suspended += static_cast<int>(probes[slot].suspended_at.size());
    }
    // Not asserted (scheduling decides), but recorded so a reader sees both paths were taken.
    ::testing::Test::RecordProperty("suspended_round_" + std::to_string(round), suspended);
  }
}

// Each round: the method announces it is about to await, and a helper thread completes the task
// the same instant, while the method is still suspending. The helper then resumes the method
// inline on its own thread.
TYPED_TEST(MethodCore, SuspensionRaceStress) {
  constexpr int k_rounds = 10000;
  std::atomic<int> go{-1};
  std::atomic<TaskCompletionSource<int>*> current{nullptr};
  std::thread helper([&] {
    for (int i = 0; i < k_rounds; ++i) {
      for (int spin = 0; go.load(std::memory_order_acquire) != i; ++spin) {
        if (spin > 64) std::this_thread::yield();  // 2 shared cores: never spin a whole slice
      }
      current.load(std::memory_order_acquire)->set_result(i);
    }
  });
  long long sum = 0;
  std::atomic<int> resumed_elsewhere{0};
  for (int i = 0; i < k_rounds; ++i) {
    TaskCompletionSource<int> tcs;
    current.store(&tcs, std::memory_order_release);
    const auto me = std::this_thread::get_id();
    Task<int> t = TypeParam::task([&go, i] { go.store(i, std::memory_order_release); },
                                  [in = tcs.task()] { return in; },
                                  [&resumed_elsewhere, me](int v) {
                                    if (thread_now() != me) resumed_elsewhere.fetch_add(1);
                                    return v + 1;
                                  });
    for (int spin = 0; !t.is_completed(); ++spin) {  // a futex sleep per round would dominate
      if (spin > 64) std::this_thread::yield();
    }
    sum += t.result();
  }
  helper.join();
  EXPECT_EQ(sum, static_cast<long long>(k_rounds) * (k_rounds + 1) / 2);
  // Both orders happened: completion before registration (inline, here) and after (there).
  EXPECT_GT(resumed_elsewhere.load(), 0);
}

TYPED_TEST(MethodCore, ManyMethodsMigrateThroughThePool) {
  constexpr int k_methods = 500;
  constexpr int k_hops = 10;
  std::vector<int> hops(k_methods, 0);  // slot f is written only by method f
  std::vector<Task<int>> tasks;
  tasks.reserve(k_methods);
  for (int f = 0; f < k_methods; ++f) {
    int* h = &hops[static_cast<std::size_t>(f)];
    tasks.push_back(TypeParam::loop(
        k_hops, [](int) { return to_pool(); },
        [h](int) {
          if (duet::is_thread_pool_thread()) ++*h;
        },
        [f, h] { return f + *h; }));
  }
  long long sum = 0;
  for (auto& t : tasks) sum += t.result();
  EXPECT_EQ(sum, static_cast<long long>(k_methods) * (k_methods - 1) / 2 + k_methods * k_hops);
}

TYPED_TEST(MethodCore, WhileLoopOfYieldsEndsOnThePool) {
  std::atomic<bool> on_pool{false};
  Task<int> t = TypeParam::loop(
      3, [](int) { return duet::yield(); }, [](int) {},
      [&] {
        on_pool = duet::is_thread_pool_thread();
        return 3;
      });
  EXPECT_EQ(t.result(), 3);
  EXPECT_TRUE(on_pool.load());
}

}  // namespace
}  // namespace semantic
