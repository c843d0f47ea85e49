// duet/coord/periodic_timer.hpp — PeriodicTimer (.NET's System.Threading.PeriodicTimer): a timer
// on the TimerWheel that an async method awaits once per tick.
//
// Semantics, as .NET's:
//  * the timer ticks every `period` from construction, whether or not anybody waits;
//  * wait_for_next_tick_async(token) completes true at the next tick — or at once when a tick
//    came while nobody waited: ticks missed meanwhile coalesce into that one signal;
//  * at most one wait may be pending (a second concurrent one throws InvalidOperationError);
//  * dispose() stops the timer; a pending wait completes false, and every later wait is false;
//  * canceling `token` ends the pending wait canceled; the timer keeps ticking.
// Ticks stay on the grid start + k * period: a tick that is handled late re-arms the timer for
// the next grid point after now, never drifting and never firing a burst for missed ticks.
//
// One heap object (detail::PeriodicTimerState) holds the TimerEntry, the wait's
// ManualResetValueTaskSourceCore and its cancellation node: a wait allocates nothing.
//
// Thread-safety: every member may be called from any thread; not concurrently with the
// destructor.
#pragma once

#include <chrono>

#include "duet/core/errors.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/time/timer_wheel.hpp"
#include "duet/value_task/value_task.hpp"

namespace duet {

namespace detail {
class PeriodicTimerState;
}

class PeriodicTimer {
 public:
  // PeriodicTimer(period, wheel) — ticks every `period` (>= 1 ms and <= TimerWheel::k_max_delay,
  // else ArgumentError) on `wheel` (default: TimerWheel::current()).
  explicit PeriodicTimer(std::chrono::milliseconds period, TimerWheel& wheel = TimerWheel::current());
  PeriodicTimer(const PeriodicTimer&) = delete;
  PeriodicTimer& operator=(const PeriodicTimer&) = delete;
  ~PeriodicTimer();

  // wait_for_next_tick_async(token) — see the header comment.
  ValueTask<bool> wait_for_next_tick_async(const CancellationToken& token = {});
  // dispose() — stops the timer (idempotent).
  void dispose() noexcept;
  std::chrono::milliseconds period() const noexcept { return period_; }

 private:
  detail::PeriodicTimerState* state_;
  std::chrono::milliseconds period_;
};

}  // namespace duet
