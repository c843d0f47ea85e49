// loop_context.hpp — a minimal SynchronizationContext with its own thread, for the fiber tests
// (the context-flow issue brings SingleThreadContext; this stands in for it here).
// post() may be called from any thread; the loop thread runs posted continuations in order with
// itself installed as SynchronizationContext::current().
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <duet/duet.hpp>

namespace duet::testing {

class LoopContext final : public SynchronizationContext {
 public:
  LoopContext() : thread_([this] { loop(); }) {}
  ~LoopContext() override {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void post(Continuation& c) noexcept override {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      queue_.push_back(&c);
      ++posted_;
    }
    cv_.notify_one();
  }

  // run(fn) — posts fn (allocates a node) and returns at once.
  void run(std::function<void()> fn) { SynchronizationContext::post(std::move(fn)); }

  std::thread::id thread_id() const noexcept { return thread_.get_id(); }
  int posted() {
    std::lock_guard<std::mutex> lk(mutex_);
    return posted_;
  }

 private:
  void loop() {
    SynchronizationContext::set_current(this);
    std::unique_lock<std::mutex> lk(mutex_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Continuation* c = queue_.front();
      queue_.pop_front();
      lk.unlock();
      run_continuation(c);
      SynchronizationContext::set_current(this);
      lk.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Continuation*> queue_;
  int posted_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace duet::testing
