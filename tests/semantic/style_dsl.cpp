// tests/semantic/style_dsl.cpp — every scenario of styles.hpp written with the DUET_* macros.
#include <duet/sm/dsl.hpp>

#include "styles.hpp"

namespace {

using duet::Task;
using styles::Log;
using styles::OtherError;
using styles::TestError;

struct ReturnValue : duet::AsyncMethod<ReturnValue, int> {
  int v_;
  explicit ReturnValue(int v) : v_(v) {}
  void move_next() {
    DUET_BEGIN
      DUET_RETURN(v_);
    DUET_END
  }
};

struct Add : duet::AsyncMethod<Add, int> {
  Task<int> a_, b_;
  int x_ = 0, y_ = 0;
  Add(Task<int> a, Task<int> b) : a_(std::move(a)), b_(std::move(b)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_); DUET_AWAIT_INTO(y_, b_);  // two awaits on one line
      DUET_RETURN(x_ + y_);
    DUET_END
  }
};

struct ThrowBeforeAwait : duet::AsyncMethod<ThrowBeforeAwait, int> {
  int v_;
  Task<int> a_;
  int x_ = 0;
  ThrowBeforeAwait(int v, Task<int> a) : v_(v), a_(std::move(a)) {}
  void move_next() {
    DUET_BEGIN
      if (v_ < 0) throw TestError("before");
      DUET_AWAIT_INTO(x_, a_);
      DUET_RETURN(v_ + x_);
    DUET_END
  }
};

struct ThrowAfterAwait : duet::AsyncMethod<ThrowAfterAwait, int> {
  Task<int> a_;
  int x_ = 0;
  explicit ThrowAfterAwait(Task<int> a) : a_(std::move(a)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      throw TestError("after " + std::to_string(x_));
    DUET_END
  }
};

struct TryCatchFinally : duet::AsyncMethod<TryCatchFinally, int> {
  Log* log_;
  Task<int> input_;
  int v_ = 0;
  TryCatchFinally(Log& log, Task<int> input) : log_(&log), input_(std::move(input)) {}
  void move_next() {
    DUET_BEGIN
      log_->add("enter");
      DUET_TRY
        log_->add("try");
        DUET_AWAIT_INTO(v_, input_);
        log_->add("got:" + std::to_string(v_));
      DUET_CATCH(const TestError&, e)
        log_->add(std::string("catch:") + e.what());
        v_ = -1;
      DUET_FINALLY
        log_->add("finally");
      DUET_END_TRY
      log_->add("end");
      DUET_RETURN(v_);
    DUET_END
  }
};

struct ReturnFromTry : duet::AsyncMethod<ReturnFromTry, int> {
  Log* log_;
  Task<int> input_;
  int v_ = 0;
  ReturnFromTry(Log& log, Task<int> input) : log_(&log), input_(std::move(input)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        log_->add("try");
        DUET_AWAIT_INTO(v_, input_);
        if (v_ > 0) DUET_RETURN(v_ * 10);
        log_->add("not-returned");
      DUET_FINALLY
        log_->add("finally");
      DUET_END_TRY
      log_->add("end");
      DUET_RETURN(v_);
    DUET_END
  }
};

struct AwaitInCatch : duet::AsyncMethod<AwaitInCatch, int> {
  Log* log_;
  Task<int> input_, handler_;
  int v_ = 0;
  AwaitInCatch(Log& log, Task<int> input, Task<int> handler)
      : log_(&log), input_(std::move(input)), handler_(std::move(handler)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT_INTO(v_, input_);
        log_->add("got:" + std::to_string(v_));
      DUET_CATCH(const TestError&, e)
        log_->add(std::string("catch:") + e.what());
        DUET_AWAIT_INTO(v_, handler_);
        log_->add("handled:" + std::to_string(v_) + ":" + e.what());
        if (v_ < 0) throw;
      DUET_FINALLY
        log_->add("finally");
      DUET_END_TRY
      DUET_RETURN(v_);
    DUET_END
  }
};

struct AwaitInFinally : duet::AsyncMethod<AwaitInFinally, int> {
  Log* log_;
  Task<int> input_;
  Task<> cleanup_;
  int v_ = 0;
  AwaitInFinally(Log& log, Task<int> input, Task<> cleanup)
      : log_(&log), input_(std::move(input)), cleanup_(std::move(cleanup)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        log_->add("try");
        DUET_AWAIT_INTO(v_, input_);
        if (v_ == 7) DUET_RETURN(70);
        log_->add("got:" + std::to_string(v_));
      DUET_FINALLY
        log_->add("finally");
        DUET_AWAIT(cleanup_);
        log_->add("cleaned");
      DUET_END_TRY
      log_->add("end");
      DUET_RETURN(v_);
    DUET_END
  }
};

struct Nested : duet::AsyncMethod<Nested, int> {
  Log* log_;
  Task<int> input_;
  Task<> cleanup_;
  int v_ = 0;
  Nested(Log& log, Task<int> input, Task<> cleanup)
      : log_(&log), input_(std::move(input)), cleanup_(std::move(cleanup)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_TRY
          log_->add("inner-try");
          DUET_AWAIT_INTO(v_, input_);
          if (v_ == 42) DUET_RETURN(420);
          log_->add("inner-got:" + std::to_string(v_));
        DUET_CATCH(const TestError&, e)
          log_->add(std::string("inner-catch:") + e.what());
          DUET_AWAIT(cleanup_);
          throw OtherError(std::string("from inner catch: ") + e.what());
        DUET_FINALLY
          log_->add("inner-finally");
          DUET_AWAIT(cleanup_);
          log_->add("inner-finally-end");
        DUET_END_TRY
        log_->add("after-inner");
      DUET_CATCH(const OtherError&, e)
        log_->add(std::string("outer-catch:") + e.what());
        v_ = -2;
      DUET_FINALLY
        log_->add("outer-finally");
      DUET_END_TRY
      log_->add("end");
      DUET_RETURN(v_);
    DUET_END
  }
};

struct Retry : duet::AsyncMethod<Retry, int> {
  Log* log_;
  std::vector<Task<int>> attempts_;
  Task<> backoff_;
  std::size_t i_ = 0;
  int v_ = 0;
  Retry(Log& log, std::vector<Task<int>> attempts, Task<> backoff)
      : log_(&log), attempts_(std::move(attempts)), backoff_(std::move(backoff)) {}
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < attempts_.size(); ++i_) {
        DUET_TRY
          DUET_AWAIT_INTO(v_, attempts_[i_]);
          log_->add("ok:" + std::to_string(v_));
          DUET_RETURN(v_);
        DUET_CATCH(const TestError&, e)
          log_->add(std::string("retry:") + e.what());
          DUET_AWAIT(backoff_);
        DUET_END_TRY
      }
      log_->add("gave-up");
      DUET_RETURN(-1);
    DUET_END
  }
};

struct SumLoop : duet::AsyncMethod<SumLoop, int> {
  std::vector<Task<int>> parts_;
  std::size_t i_ = 0;
  int sum_ = 0, x_ = 0;
  explicit SumLoop(std::vector<Task<int>> parts) : parts_(std::move(parts)) {}
  void move_next() {
    DUET_BEGIN
      for (i_ = 0; i_ < parts_.size(); ++i_) {
        DUET_AWAIT_INTO(x_, parts_[i_]);
        sum_ += x_;
      }
      DUET_RETURN(sum_);
    DUET_END
  }
};

struct YieldLoop : duet::AsyncMethod<YieldLoop, int> {
  int n_, i_ = 0;
  explicit YieldLoop(int n) : n_(n) {}
  void move_next() {
    DUET_BEGIN
      while (i_ < n_) {
        DUET_AWAIT(duet::yield());
        ++i_;
      }
      DUET_RETURN(i_);
    DUET_END
  }
};

struct Concat : duet::AsyncMethod<Concat, std::string> {
  Task<std::string> a_, b_;
  std::string x_, y_;
  Concat(Task<std::string> a, Task<std::string> b) : a_(std::move(a)), b_(std::move(b)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(x_, a_);
      DUET_AWAIT_INTO(y_, b_);
      DUET_RETURN(x_ + "+" + y_);
    DUET_END
  }
};

struct BumpUnique : duet::AsyncMethod<BumpUnique, std::unique_ptr<int>> {
  Task<std::unique_ptr<int>> input_;
  std::unique_ptr<int> p_;
  explicit BumpUnique(Task<std::unique_ptr<int>> input) : input_(std::move(input)) {}
  void move_next() {
    DUET_BEGIN
      DUET_AWAIT_INTO(p_, input_);
      *p_ += 1;
      DUET_RETURN(std::move(p_));
    DUET_END
  }
};

struct VoidMethod : duet::AsyncMethod<VoidMethod> {
  Log* log_;
  Task<> input_;
  VoidMethod(Log& log, Task<> input) : log_(&log), input_(std::move(input)) {}
  void move_next() {
    DUET_BEGIN
      log_->add("start");
      DUET_AWAIT(input_);
      log_->add("done");
    DUET_END
  }
};

struct Shapes : duet::AsyncMethod<Shapes, std::string> {
  Task<> gate_;
  int mode_ = 0;
  std::string log_;
  Shapes(Task<> gate, int mode) : gate_(std::move(gate)), mode_(mode) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY                                 // depth 1
        DUET_TRY                               // depth 2
          DUET_TRY                             // depth 3
            log_ += "t3 ";
            DUET_AWAIT(gate_);
            if (mode_ == 1) throw TestError("deep");
            if (mode_ == 2) DUET_RETURN(log_ + "returned");
          DUET_FINALLY
            log_ += "f3 ";
            DUET_AWAIT(gate_);
          DUET_END_TRY
        DUET_CATCH_ALL
          log_ += "catch-all ";
          DUET_TRY                             // a try inside a catch block
            DUET_AWAIT(gate_);
            throw;                             // rethrows the exception the catch-all holds
          DUET_CATCH(const TestError&, e)
            log_ += std::string("inner:") + e.what() + " ";
          DUET_END_TRY
        DUET_END_TRY
      DUET_FINALLY
        DUET_TRY                               // a try inside a finally block
          log_ += "f1 ";
          DUET_AWAIT(gate_);
        DUET_FINALLY
          log_ += "f1f ";
        DUET_END_TRY
      DUET_END_TRY
      DUET_RETURN(log_ + "end");
    DUET_END
  }
};

struct VoidReturnInTry : duet::AsyncMethod<VoidReturnInTry> {
  Log* log_;
  Task<> gate_;
  VoidReturnInTry(Log& log, Task<> gate) : log_(&log), gate_(std::move(gate)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        DUET_AWAIT(gate_);
        DUET_RETURN();
      DUET_FINALLY
        log_->add("finally");
      DUET_END_TRY
      log_->add("unreachable");
    DUET_END
  }
};

struct ReturnThroughFinally : duet::PoolingAsyncValueTaskMethod<ReturnThroughFinally> {
  Log* log_;
  Task<> first_, second_;
  ReturnThroughFinally(Log& log, Task<> first, Task<> second)
      : log_(&log), first_(std::move(first)), second_(std::move(second)) {}
  void move_next() {
    DUET_BEGIN
      DUET_TRY
        log_->add("try");
        DUET_AWAIT(first_);
        DUET_RETURN();
      DUET_FINALLY
        log_->add("finally");
        DUET_AWAIT(second_);
        log_->add("after-await-in-finally");
      DUET_END_TRY
      log_->add("unreachable");
    DUET_END
  }
};

const styles::Style k_dsl_style{
    .name = "dsl",
    .return_value = [](int v) { return duet::start<ReturnValue>(v); },
    .add = [](Task<int> a, Task<int> b) { return duet::start<Add>(std::move(a), std::move(b)); },
    .throw_before_await = [](int v, Task<int> a) { return duet::start<ThrowBeforeAwait>(v, std::move(a)); },
    .throw_after_await = [](Task<int> a) { return duet::start<ThrowAfterAwait>(std::move(a)); },
    .try_catch_finally = [](Log& log, Task<int> in) { return duet::start<TryCatchFinally>(log, std::move(in)); },
    .return_from_try = [](Log& log, Task<int> in) { return duet::start<ReturnFromTry>(log, std::move(in)); },
    .await_in_catch = [](Log& log, Task<int> in, Task<int> h) {
      return duet::start<AwaitInCatch>(log, std::move(in), std::move(h));
    },
    .await_in_finally = [](Log& log, Task<int> in, Task<> c) {
      return duet::start<AwaitInFinally>(log, std::move(in), std::move(c));
    },
    .nested = [](Log& log, Task<int> in, Task<> c) { return duet::start<Nested>(log, std::move(in), std::move(c)); },
    .retry = [](Log& log, std::vector<Task<int>> a, Task<> b) {
      return duet::start<Retry>(log, std::move(a), std::move(b));
    },
    .sum_loop = [](std::vector<Task<int>> parts) { return duet::start<SumLoop>(std::move(parts)); },
    .yield_loop = [](int n) { return duet::start<YieldLoop>(n); },
    .concat = [](Task<std::string> a, Task<std::string> b) { return duet::start<Concat>(std::move(a), std::move(b)); },
    .bump_unique = [](Task<std::unique_ptr<int>> in) { return duet::start<BumpUnique>(std::move(in)); },
    .void_method = [](Log& log, Task<> in) { return duet::start<VoidMethod>(log, std::move(in)); },
    .shapes = [](Task<> gate, int mode) { return duet::start<Shapes>(std::move(gate), mode); },
    .void_return_in_try = [](Log& log, Task<> gate) { return duet::start<VoidReturnInTry>(log, std::move(gate)); },
    .value_task_return_through_finally = [](Log& log, Task<> first, Task<> second) {
      return duet::start<ReturnThroughFinally>(log, std::move(first), std::move(second));
    },
};

const styles::StyleRegistration k_register(k_dsl_style);

}  // namespace
