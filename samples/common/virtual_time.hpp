// virtual_time.hpp — the driver the time samples run on (all styles): a single-threaded message
// loop that is both the SynchronizationContext the program's awaits capture and the Scheduler its
// TimerWheel hands expiries to, over a ManualClock that jumps straight to the next deadline
// whenever nothing is runnable (tokio's paused time with auto-advance). Every continuation runs
// on the main thread, in a deterministic order, and a 3-second program finishes instantly — so
// the printed elapsed times are exact and the golden output is stable.
//
//   VirtualTimeLoop loop;                              // installs its wheel as TimerWheel::current()
//   loop.run([] { return main_async(); });             // pumps until the task completes
//   loop.elapsed()                                     // virtual time since construction
//   samples::now_ms()                                  // the same, in ms, of the loop alive now
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include <duet/duet.hpp>

namespace samples {

class VirtualTimeLoop final : public duet::SynchronizationContext, public duet::Scheduler {
 public:
  VirtualTimeLoop() : wheel_(clock_, *this), use_(wheel_) { current_slot() = this; }
  ~VirtualTimeLoop() override { current_slot() = nullptr; }
  VirtualTimeLoop(const VirtualTimeLoop&) = delete;
  VirtualTimeLoop& operator=(const VirtualTimeLoop&) = delete;

  // current() — the loop alive now (a program makes one, in main()), or null.
  static VirtualTimeLoop* current() noexcept { return current_slot(); }

  // post(c) — queue for the main thread (both as SynchronizationContext and as Scheduler).
  // Notifies under the lock: once the main thread can pop `c`, this thread no longer touches the
  // loop. (Notifying after the unlock raced with the loop's destruction: main could pop `c`, finish
  // the program and destroy cv_ while this thread was still inside notify_one; TSan found it.)
  void post(duet::Continuation& c) noexcept override {
    std::lock_guard<std::mutex> lk(mutex_);
    queue_.push_back(&c);
    cv_.notify_one();
  }

  // run(start) — installs this loop as the current SynchronizationContext, calls start() (which
  // returns a Task), pumps until that task completes, and returns its result (or rethrows).
  template <class Start>
  auto run(Start&& start) {
    duet::SyncContextScope scope(this);
    auto task = start();
    while (!task.is_completed()) {
      if (duet::Continuation* c = pop()) {
        duet::run_continuation(c);
      } else if (auto next = wheel_.next_deadline()) {
        clock_.advance_to(*next);  // nothing runnable: jump to the next timer
      } else {
        std::unique_lock<std::mutex> lk(mutex_);  // work is on another thread: wait for a post
        cv_.wait_for(lk, std::chrono::milliseconds(1), [this] { return !queue_.empty(); });
      }
    }
    return task.result();
  }

  // elapsed() — virtual time since the loop was created, in whole milliseconds.
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now());
  }

 private:
  static VirtualTimeLoop*& current_slot() noexcept {
    static VirtualTimeLoop* loop = nullptr;
    return loop;
  }

  duet::Continuation* pop() {
    std::lock_guard<std::mutex> lk(mutex_);
    if (queue_.empty()) return nullptr;
    duet::Continuation* c = queue_.front();
    queue_.pop_front();
    return c;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<duet::Continuation*> queue_;
  duet::ManualClock clock_;
  duet::TimerWheel wheel_;
  duet::TimerWheelScope use_;
};

// now_ms() — virtual time since the current loop was created, in whole milliseconds.
inline long long now_ms() {
  return static_cast<long long>(VirtualTimeLoop::current()->elapsed().count());
}

}  // namespace samples
