// tests/semantic/style_explicit.cpp — every scenario of styles.hpp as a hand-written state
// machine, shaped as Roslyn lowers an async method: state_ (-1 running, n suspended at await n,
// -2 done), the builder, hoisted locals and one field per awaiter type; resumption jumps back
// with `goto` (Roslyn's IL does the same) and dispatches again *inside* each try block, because
// C++, like the CLR, cannot jump into a try block from outside. finally blocks are lowered as
// Roslyn lowers finally blocks that contain awaits: the exception is parked in a member, the
// finally code runs as ordinary code, and the exception is rethrown after it; a `return` inside
// the try stores the value and jumps to the finally code first.
#include <utility>

#include "explicit_steps.hpp"
#include "styles.hpp"

namespace {

using duet::AsyncTaskMethodBuilder;
using duet::Task;
using duet::TaskAwaiter;
using explicit_steps::fail;
using explicit_steps::finish;
using explicit_steps::resume_from;
using explicit_steps::suspend_at;
using styles::Log;
using styles::OtherError;
using styles::TestError;

template <class M>
auto start_machine(M m) {
  m.builder_.start(m);
  return m.builder_.task();
}

struct ReturnValueSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  int v_{};
  void move_next() {
    finish(*this, v_);
  }
};

struct AddSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Task<int> a_{}, b_{};
  int x_ = 0, y_ = 0;
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      switch (state_) {
        case -1:
          if (suspend_at(*this, aw_, a_, 0)) return;
          [[fallthrough]];
        case 0:
          x_ = resume_from(*this, aw_);
          if (suspend_at(*this, aw_, b_, 1)) return;
          [[fallthrough]];
        case 1:
          y_ = resume_from(*this, aw_);
          finish(*this, x_ + y_);
          return;
        default:
          throw duet::InvalidOperationError("AddSm: bad state");
      }
    } catch (...) {
      fail(*this);
    }
  }
};

struct ThrowBeforeAwaitSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  int v_{};
  Task<int> a_{};
  int x_ = 0;
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      if (v_ < 0) throw TestError("before");
      if (suspend_at(*this, aw_, a_, 0)) return;
    resume0:
      x_ = resume_from(*this, aw_);
      finish(*this, v_ + x_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct ThrowAfterAwaitSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Task<int> a_{};
  int x_ = 0;
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      if (suspend_at(*this, aw_, a_, 0)) return;
    resume0:
      x_ = resume_from(*this, aw_);
      throw TestError("after " + std::to_string(x_));
    } catch (...) {
      fail(*this);
    }
  }
};

struct TryCatchFinallySm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  Task<int> input_{};
  int v_ = 0;
  std::exception_ptr pending_{};  // the exception to rethrow after the finally code
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      if (state_ != 0) log_->add("enter");
      try {
        try {
          if (state_ == 0) goto resume0;
          log_->add("try");
          if (suspend_at(*this, aw_, input_, 0)) return;  // suspending: the finally code below does not run
        resume0:
          v_ = resume_from(*this, aw_);
          log_->add("got:" + std::to_string(v_));
        } catch (const TestError& e) {
          log_->add(std::string("catch:") + e.what());
          v_ = -1;
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      log_->add("end");
      finish(*this, v_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct ReturnFromTrySm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  Task<int> input_{};
  int v_ = 0;
  int result_ = 0;         // the value of a return that waits for the finally code
  bool returning_ = false;
  std::exception_ptr pending_{};
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      try {
        if (state_ == 0) goto resume0;
        log_->add("try");
        if (suspend_at(*this, aw_, input_, 0)) return;
      resume0:
        v_ = resume_from(*this, aw_);
        if (v_ > 0) {
          result_ = v_ * 10;
          returning_ = true;
          goto finally;
        }
        log_->add("not-returned");
      } catch (...) {
        pending_ = std::current_exception();
      }
    finally:
      log_->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (returning_) {
        finish(*this, result_);
        return;
      }
      log_->add("end");
      finish(*this, v_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct AwaitInCatchSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  Task<int> input_{}, handler_{};
  int v_ = 0;
  std::exception_ptr caught_{};  // the exception the catch block handles (Roslyn: object <>s__1)
  std::string caught_what_{};
  std::exception_ptr pending_{};
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      try {
        if (state_ == 1) goto resume1;
        try {
          if (state_ == 0) goto resume0;
          if (suspend_at(*this, aw_, input_, 0)) return;
        resume0:
          v_ = resume_from(*this, aw_);
          log_->add("got:" + std::to_string(v_));
        } catch (const TestError& e) {
          caught_ = std::current_exception();
          caught_what_ = e.what();
        }
        if (caught_) {  // the catch block, moved out of the C++ handler so it may await
          log_->add("catch:" + caught_what_);
          if (suspend_at(*this, aw_, handler_, 1)) return;
        resume1:
          v_ = resume_from(*this, aw_);
          log_->add("handled:" + std::to_string(v_) + ":" + caught_what_);
          if (v_ < 0) std::rethrow_exception(caught_);  // `throw;`
          caught_ = nullptr;
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      finish(*this, v_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct AwaitInFinallySm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  Task<int> input_{};
  Task<> cleanup_{};
  int v_ = 0;
  int result_ = 0;
  bool returning_ = false;
  std::exception_ptr pending_{};
  TaskAwaiter<int> aw_{};
  TaskAwaiter<void> void_aw_{};
  void move_next() {
    try {
      if (state_ == 1) goto resume1;
      try {
        if (state_ == 0) goto resume0;
        log_->add("try");
        if (suspend_at(*this, aw_, input_, 0)) return;
      resume0:
        v_ = resume_from(*this, aw_);
        if (v_ == 7) {
          result_ = 70;
          returning_ = true;
          goto finally;
        }
        log_->add("got:" + std::to_string(v_));
      } catch (...) {
        pending_ = std::current_exception();
      }
    finally:
      log_->add("finally");
      if (suspend_at(*this, void_aw_, cleanup_, 1)) return;
    resume1:
      resume_from(*this, void_aw_);
      log_->add("cleaned");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (returning_) {
        finish(*this, result_);
        return;
      }
      log_->add("end");
      finish(*this, v_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct NestedSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  Task<int> input_{};
  Task<> cleanup_{};
  int v_ = 0;
  int result_ = 0;
  bool returning_ = false;
  std::exception_ptr inner_caught_{};
  std::string caught_what_{};
  std::exception_ptr inner_pending_{};
  std::exception_ptr outer_pending_{};
  TaskAwaiter<int> aw_{};
  TaskAwaiter<void> void_aw_{};
  void move_next() {
    try {
      try {
        try {  // outer try body
          if (state_ == 2) goto resume2;
          try {  // captures everything for the inner finally
            if (state_ == 1) goto resume1;
            try {  // inner try body
              if (state_ == 0) goto resume0;
              log_->add("inner-try");
              if (suspend_at(*this, aw_, input_, 0)) return;
            resume0:
              v_ = resume_from(*this, aw_);
              if (v_ == 42) {
                result_ = 420;
                returning_ = true;
                goto inner_finally;
              }
              log_->add("inner-got:" + std::to_string(v_));
            } catch (const TestError& e) {
              inner_caught_ = std::current_exception();
              caught_what_ = e.what();
            }
            if (inner_caught_) {  // inner catch block
              log_->add("inner-catch:" + caught_what_);
              if (suspend_at(*this, void_aw_, cleanup_, 1)) return;
            resume1:
              resume_from(*this, void_aw_);
              inner_caught_ = nullptr;
              throw OtherError("from inner catch: " + caught_what_);
            }
          } catch (...) {
            inner_pending_ = std::current_exception();
          }
        inner_finally:
          log_->add("inner-finally");
          if (suspend_at(*this, void_aw_, cleanup_, 2)) return;
        resume2:
          resume_from(*this, void_aw_);
          log_->add("inner-finally-end");
          if (inner_pending_) std::rethrow_exception(std::exchange(inner_pending_, nullptr));
          if (returning_) goto outer_finally;
          log_->add("after-inner");
        } catch (const OtherError& e) {  // outer catch block (no await: stays a C++ handler)
          log_->add(std::string("outer-catch:") + e.what());
          v_ = -2;
        }
      } catch (...) {
        outer_pending_ = std::current_exception();
      }
    outer_finally:
      log_->add("outer-finally");
      if (outer_pending_) std::rethrow_exception(std::exchange(outer_pending_, nullptr));
      if (returning_) {
        finish(*this, result_);
        return;
      }
      log_->add("end");
      finish(*this, v_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct RetrySm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  Log* log_;
  std::vector<Task<int>> attempts_{};
  Task<> backoff_{};
  std::size_t i_ = 0;
  int v_ = 0;
  std::exception_ptr caught_{};
  std::string caught_what_{};
  TaskAwaiter<int> aw_{};
  TaskAwaiter<void> void_aw_{};
  void move_next() {
    try {
      if (state_ == 0 || state_ == 1) goto loop_body;
      for (i_ = 0; i_ < attempts_.size(); ++i_) {
      loop_body:
        if (state_ == 1) goto resume1;
        try {
          if (state_ == 0) goto resume0;
          if (suspend_at(*this, aw_, attempts_[i_], 0)) return;
        resume0:
          v_ = resume_from(*this, aw_);
          log_->add("ok:" + std::to_string(v_));
          finish(*this, v_);
          return;
        } catch (const TestError& e) {
          caught_ = std::current_exception();
          caught_what_ = e.what();
        }
        if (caught_) {
          log_->add("retry:" + caught_what_);
          if (suspend_at(*this, void_aw_, backoff_, 1)) return;
        resume1:
          resume_from(*this, void_aw_);
          caught_ = nullptr;
        }
      }
      log_->add("gave-up");
      finish(*this, -1);
    } catch (...) {
      fail(*this);
    }
  }
};

struct SumLoopSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  std::vector<Task<int>> parts_{};
  std::size_t i_ = 0;
  int sum_ = 0, x_ = 0;
  TaskAwaiter<int> aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      for (i_ = 0; i_ < parts_.size(); ++i_) {
        if (suspend_at(*this, aw_, parts_[i_], 0)) return;
      resume0:
        x_ = resume_from(*this, aw_);
        sum_ += x_;
      }
      finish(*this, sum_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct YieldLoopSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<int> builder_{};
  int n_, i_ = 0;
  duet::YieldAwaitable::YieldAwaiter aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      while (i_ < n_) {
        if (suspend_at(*this, aw_, duet::yield(), 0)) return;
      resume0:
        state_ = -1;
        aw_.get_result();
        ++i_;
      }
      finish(*this, i_);
    } catch (...) {
      fail(*this);
    }
  }
};

struct ConcatSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<std::string> builder_{};
  Task<std::string> a_{}, b_{};
  std::string x_{}, y_{};
  TaskAwaiter<std::string> aw_{};
  void move_next() {
    try {
      switch (state_) {
        case -1:
          if (suspend_at(*this, aw_, a_, 0)) return;
          [[fallthrough]];
        case 0:
          x_ = resume_from(*this, aw_);
          if (suspend_at(*this, aw_, b_, 1)) return;
          [[fallthrough]];
        case 1:
          y_ = resume_from(*this, aw_);
          finish(*this, x_ + "+" + y_);
          return;
        default:
          throw duet::InvalidOperationError("ConcatSm: bad state");
      }
    } catch (...) {
      fail(*this);
    }
  }
};

struct BumpUniqueSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<std::unique_ptr<int>> builder_{};
  Task<std::unique_ptr<int>> input_{};
  std::unique_ptr<int> p_{};
  TaskAwaiter<std::unique_ptr<int>> aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      if (suspend_at(*this, aw_, input_, 0)) return;
    resume0:
      p_ = resume_from(*this, aw_);
      *p_ += 1;
      finish(*this, std::move(p_));
    } catch (...) {
      fail(*this);
    }
  }
};

struct VoidMethodSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<> builder_{};
  Log* log_;
  Task<> input_{};
  TaskAwaiter<void> aw_{};
  void move_next() {
    try {
      if (state_ == 0) goto resume0;
      log_->add("start");
      if (suspend_at(*this, aw_, input_, 0)) return;
    resume0:
      resume_from(*this, aw_);
      log_->add("done");
      finish(*this);
    } catch (...) {
      fail(*this);
    }
  }
};

// ShapesSm — three nested try statements; awaits in a try body (state 0), an inner finally
// (1), a try inside a catch-all (2) and a try inside the outer finally (3). Each resume point is
// reached by dispatching again at the entry of every try block that encloses it.
struct ShapesSm {
  int state_ = -1;
  AsyncTaskMethodBuilder<std::string> builder_{};
  Task<> gate_{};
  int mode_ = 0;
  std::string log_{};
  std::string result_{};
  bool returning_ = false;
  std::exception_ptr p3_{};      // parked for finally f3
  std::exception_ptr caught_{};  // the exception the catch-all block handles
  std::exception_ptr p1_{};      // parked for finally f1
  std::exception_ptr p1f_{};     // parked for the finally inside f1
  TaskAwaiter<void> aw_{};

  void move_next() {
    try {
      if (state_ != 3) {
        try {  // outer try body (finally f1)
          if (state_ != 2) {
            try {  // middle try body (catch-all)
              if (state_ == 1) goto resume1;
              try {  // t3 try body (finally f3)
                if (state_ == 0) goto resume0;
                log_ += "t3 ";
                if (suspend_at(*this, aw_, gate_, 0)) return;
              resume0:
                state_ = -1;
                aw_.get_result();
                if (mode_ == 1) throw TestError("deep");
                if (mode_ == 2) {
                  result_ = log_ + "returned";  // return: the value now, the finally blocks next
                  returning_ = true;
                }
              } catch (...) {
                p3_ = std::current_exception();
              }
              log_ += "f3 ";  // finally f3
              if (suspend_at(*this, aw_, gate_, 1)) return;
            resume1:
              state_ = -1;
              aw_.get_result();
              if (p3_) std::rethrow_exception(std::exchange(p3_, nullptr));
              if (returning_) goto outer_finally;
            } catch (...) {
              caught_ = std::current_exception();
            }
          }
          if (caught_) {  // the catch-all block, outside the C++ handler so it may await
            if (state_ != 2) log_ += "catch-all ";
            try {
              if (state_ == 2) goto resume2;
              if (suspend_at(*this, aw_, gate_, 2)) return;
            resume2:
              state_ = -1;
              aw_.get_result();
              std::rethrow_exception(caught_);  // throw;
            } catch (const TestError& e) {
              log_ += std::string("inner:") + e.what() + " ";
            }
            caught_ = nullptr;
          }
        } catch (...) {
          p1_ = std::current_exception();
        }
      }
    outer_finally:
      try {  // finally f1: try { ... } finally { log += "f1f "; }
        if (state_ == 3) goto resume3;
        log_ += "f1 ";
        if (suspend_at(*this, aw_, gate_, 3)) return;
      resume3:
        state_ = -1;
        aw_.get_result();
      } catch (...) {
        p1f_ = std::current_exception();
      }
      log_ += "f1f ";
      if (p1f_) std::rethrow_exception(std::exchange(p1f_, nullptr));
      if (p1_) std::rethrow_exception(std::exchange(p1_, nullptr));
      if (!returning_) result_ = log_ + "end";
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this, std::move(result_));
  }
};

struct VoidReturnInTrySm {
  int state_ = -1;
  AsyncTaskMethodBuilder<> builder_{};
  Log* log_;
  Task<> gate_{};
  bool returning_ = false;
  std::exception_ptr pending_{};
  TaskAwaiter<void> aw_{};
  void move_next() {
    try {
      try {
        if (state_ == 0) goto resume0;
        if (suspend_at(*this, aw_, gate_, 0)) return;
      resume0:
        state_ = -1;
        aw_.get_result();
        returning_ = true;  // return;
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (!returning_) log_->add("unreachable");
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this);
  }
};

struct ReturnThroughFinallySm {
  int state_ = -1;
  duet::PoolingAsyncValueTaskMethodBuilder<> builder_{};
  Log* log_;
  Task<> first_{}, second_{};
  bool returning_ = false;
  std::exception_ptr pending_{};
  TaskAwaiter<void> aw_{};
  void move_next() {
    try {
      if (state_ == 1) goto resume1;
      try {
        if (state_ == 0) goto resume0;
        log_->add("try");
        if (suspend_at(*this, aw_, first_, 0)) return;
      resume0:
        state_ = -1;
        aw_.get_result();
        returning_ = true;  // return;
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      if (suspend_at(*this, aw_, second_, 1)) return;
    resume1:
      state_ = -1;
      aw_.get_result();
      log_->add("after-await-in-finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (!returning_) log_->add("unreachable");
    } catch (...) {
      fail(*this);
      return;
    }
    finish(*this);
  }
};

const styles::Style k_explicit_style{
    .name = "explicit",
    .return_value = [](int v) { return start_machine(ReturnValueSm{.v_ = v}); },
    .add = [](Task<int> a, Task<int> b) { return start_machine(AddSm{.a_ = std::move(a), .b_ = std::move(b)}); },
    .throw_before_await = [](int v, Task<int> a) { return start_machine(ThrowBeforeAwaitSm{.v_ = v, .a_ = std::move(a)}); },
    .throw_after_await = [](Task<int> a) { return start_machine(ThrowAfterAwaitSm{.a_ = std::move(a)}); },
    .try_catch_finally = [](Log& log, Task<int> in) {
      return start_machine(TryCatchFinallySm{.log_ = &log, .input_ = std::move(in)});
    },
    .return_from_try = [](Log& log, Task<int> in) {
      return start_machine(ReturnFromTrySm{.log_ = &log, .input_ = std::move(in)});
    },
    .await_in_catch = [](Log& log, Task<int> in, Task<int> h) {
      return start_machine(AwaitInCatchSm{.log_ = &log, .input_ = std::move(in), .handler_ = std::move(h)});
    },
    .await_in_finally = [](Log& log, Task<int> in, Task<> c) {
      return start_machine(AwaitInFinallySm{.log_ = &log, .input_ = std::move(in), .cleanup_ = std::move(c)});
    },
    .nested = [](Log& log, Task<int> in, Task<> c) {
      return start_machine(NestedSm{.log_ = &log, .input_ = std::move(in), .cleanup_ = std::move(c)});
    },
    .retry = [](Log& log, std::vector<Task<int>> a, Task<> b) {
      return start_machine(RetrySm{.log_ = &log, .attempts_ = std::move(a), .backoff_ = std::move(b)});
    },
    .sum_loop = [](std::vector<Task<int>> parts) { return start_machine(SumLoopSm{.parts_ = std::move(parts)}); },
    .yield_loop = [](int n) { return start_machine(YieldLoopSm{.n_ = n}); },
    .concat = [](Task<std::string> a, Task<std::string> b) {
      return start_machine(ConcatSm{.a_ = std::move(a), .b_ = std::move(b)});
    },
    .bump_unique = [](Task<std::unique_ptr<int>> in) { return start_machine(BumpUniqueSm{.input_ = std::move(in)}); },
    .void_method = [](Log& log, Task<> in) { return start_machine(VoidMethodSm{.log_ = &log, .input_ = std::move(in)}); },
    .shapes = [](Task<> gate, int mode) { return start_machine(ShapesSm{.gate_ = std::move(gate), .mode_ = mode}); },
    .void_return_in_try = [](Log& log, Task<> gate) {
      return start_machine(VoidReturnInTrySm{.log_ = &log, .gate_ = std::move(gate)});
    },
    .value_task_return_through_finally = [](Log& log, Task<> first, Task<> second) {
      return start_machine(
          ReturnThroughFinallySm{.log_ = &log, .first_ = std::move(first), .second_ = std::move(second)});
    },
};

const styles::StyleRegistration k_register(k_explicit_style);

}  // namespace
