// bench/stress.cpp — the 10M-task stress (issue 16) as a benchmark program, not a test: every
// style (explicit, dsl, fiber) runs the same mix of awaits under load on the default pool and the
// default (real-clock) timer wheel, and the program checks that no method was lost and none ran
// twice.
//
//   stress [--tasks N] [--repetitions R] [--styles explicit,dsl,fiber]
//
// The method, in each style (C#):  async Task<int> Relay(Slot s, Task<T> x) { var v = await x;
// s.Runs++; return F(v); }  — the code after the await must run exactly once per call. Each
// batch (about 25,000 tasks) mixes:
//  * chains      100 chains of 100 relays, each awaiting the previous one; the head is a
//                TaskCompletionSource completed from another thread;
//  * fan-out/in  50 parents, each awaiting when_all over 100 relays of Task.Run children;
//  * races       2,000 relays awaiting a TaskCompletionSource that one thread completes while
//                another cancels its CancellationTokenSource (whose callback tries to complete
//                it with -1): exactly one wins;
//  * delays      200 relays awaiting when_any(delay(1-3 ms, token)) on the real clock, with the
//                token's source canceled after 1-2 ms: the delay ends completed or canceled.
// It counts every task created (relays, sources' tasks, Task.Run, when_all, when_any, delays).
// Each repetition of each style runs in its own child process (the program re-executes itself),
// so the peak RSS (getrusage ru_maxrss) is that style's alone; styles are interleaved per
// repetition. Printed per style: tasks/s (median of the repetitions, min-max, ratio to explicit),
// peak RSS, and the lost / double-run / wrong-result counts summed over the repetitions. Exit
// status 1 when any is not 0 or a child failed.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>

namespace {

using duet::Task;
using duet::TaskCompletionSource;
using namespace std::chrono_literals;

// Slot — one relay call: the code after its await increments `runs`, which must end at 1.
struct Slot {
  std::atomic<int> runs{0};
};

// ---- the relay method in each style -----------------------------------------------------------

template <class T>
using Reduce = int (*)(const T&);

// RelayExplicit<T> — the hand-written state machine.
template <class T>
struct RelayExplicit {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_{};
  Slot* slot_ = nullptr;
  Task<T> in_{};
  Reduce<T> f_ = nullptr;
  duet::TaskAwaiter<T> awaiter_{};
  void move_next() {
    try {
      if (state_ == -1) {
        awaiter_ = in_.get_awaiter();
        if (!awaiter_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter_, *this);
          return;
        }
      }
      state_ = -1;
      const int r = f_(awaiter_.get_result());
      awaiter_ = {};
      slot_->runs.fetch_add(1, std::memory_order_relaxed);
      state_ = -2;
      builder_.set_result(r);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
    }
  }
};

// RelayDsl<T> — the DUET_* macro form.
template <class T>
struct RelayDsl : duet::AsyncMethod<RelayDsl<T>, int> {
  Slot* slot_;
  Task<T> in_;
  Reduce<T> f_;
  T x_{};
  RelayDsl(Slot* slot, Task<T> in, Reduce<T> f) : slot_(slot), in_(std::move(in)), f_(f) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, in_);
      slot_->runs.fetch_add(1, std::memory_order_relaxed);
      DUET_RETURN(f_(x_));
    DUET_END
  }
};

enum class Style { explicit_style, dsl, fiber };

const char* name_of(Style s) {
  switch (s) {
    case Style::explicit_style:
      return "explicit";
    case Style::dsl:
      return "dsl";
    case Style::fiber:
      return "fiber";
  }
  return "?";
}

// relay(style, slot, in, f) — one call of the method in `style`.
template <class T>
Task<int> relay(Style style, Slot* slot, Task<T> in, Reduce<T> f) {
  switch (style) {
    case Style::explicit_style: {
      RelayExplicit<T> m;
      m.slot_ = slot;
      m.in_ = std::move(in);
      m.f_ = f;
      m.builder_.start(m);
      return m.builder_.task();
    }
    case Style::dsl:
      return duet::start<RelayDsl<T>>(slot, std::move(in), f);
    case Style::fiber:
      return duet::fiber::async([slot, in = std::move(in), f]() -> int {
        const int r = f(duet::await(in));
        slot->runs.fetch_add(1, std::memory_order_relaxed);
        return r;
      });
  }
  return {};
}

int plus_one(const int& v) { return v + 1; }
int identity(const int& v) { return v; }
int sum(const std::vector<int>& v) {
  int s = 0;
  for (int x : v) s += x;
  return s;
}
int delay_outcome(const duet::WhenAnyResult<void>& r) { return r.task.is_canceled() ? 0 : 1; }

// ---- one batch --------------------------------------------------------------------------------

constexpr int k_chains = 100, k_chain_length = 100;
constexpr int k_fans = 50, k_fan_width = 100;
constexpr int k_races = 2000;
constexpr int k_delays = 200;
constexpr std::uint64_t k_batch_tasks =
    std::uint64_t{k_chains} * (k_chain_length + 1) + std::uint64_t{k_fans} * (2 * k_fan_width + 2) +
    2 * k_races + 3 * k_delays;
constexpr int k_batch_slots = k_chains * k_chain_length + k_fans * (k_fan_width + 1) + k_races + k_delays;

struct Counts {
  std::uint64_t tasks = 0;
  std::uint64_t lost = 0;     // a relay whose code after the await never ran
  std::uint64_t doubled = 0;  // ... ran more than once
  std::uint64_t wrong = 0;    // a final result other than the one the inputs determine
};

// run_batch(style, seed, counts) — builds one batch, completes its inputs from two threads,
// waits (bounded) for every final task and checks every slot.
void run_batch(Style style, unsigned seed, Counts& counts) {
  std::vector<Slot> slots(k_batch_slots);
  int next = 0;
  std::vector<Task<int>> finals;
  // Expect — what a final's result must be: `value` exactly, or (race) `value` or -1, or (delay)
  // 1 for completed or 0 for canceled.
  struct Expect {
    enum Kind { exact, race, delay } kind;
    int value;
  };
  std::vector<Expect> expected;

  std::vector<TaskCompletionSource<int>> heads(k_chains);
  for (int c = 0; c < k_chains; ++c) {
    Task<int> t = heads[static_cast<std::size_t>(c)].task();
    for (int l = 0; l < k_chain_length; ++l) t = relay<int>(style, &slots[static_cast<std::size_t>(next++)], std::move(t), plus_one);
    finals.push_back(std::move(t));
    expected.push_back({Expect::exact, c + k_chain_length});
  }
  for (int f = 0; f < k_fans; ++f) {
    std::vector<Task<int>> kids;
    kids.reserve(k_fan_width);
    for (int k = 0; k < k_fan_width; ++k) {
      kids.push_back(relay<int>(style, &slots[static_cast<std::size_t>(next++)], duet::run([k] { return k; }), plus_one));
    }
    finals.push_back(relay<std::vector<int>>(style, &slots[static_cast<std::size_t>(next++)], duet::when_all(kids), sum));
    expected.push_back({Expect::exact, k_fan_width * (k_fan_width + 1) / 2});
  }
  std::vector<TaskCompletionSource<int>> racers(k_races);
  std::vector<duet::CancellationTokenSource> race_sources(k_races);
  std::vector<duet::CancellationRegistration> registrations;
  registrations.reserve(k_races);
  for (int r = 0; r < k_races; ++r) {
    TaskCompletionSource<int>* tcs = &racers[static_cast<std::size_t>(r)];
    registrations.push_back(race_sources[static_cast<std::size_t>(r)].token().register_callback(
        [tcs] { (void)tcs->try_set_result(-1); }));
    finals.push_back(relay<int>(style, &slots[static_cast<std::size_t>(next++)], tcs->task(), identity));
    expected.push_back({Expect::race, r});
  }
  std::vector<duet::CancellationTokenSource> timeouts;
  timeouts.reserve(k_delays);
  for (int d = 0; d < k_delays; ++d) {
    const auto jitter = std::chrono::microseconds((seed + static_cast<unsigned>(d) * 7919u) % 1000);
    timeouts.emplace_back(1ms + jitter);
    Task<> delayed = duet::delay(2ms + jitter, timeouts.back().token());
    finals.push_back(relay<duet::WhenAnyResult<void>>(style, &slots[static_cast<std::size_t>(next++)],
                                                      duet::when_any(delayed), delay_outcome));
    expected.push_back({Expect::delay, 0});
  }

  // Inputs completed from two other threads: heads split between them; races: one completes,
  // the other cancels (in the opposite order, so they meet in the middle).
  std::thread completer([&] {
    for (int c = 0; c < k_chains; c += 2) heads[static_cast<std::size_t>(c)].set_result(c);
    for (int r = 0; r < k_races; ++r) (void)racers[static_cast<std::size_t>(r)].try_set_result(r);
  });
  std::thread canceler([&] {
    for (int c = 1; c < k_chains; c += 2) heads[static_cast<std::size_t>(c)].set_result(c);
    for (int r = k_races - 1; r >= 0; --r) race_sources[static_cast<std::size_t>(r)].cancel();
  });
  completer.join();
  canceler.join();

  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (std::size_t i = 0; i < finals.size(); ++i) {
    while (!finals[i].is_completed() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50us);
    }
    if (!finals[i].is_completed() || !finals[i].is_completed_successfully()) {
      ++counts.wrong;  // lost slots are counted below; a faulted final is wrong
      continue;
    }
    const int got = finals[i].result();
    const Expect e = expected[i];
    const bool ok = e.kind == Expect::exact  ? got == e.value
                    : e.kind == Expect::race ? got == e.value || got == -1
                                             : got == 0 || got == 1;
    if (!ok) ++counts.wrong;
  }
  for (const Slot& s : slots) {
    const int r = s.runs.load(std::memory_order_relaxed);
    if (r == 0) ++counts.lost;
    if (r > 1) ++counts.doubled;
  }
  counts.tasks += k_batch_tasks;
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// child(style, tasks) — one repetition of one style; prints a RESULT line for the parent.
int child(Style style, std::uint64_t tasks) {
  Counts counts;
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned batch = 0; counts.tasks < tasks; ++batch) run_batch(style, batch, counts);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("RESULT %s %llu %.6f %ld %llu %llu %llu\n", name_of(style),
              static_cast<unsigned long long>(counts.tasks), seconds, peak_rss_kib(),
              static_cast<unsigned long long>(counts.lost),
              static_cast<unsigned long long>(counts.doubled),
              static_cast<unsigned long long>(counts.wrong));
  std::fflush(stdout);
  const bool clean = counts.lost == 0 && counts.doubled == 0 && counts.wrong == 0;
  // Quick exit: the pools and wheels are never destroyed (see default_scheduler()).
  std::_Exit(clean ? 0 : 1);
}

struct Run {
  double tasks_per_second = 0;
  long rss_kib = 0;
  unsigned long long lost = 0, doubled = 0, wrong = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--tasks N] [--repetitions R] [--styles explicit,dsl,fiber]\n"
               "  --tasks N        tasks per style and repetition (default 10000000; CI: 200000)\n"
               "  --repetitions R  runs per style, interleaved, each in its own process (default 5)\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t tasks = 10'000'000;
  int repetitions = 5;
  std::vector<Style> styles = {Style::explicit_style, Style::dsl, Style::fiber};
  const char* child_style = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--tasks" && has_value) {
      tasks = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--repetitions" && has_value) {
      repetitions = std::atoi(argv[++i]);
    } else if (a == "--styles" && has_value) {
      styles.clear();
      const std::string list = argv[++i];
      for (Style s : {Style::explicit_style, Style::dsl, Style::fiber}) {
        if (list.find(name_of(s)) != std::string::npos) styles.push_back(s);
      }
    } else if (a == "--child" && has_value) {
      child_style = argv[++i];
    } else {
      return usage(argv[0]);
    }
  }
  if (tasks == 0 || repetitions < 1 || styles.empty()) return usage(argv[0]);
  if (child_style) {
    for (Style s : {Style::explicit_style, Style::dsl, Style::fiber}) {
      if (std::strcmp(child_style, name_of(s)) == 0) return child(s, tasks);
    }
    return usage(argv[0]);
  }

  std::printf("stress: %llu tasks per style and repetition, %d repetitions, batches of %llu tasks, "
              "%u hardware threads\n",
              static_cast<unsigned long long>(tasks), repetitions,
              static_cast<unsigned long long>(k_batch_tasks), std::thread::hardware_concurrency());
  std::fflush(stdout);
  std::map<Style, std::vector<Run>> runs;
  bool failed = false;
  for (int rep = 0; rep < repetitions; ++rep) {
    for (Style s : styles) {
      // Appended piece by piece: g++ 12 -O3 reports a false -Wrestrict on "'" + std::string(...).
      std::string cmd = "'";
      cmd += argv[0];
      cmd += "' --child ";
      cmd += name_of(s);
      cmd += " --tasks ";
      cmd += std::to_string(tasks);
      FILE* p = popen(cmd.c_str(), "r");
      if (!p) {
        std::perror("stress: popen");
        return 1;
      }
      char line[512];
      Run r;
      bool got = false;
      while (std::fgets(line, sizeof line, p)) {
        char style_name[32];
        unsigned long long n = 0;
        double seconds = 0;
        if (std::sscanf(line, "RESULT %31s %llu %lf %ld %llu %llu %llu", style_name, &n, &seconds,
                        &r.rss_kib, &r.lost, &r.doubled, &r.wrong) == 7) {
          r.tasks_per_second = static_cast<double>(n) / seconds;
          got = true;
        } else {
          std::fputs(line, stdout);
        }
      }
      const int status = pclose(p);
      if (!got || status != 0) failed = true;
      if (!got) {
        std::printf("  %s repetition %d: the child printed no result (status %d)\n", name_of(s), rep,
                    status);
        continue;
      }
      std::printf("  %-8s rep %d: %10.0f tasks/s, peak RSS %6.1f MiB, lost %llu, double %llu, "
                  "wrong %llu\n",
                  name_of(s), rep, r.tasks_per_second, static_cast<double>(r.rss_kib) / 1024.0, r.lost,
                  r.doubled, r.wrong);
      std::fflush(stdout);
      runs[s].push_back(r);
    }
  }
  double baseline = 0;
  if (runs.count(Style::explicit_style)) {
    std::vector<double> v;
    for (const Run& r : runs[Style::explicit_style]) v.push_back(r.tasks_per_second);
    baseline = median(v);
  }
  std::printf("\n%-9s %14s %25s %9s %14s %6s %7s %6s\n", "style", "tasks/s (med)", "min - max",
              "vs expl.", "peak RSS (max)", "lost", "double", "wrong");
  for (Style s : styles) {
    std::vector<double> v;
    long rss = 0;
    unsigned long long lost = 0, doubled = 0, wrong = 0;
    for (const Run& r : runs[s]) {
      v.push_back(r.tasks_per_second);
      rss = std::max(rss, r.rss_kib);
      lost += r.lost;
      doubled += r.doubled;
      wrong += r.wrong;
    }
    if (v.empty()) continue;
    const double med = median(v);
    char range[64];
    std::snprintf(range, sizeof range, "%.0f - %.0f", *std::min_element(v.begin(), v.end()),
                  *std::max_element(v.begin(), v.end()));
    char ratio[16] = "-";
    if (baseline > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", med / baseline);
    std::printf("%-9s %14.0f %25s %9s %10.1f MiB %6llu %7llu %6llu\n", name_of(s), med, range, ratio,
                static_cast<double>(rss) / 1024.0, lost, doubled, wrong);
    if (lost || doubled || wrong) failed = true;
  }
  if (failed) {
    std::printf("\nstress: FAILED (a method was lost, ran twice, returned a wrong result, or a "
                "child failed)\n");
    return 1;
  }
  std::printf("\nstress: 0 lost, 0 double-run, 0 wrong\n");
  return 0;
}
