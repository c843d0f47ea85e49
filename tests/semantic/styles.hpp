// tests/semantic/styles.hpp — the one semantic suite every style must pass: the scenario
// interface each style implements, and the registry the suite is parameterised over.
//
// A style is a file tests/semantic/style_<name>.cpp that defines a `Style` (one function per
// scenario below, each written in that style) and registers it with a static
// `StyleRegistration`. tests/semantic/meson.build compiles every style file that exists into the
// one test binary, so adding the fiber style is adding style_fiber.cpp — nothing else changes.
//
// Each scenario is described here in C#; every style must implement exactly that method. The
// suite (test_styles.cpp) drives the inputs with TaskCompletionSources completed on the test
// thread, so continuations run inline and every observation is deterministic (no sleeps).
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <duet/duet.hpp>

namespace styles {

// Log — the ordered trace a scenario writes ("enter try got:5 finally end"). Thread-safe.
class Log {
 public:
  void add(const std::string& entry) {
    std::lock_guard<std::mutex> g(m_);
    if (!text_.empty()) text_ += ' ';
    text_ += entry;
  }
  std::string str() const {
    std::lock_guard<std::mutex> g(m_);
    return text_;
  }

 private:
  mutable std::mutex m_;
  std::string text_;
};

// TestError / OtherError — the exception types the scenarios throw and catch.
struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct OtherError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Style — one implementation of every scenario.
struct Style {
  const char* name;

  // async Task<int> ReturnValue(int v) { return v; }                 (no await at all)
  duet::Task<int> (*return_value)(int v);

  // async Task<int> Add(Task<int> a, Task<int> b) { int x = await a; int y = await b;
  //                                                  return x + y; }
  duet::Task<int> (*add)(duet::Task<int> a, duet::Task<int> b);

  // async Task<int> ThrowBeforeAwait(int v, Task<int> a) {
  //   if (v < 0) throw new TestError("before"); return v + await a; }
  duet::Task<int> (*throw_before_await)(int v, duet::Task<int> a);

  // async Task<int> ThrowAfterAwait(Task<int> a) {
  //   int x = await a; throw new TestError("after " + x); }
  duet::Task<int> (*throw_after_await)(duet::Task<int> a);

  // async Task<int> TryCatchFinally(Log log, Task<int> input) {
  //   int v = 0; log("enter");
  //   try { log("try"); v = await input; log("got:" + v); }
  //   catch (TestError e) { log("catch:" + e.Message); v = -1; }
  //   finally { log("finally"); }
  //   log("end"); return v; }
  duet::Task<int> (*try_catch_finally)(Log& log, duet::Task<int> input);

  // async Task<int> ReturnFromTry(Log log, Task<int> input) {
  //   int v = 0;
  //   try { log("try"); v = await input; if (v > 0) return v * 10; log("not-returned"); }
  //   finally { log("finally"); }
  //   log("end"); return v; }
  duet::Task<int> (*return_from_try)(Log& log, duet::Task<int> input);

  // async Task<int> AwaitInCatch(Log log, Task<int> input, Task<int> handler) {
  //   int v = 0;
  //   try { v = await input; log("got:" + v); }
  //   catch (TestError e) { log("catch:" + e.Message); v = await handler;
  //                         log("handled:" + v + ":" + e.Message); if (v < 0) throw; }
  //   finally { log("finally"); }
  //   return v; }
  duet::Task<int> (*await_in_catch)(Log& log, duet::Task<int> input, duet::Task<int> handler);

  // async Task<int> AwaitInFinally(Log log, Task<int> input, Task cleanup) {
  //   int v = 0;
  //   try { log("try"); v = await input; if (v == 7) return 70; log("got:" + v); }
  //   finally { log("finally"); await cleanup; log("cleaned"); }
  //   log("end"); return v; }
  duet::Task<int> (*await_in_finally)(Log& log, duet::Task<int> input, duet::Task<> cleanup);

  // async Task<int> Nested(Log log, Task<int> input, Task cleanup) {
  //   int v = 0;
  //   try {
  //     try { log("inner-try"); v = await input; if (v == 42) return 420; log("inner-got:" + v); }
  //     catch (TestError e) { log("inner-catch:" + e.Message); await cleanup;
  //                           throw new OtherError("from inner catch: " + e.Message); }
  //     finally { log("inner-finally"); await cleanup; log("inner-finally-end"); }
  //     log("after-inner");
  //   }
  //   catch (OtherError e) { log("outer-catch:" + e.Message); v = -2; }
  //   finally { log("outer-finally"); }
  //   log("end"); return v; }
  duet::Task<int> (*nested)(Log& log, duet::Task<int> input, duet::Task<> cleanup);

  // async Task<int> Retry(Log log, List<Task<int>> attempts, Task backoff) {
  //   for (int i = 0; i < attempts.Count; ++i) {
  //     try { int v = await attempts[i]; log("ok:" + v); return v; }
  //     catch (TestError e) { log("retry:" + e.Message); await backoff; }
  //   }
  //   log("gave-up"); return -1; }
  duet::Task<int> (*retry)(Log& log, std::vector<duet::Task<int>> attempts, duet::Task<> backoff);

  // async Task<int> SumLoop(List<Task<int>> parts) {
  //   int sum = 0; for (int i = 0; i < parts.Count; ++i) sum += await parts[i]; return sum; }
  duet::Task<int> (*sum_loop)(std::vector<duet::Task<int>> parts);

  // async Task<int> YieldLoop(int n) { int i = 0; while (i < n) { await Task.Yield(); ++i; }
  //                                    return i; }                   (resumes on the pool)
  duet::Task<int> (*yield_loop)(int n);

  // async Task<string> Concat(Task<string> a, Task<string> b) {
  //   string x = await a; string y = await b; return x + "+" + y; }
  duet::Task<std::string> (*concat)(duet::Task<std::string> a, duet::Task<std::string> b);

  // async Task<unique_ptr<int>> Bump(Task<unique_ptr<int>> input) {
  //   var p = await input; *p += 1; return p; }                      (a move-only result)
  duet::Task<std::unique_ptr<int>> (*bump_unique)(duet::Task<std::unique_ptr<int>> input);

  // async Task VoidMethod(Log log, Task input) {
  //   log("start"); await input; log("done"); }
  duet::Task<> (*void_method)(Log& log, duet::Task<> input);

  // async Task<string> Shapes(Task gate, int mode) {     (try statements nested three deep)
  //   string log = "";
  //   try {
  //     try {
  //       try { log += "t3 "; await gate; if (mode == 1) throw new TestError("deep");
  //             if (mode == 2) return log + "returned"; }
  //       finally { log += "f3 "; await gate; }
  //     } catch { log += "catch-all ";
  //               try { await gate; throw; } catch (TestError e) { log += "inner:" + e.Message + " "; } }
  //   } finally { try { log += "f1 "; await gate; } finally { log += "f1f "; } }
  //   return log + "end"; }
  duet::Task<std::string> (*shapes)(duet::Task<> gate, int mode);

  // async Task VoidReturnInTry(Log log, Task gate) {
  //   try { await gate; return; } finally { log("finally"); } log("unreachable"); }
  duet::Task<> (*void_return_in_try)(Log& log, duet::Task<> gate);

  // [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
  // async ValueTask ReturnThroughFinally(Log log, Task first, Task second) {
  //   try { log("try"); await first; return; }
  //   finally { log("finally"); await second; log("after-await-in-finally"); }
  //   log("unreachable"); }
  duet::ValueTask<> (*value_task_return_through_finally)(Log& log, duet::Task<> first, duet::Task<> second);
};

// registered_styles() — every style linked into the test binary, in registration order.
std::vector<const Style*>& registered_styles();

// StyleRegistration — `static const StyleRegistration reg(my_style);` in a style file.
struct StyleRegistration {
  explicit StyleRegistration(const Style& s) { registered_styles().push_back(&s); }
};

}  // namespace styles
