// tests/semantic/style_fiber.cpp — every scenario of styles.hpp as straight-line code on a fiber.
//
// The bodies are the C# bodies of styles.hpp, with `await x` written duet::await(x). Two C#
// constructs have no C++ keyword and are spelled out the same way in every scenario:
//  * `finally` — C++ has none, and a destructor (RAII guard) cannot hold an await that may throw
//    or a log entry that must come after a caught exception's handler. The block is lowered as
//    Roslyn lowers a finally that contains an await (and as style_explicit.cpp does): the try
//    body's exception is parked in a local `pending`, a `return` inside the try stores its value
//    and leaves the try, the finally code runs as ordinary code (so it may await), and afterwards
//    the parked exception is rethrown or the stored value returned. An exception thrown by the
//    finally code itself simply propagates, replacing the parked one, as in C#.
//  * `catch (TestError e) { ... throw; }` — a fiber may await inside a catch handler (the
//    handler's exception state travels with the fiber, see duet/fiber/fiber.hpp), so the C#
//    rethrow is C++'s `throw;`, unchanged.
// Nothing else differs: every scenario of the suite runs in this style, none is skipped.
#include <duet/fiber/fiber.hpp>

#include <exception>
#include <optional>
#include <utility>

#include "styles.hpp"

namespace {

using duet::Task;
using duet::fiber::async;
using styles::Log;
using styles::OtherError;
using styles::TestError;

Task<int> return_value(int v) {
  return async([v] { return v; });
}

Task<int> add(Task<int> a, Task<int> b) {
  return async([a = std::move(a), b = std::move(b)] {
    const int x = duet::await(a);
    const int y = duet::await(b);
    return x + y;
  });
}

Task<int> throw_before_await(int v, Task<int> a) {
  return async([v, a = std::move(a)]() -> int {
    if (v < 0) throw TestError("before");
    return v + duet::await(a);
  });
}

Task<int> throw_after_await(Task<int> a) {
  return async([a = std::move(a)]() -> int {
    const int x = duet::await(a);
    throw TestError("after " + std::to_string(x));
  });
}

Task<int> try_catch_finally(Log& log, Task<int> input) {
  return async([&log, input = std::move(input)] {
    int v = 0;
    log.add("enter");
    std::exception_ptr pending;
    try {
      log.add("try");
      v = duet::await(input);
      log.add("got:" + std::to_string(v));
    } catch (const TestError& e) {
      log.add(std::string("catch:") + e.what());
      v = -1;
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");  // finally
    if (pending) std::rethrow_exception(pending);
    log.add("end");
    return v;
  });
}

Task<int> return_from_try(Log& log, Task<int> input) {
  return async([&log, input = std::move(input)] {
    int v = 0;
    std::optional<int> returned;
    std::exception_ptr pending;
    try {
      log.add("try");
      v = duet::await(input);
      if (v > 0) {
        returned = v * 10;  // return v * 10 — after the finally block
      } else {
        log.add("not-returned");
      }
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");  // finally
    if (pending) std::rethrow_exception(pending);
    if (returned) return *returned;
    log.add("end");
    return v;
  });
}

Task<int> await_in_catch(Log& log, Task<int> input, Task<int> handler) {
  return async([&log, input = std::move(input), handler = std::move(handler)] {
    int v = 0;
    std::exception_ptr pending;
    try {
      try {
        v = duet::await(input);
        log.add("got:" + std::to_string(v));
      } catch (const TestError& e) {
        log.add(std::string("catch:") + e.what());
        v = duet::await(handler);  // suspends inside the handler
        log.add("handled:" + std::to_string(v) + ":" + e.what());
        if (v < 0) throw;
      }
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");  // finally
    if (pending) std::rethrow_exception(pending);
    return v;
  });
}

Task<int> await_in_finally(Log& log, Task<int> input, Task<> cleanup) {
  return async([&log, input = std::move(input), cleanup = std::move(cleanup)] {
    int v = 0;
    std::optional<int> returned;
    std::exception_ptr pending;
    try {
      log.add("try");
      v = duet::await(input);
      if (v == 7) {
        returned = 70;  // return 70 — after the finally block
      } else {
        log.add("got:" + std::to_string(v));
      }
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");  // finally (an exception from the await below replaces `pending`)
    duet::await(cleanup);
    log.add("cleaned");
    if (pending) std::rethrow_exception(pending);
    if (returned) return *returned;
    log.add("end");
    return v;
  });
}

Task<int> nested(Log& log, Task<int> input, Task<> cleanup) {
  return async([&log, input = std::move(input), cleanup = std::move(cleanup)] {
    int v = 0;
    std::optional<int> returned;
    std::exception_ptr outer_pending;
    try {
      try {
        std::exception_ptr inner_pending;
        try {
          log.add("inner-try");
          v = duet::await(input);
          if (v == 42) {
            returned = 420;  // return 420 — after both finally blocks
          } else {
            log.add("inner-got:" + std::to_string(v));
          }
        } catch (const TestError& e) {
          try {
            log.add(std::string("inner-catch:") + e.what());
            duet::await(cleanup);
            throw OtherError(std::string("from inner catch: ") + e.what());
          } catch (...) {
            inner_pending = std::current_exception();  // the catch block's exception
          }
        } catch (...) {
          inner_pending = std::current_exception();
        }
        log.add("inner-finally");  // inner finally
        duet::await(cleanup);
        log.add("inner-finally-end");
        if (inner_pending) std::rethrow_exception(inner_pending);
        if (!returned) log.add("after-inner");
      } catch (const OtherError& e) {
        log.add(std::string("outer-catch:") + e.what());
        v = -2;
      }
    } catch (...) {
      outer_pending = std::current_exception();
    }
    log.add("outer-finally");  // outer finally
    if (outer_pending) std::rethrow_exception(outer_pending);
    if (returned) return *returned;
    log.add("end");
    return v;
  });
}

Task<int> retry(Log& log, std::vector<Task<int>> attempts, Task<> backoff) {
  return async([&log, attempts = std::move(attempts), backoff = std::move(backoff)] {
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      try {
        const int v = duet::await(attempts[i]);
        log.add("ok:" + std::to_string(v));
        return v;
      } catch (const TestError& e) {
        log.add(std::string("retry:") + e.what());
        duet::await(backoff);
      }
    }
    log.add("gave-up");
    return -1;
  });
}

Task<int> sum_loop(std::vector<Task<int>> parts) {
  return async([parts = std::move(parts)] {
    int sum = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) sum += duet::await(parts[i]);
    return sum;
  });
}

Task<int> yield_loop(int n) {
  return async([n] {
    int i = 0;
    while (i < n) {
      duet::await(duet::yield());
      ++i;
    }
    return i;
  });
}

Task<std::string> concat(Task<std::string> a, Task<std::string> b) {
  return async([a = std::move(a), b = std::move(b)] {
    std::string x = duet::await(a);
    std::string y = duet::await(b);
    return x + "+" + y;
  });
}

Task<std::unique_ptr<int>> bump_unique(Task<std::unique_ptr<int>> input) {
  return async([input = std::move(input)] {
    std::unique_ptr<int> p = duet::await(input);
    *p += 1;
    return p;
  });
}

Task<> void_method(Log& log, Task<> input) {
  return async([&log, input = std::move(input)] {
    log.add("start");
    duet::await(input);
    log.add("done");
  });
}

Task<std::string> shapes(Task<> gate, int mode) {
  return async([gate = std::move(gate), mode]() -> std::string {
    std::string log;
    std::optional<std::string> returned;
    std::exception_ptr p1;
    try {
      try {
        std::exception_ptr p3;
        try {
          log += "t3 ";
          duet::await(gate);
          if (mode == 1) throw TestError("deep");
          if (mode == 2) returned = log + "returned";  // return — after the finally blocks
        } catch (...) {
          p3 = std::current_exception();
        }
        log += "f3 ";  // finally f3
        duet::await(gate);
        if (p3) std::rethrow_exception(p3);
      } catch (...) {  // catch-all (an await inside the handler, then `throw;`)
        log += "catch-all ";
        try {
          duet::await(gate);
          throw;
        } catch (const TestError& e) {
          log += std::string("inner:") + e.what() + " ";
        }
      }
    } catch (...) {
      p1 = std::current_exception();
    }
    {  // finally f1: try { log += "f1 "; await gate; } finally { log += "f1f "; }
      std::exception_ptr p1f;
      try {
        log += "f1 ";
        duet::await(gate);
      } catch (...) {
        p1f = std::current_exception();
      }
      log += "f1f ";
      if (p1f) std::rethrow_exception(p1f);
    }
    if (p1) std::rethrow_exception(p1);
    if (returned) return *returned;
    return log + "end";
  });
}

Task<> void_return_in_try(Log& log, Task<> gate) {
  return async([&log, gate = std::move(gate)] {
    bool returned = false;
    std::exception_ptr pending;
    try {
      duet::await(gate);
      returned = true;  // return — after the finally block
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");
    if (pending) std::rethrow_exception(pending);
    if (returned) return;
    log.add("unreachable");
  });
}

duet::ValueTask<> value_task_return_through_finally(Log& log, Task<> first, Task<> second) {
  return duet::fiber::async_value([&log, first = std::move(first), second = std::move(second)] {
    bool returned = false;
    std::exception_ptr pending;
    try {
      log.add("try");
      duet::await(first);
      returned = true;  // return — after the finally block
    } catch (...) {
      pending = std::current_exception();
    }
    log.add("finally");  // finally (an exception from the await below replaces `pending`)
    duet::await(second);
    log.add("after-await-in-finally");
    if (pending) std::rethrow_exception(pending);
    if (returned) return;
    log.add("unreachable");
  });
}

const styles::Style k_fiber_style{
    .name = "fiber",
    .return_value = &return_value,
    .add = &add,
    .throw_before_await = &throw_before_await,
    .throw_after_await = &throw_after_await,
    .try_catch_finally = &try_catch_finally,
    .return_from_try = &return_from_try,
    .await_in_catch = &await_in_catch,
    .await_in_finally = &await_in_finally,
    .nested = &nested,
    .retry = &retry,
    .sum_loop = &sum_loop,
    .yield_loop = &yield_loop,
    .concat = &concat,
    .bump_unique = &bump_unique,
    .void_method = &void_method,
    .shapes = &shapes,
    .void_return_in_try = &void_return_in_try,
    .value_task_return_through_finally = &value_task_return_through_finally,
};

const styles::StyleRegistration k_register(k_fiber_style);

}  // namespace
