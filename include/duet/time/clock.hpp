// duet/time/clock.hpp — where a TimerWheel gets its time: Clock, SteadyClock, ManualClock.
//
// A Clock is either *real time* (SteadyClock) — the wheel it serves runs one timer thread that
// sleeps until the next deadline — or *self-driving* (ManualClock) — time moves only when a test
// calls advance(), and advance() itself processes every attached wheel before it returns, so no
// timer thread exists at all. A runtime built on a ManualClock therefore runs every delay-based
// test instantly and deterministically: after `clock.advance(100ms)` returns, every timer due at
// or before the new time has been handed to its wheel's scheduler, and no other timer has.
//
// How a test installs a manual-clock wheel as the one delay() and cancel_after() use:
//
//   duet::ManualClock clock;
//   duet::TimerWheel wheel(clock);            // expiries go to default_scheduler()
//   duet::TimerWheelScope use(wheel);         // process-wide: delay() now uses `wheel`
//   auto t = duet::delay(100ms);
//   clock.advance(100ms);                     // the delay's expiry is now queued to the pool
//   t.wait();
//
// Rounding. A wheel counts whole 1 ms ticks from its origin (the clock's time when the wheel was
// built) and rounds a deadline up to the next tick, never down: a timer never fires early, and one
// armed a whole number of milliseconds after the origin fires exactly on time — with
// ManualClock(0.5ms) and a wheel built on it, delay(100ms) armed at the start completes when
// advance(100ms) returns, not 0.5 ms later. A timer armed between ticks fires < 1 ms late.
//
// Times are nanoseconds since the clock's own epoch; only differences mean anything.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace duet {

class TimerWheel;

// Clock — the time source of a TimerWheel. Implementations must be monotonic and thread-safe.
class Clock {
 public:
  using duration = std::chrono::nanoseconds;

  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  // now() — the current time since this clock's epoch. Never decreases. Thread-safe.
  virtual duration now() const noexcept = 0;

  // to_steady(t) — the std::chrono::steady_clock instant at which now() reaches `t`; the timer
  // thread sleeps until it. Only called for clocks whose attach() returned false.
  virtual std::chrono::steady_clock::time_point to_steady(duration t) const noexcept = 0;

  // attach(wheel) — called once by the TimerWheel constructor. Return true when this clock drives
  // the wheel itself (calls wheel.poll() whenever time moves): the wheel then starts no thread.
  // Return false (the default) for real time: the wheel runs a timer thread.
  virtual bool attach(TimerWheel& wheel) { (void)wheel; return false; }
  // detach(wheel) — called by the TimerWheel destructor for a wheel attach() accepted. After it
  // returns the clock must not touch the wheel again.
  virtual void detach(TimerWheel& wheel) noexcept { (void)wheel; }
};

// SteadyClock — real time from std::chrono::steady_clock. Stateless; share one instance
// (steady_clock_instance()).
class SteadyClock final : public Clock {
 public:
  duration now() const noexcept override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
  std::chrono::steady_clock::time_point to_steady(duration t) const noexcept override {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(t));
  }
};

// steady_clock_instance() — the process-wide SteadyClock.
SteadyClock& steady_clock_instance() noexcept;

// ManualClock — time that moves only when advance()/advance_to() is called (tests, samples,
// simulations). Starts at `start` (default 0).
// Thread-safety: every member may be called from any thread; advance() calls are serialised, and
// each one polls every attached wheel on the calling thread before it returns.
// Precondition of advance(): the caller is not inside a wheel's poll (e.g. not a Scheduler::post
// the wheel is running) — it would deadlock on the clock's lock, so it throws instead.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(duration start = duration::zero()) noexcept : now_(start.count()) {}
  ~ManualClock() override;

  duration now() const noexcept override { return duration(now_.load(std::memory_order_acquire)); }
  std::chrono::steady_clock::time_point to_steady(duration t) const noexcept override;

  // advance(d) — moves time forward by `d` (d >= 0, else ArgumentError) and polls every attached
  // wheel, so every timer due by the new time has been handed to its scheduler on return.
  void advance(duration d);
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    advance(std::chrono::duration_cast<duration>(d));
  }
  // advance_to(t) — advance(t - now()); a `t` in the past is an ArgumentError.
  void advance_to(duration t);

  bool attach(TimerWheel& wheel) override;
  void detach(TimerWheel& wheel) noexcept override;

 private:
  std::atomic<std::int64_t> now_;
  std::recursive_mutex mutex_;         // serialises advance() against attach/detach
  std::vector<TimerWheel*> wheels_;    // guarded by mutex_
  bool polling_ = false;               // guarded by mutex_: an advance() is polling wheels
};

}  // namespace duet
