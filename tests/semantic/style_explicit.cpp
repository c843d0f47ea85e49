// tests/semantic/style_explicit.cpp — every scenario of styles.hpp as a hand-written state
// machine, shaped as Roslyn lowers an async method: state_ (-1 running, n suspended at await n,
// -2 done), the builder, hoisted locals and one field per awaiter type; resumption jumps back
// with `goto` (Roslyn's IL does the same) and dispatches again *inside* each try block, because
// C++, like the CLR, cannot jump into a try block from outside. finally blocks are lowered as
// Roslyn lowers finally blocks that contain awaits: the exception is parked in a member, the
// finally code runs as ordinary code, and the exception is rethrown after it; a `return` inside
// the try stores the value and jumps to the finally code first.
#include <utility>

#include "styles.hpp"

namespace {

using duet::AsyncTaskMethodBuilder;
using duet::Task;
using duet::TaskAwaiter;
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
    state_ = -2;
    builder_.set_result(v_);
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
          aw_ = a_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
          [[fallthrough]];
        case 0:
          state_ = -1;
          x_ = aw_.get_result();
          aw_ = {};
          aw_ = b_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
          [[fallthrough]];
        case 1:
          state_ = -1;
          y_ = aw_.get_result();
          aw_ = {};
          state_ = -2;
          builder_.set_result(x_ + y_);
          return;
        default:
          throw duet::InvalidOperationError("AddSm: bad state");
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
      aw_ = a_.get_awaiter();
      if (!aw_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(aw_, *this);
        return;
      }
    resume0:
      state_ = -1;
      x_ = aw_.get_result();
      aw_ = {};
      state_ = -2;
      builder_.set_result(v_ + x_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
      aw_ = a_.get_awaiter();
      if (!aw_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(aw_, *this);
        return;
      }
    resume0:
      state_ = -1;
      x_ = aw_.get_result();
      aw_ = {};
      throw TestError("after " + std::to_string(x_));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
          aw_ = input_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;  // suspending: the finally code below does not run
          }
        resume0:
          state_ = -1;
          v_ = aw_.get_result();
          aw_ = {};
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
      state_ = -2;
      builder_.set_result(v_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
        aw_ = input_.get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
      resume0:
        state_ = -1;
        v_ = aw_.get_result();
        aw_ = {};
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
        state_ = -2;
        builder_.set_result(result_);
        return;
      }
      log_->add("end");
      state_ = -2;
      builder_.set_result(v_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
          aw_ = input_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
        resume0:
          state_ = -1;
          v_ = aw_.get_result();
          aw_ = {};
          log_->add("got:" + std::to_string(v_));
        } catch (const TestError& e) {
          caught_ = std::current_exception();
          caught_what_ = e.what();
        }
        if (caught_) {  // the catch block, moved out of the C++ handler so it may await
          log_->add("catch:" + caught_what_);
          aw_ = handler_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
        resume1:
          state_ = -1;
          v_ = aw_.get_result();
          aw_ = {};
          log_->add("handled:" + std::to_string(v_) + ":" + caught_what_);
          if (v_ < 0) std::rethrow_exception(caught_);  // `throw;`
          caught_ = nullptr;
        }
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      state_ = -2;
      builder_.set_result(v_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
        aw_ = input_.get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
      resume0:
        state_ = -1;
        v_ = aw_.get_result();
        aw_ = {};
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
      void_aw_ = cleanup_.get_awaiter();
      if (!void_aw_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(void_aw_, *this);
        return;
      }
    resume1:
      state_ = -1;
      void_aw_.get_result();
      void_aw_ = {};
      log_->add("cleaned");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (returning_) {
        state_ = -2;
        builder_.set_result(result_);
        return;
      }
      log_->add("end");
      state_ = -2;
      builder_.set_result(v_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
              aw_ = input_.get_awaiter();
              if (!aw_.is_completed()) {
                state_ = 0;
                builder_.await_unsafe_on_completed(aw_, *this);
                return;
              }
            resume0:
              state_ = -1;
              v_ = aw_.get_result();
              aw_ = {};
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
              void_aw_ = cleanup_.get_awaiter();
              if (!void_aw_.is_completed()) {
                state_ = 1;
                builder_.await_unsafe_on_completed(void_aw_, *this);
                return;
              }
            resume1:
              state_ = -1;
              void_aw_.get_result();
              void_aw_ = {};
              inner_caught_ = nullptr;
              throw OtherError("from inner catch: " + caught_what_);
            }
          } catch (...) {
            inner_pending_ = std::current_exception();
          }
        inner_finally:
          log_->add("inner-finally");
          void_aw_ = cleanup_.get_awaiter();
          if (!void_aw_.is_completed()) {
            state_ = 2;
            builder_.await_unsafe_on_completed(void_aw_, *this);
            return;
          }
        resume2:
          state_ = -1;
          void_aw_.get_result();
          void_aw_ = {};
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
        state_ = -2;
        builder_.set_result(result_);
        return;
      }
      log_->add("end");
      state_ = -2;
      builder_.set_result(v_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
          aw_ = attempts_[i_].get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
        resume0:
          state_ = -1;
          v_ = aw_.get_result();
          aw_ = {};
          log_->add("ok:" + std::to_string(v_));
          state_ = -2;
          builder_.set_result(v_);
          return;
        } catch (const TestError& e) {
          caught_ = std::current_exception();
          caught_what_ = e.what();
        }
        if (caught_) {
          log_->add("retry:" + caught_what_);
          void_aw_ = backoff_.get_awaiter();
          if (!void_aw_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(void_aw_, *this);
            return;
          }
        resume1:
          state_ = -1;
          void_aw_.get_result();
          void_aw_ = {};
          caught_ = nullptr;
        }
      }
      log_->add("gave-up");
      state_ = -2;
      builder_.set_result(-1);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
        aw_ = parts_[i_].get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
      resume0:
        state_ = -1;
        x_ = aw_.get_result();
        aw_ = {};
        sum_ += x_;
      }
      state_ = -2;
      builder_.set_result(sum_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
        aw_ = duet::yield().get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
      resume0:
        state_ = -1;
        aw_.get_result();
        ++i_;
      }
      state_ = -2;
      builder_.set_result(i_);
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
          aw_ = a_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
          [[fallthrough]];
        case 0:
          state_ = -1;
          x_ = aw_.get_result();
          aw_ = {};
          aw_ = b_.get_awaiter();
          if (!aw_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(aw_, *this);
            return;
          }
          [[fallthrough]];
        case 1:
          state_ = -1;
          y_ = aw_.get_result();
          aw_ = {};
          state_ = -2;
          builder_.set_result(x_ + "+" + y_);
          return;
        default:
          throw duet::InvalidOperationError("ConcatSm: bad state");
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
      aw_ = input_.get_awaiter();
      if (!aw_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(aw_, *this);
        return;
      }
    resume0:
      state_ = -1;
      p_ = aw_.get_result();
      aw_ = {};
      *p_ += 1;
      state_ = -2;
      builder_.set_result(std::move(p_));
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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
      aw_ = input_.get_awaiter();
      if (!aw_.is_completed()) {
        state_ = 0;
        builder_.await_unsafe_on_completed(aw_, *this);
        return;
      }
    resume0:
      state_ = -1;
      aw_.get_result();
      aw_ = {};
      log_->add("done");
      state_ = -2;
      builder_.set_result();
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
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

  // suspend(n) — the suspension step of await n on aw_ (the caller returns right after).
  void suspend(int n) {
    state_ = n;
    builder_.await_unsafe_on_completed(aw_, *this);
  }

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
                aw_ = gate_.get_awaiter();
                if (!aw_.is_completed()) return suspend(0);
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
              aw_ = gate_.get_awaiter();
              if (!aw_.is_completed()) return suspend(1);
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
              aw_ = gate_.get_awaiter();
              if (!aw_.is_completed()) return suspend(2);
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
        aw_ = gate_.get_awaiter();
        if (!aw_.is_completed()) return suspend(3);
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
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(std::move(result_));
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
        aw_ = gate_.get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
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
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
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
        aw_ = first_.get_awaiter();
        if (!aw_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(aw_, *this);
          return;
        }
      resume0:
        state_ = -1;
        aw_.get_result();
        returning_ = true;  // return;
      } catch (...) {
        pending_ = std::current_exception();
      }
      log_->add("finally");
      aw_ = second_.get_awaiter();
      if (!aw_.is_completed()) {
        state_ = 1;
        builder_.await_unsafe_on_completed(aw_, *this);
        return;
      }
    resume1:
      state_ = -1;
      aw_.get_result();
      log_->add("after-await-in-finally");
      if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
      if (!returning_) log_->add("unreachable");
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result();
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
