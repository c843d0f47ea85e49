// duet/time/delay.hpp — delay(d, token): Task.Delay, a task the TimerWheel completes `d` from now.
//
// One heap object is the task's state and embeds what it waits with: the TimerEntry and, with a
// cancelable token, the cancellation callback node (src/time/delay.cpp explains its references).
#pragma once

#include <chrono>
#include <exception>

#include "duet/core/errors.hpp"
#include "duet/core/task.hpp"
#include "duet/time/cancellation.hpp"
#include "duet/time/timer_wheel.hpp"

namespace duet {

// ---------------------------------------------------------------------------------------------
// delay

// delay(wheel, d, token) — a Task<> that completes `d` from now on `wheel` (rounded up to the
// wheel's 1 ms tick; never early). d == 0 returns the completed task synchronously without
// allocating; d == k_infinite_timeout never completes unless `token` is canceled; any other
// negative d, or d > TimerWheel::k_max_delay, throws ArgumentError. An already-canceled token
// gives a canceled task; canceling `token` later removes the timer in O(1) and ends the task
// canceled (awaiting it throws TaskCanceledError carrying `token`). One allocation: the task
// state, which embeds the timer entry (112 bytes), and the cancellation callback node when
// `token` can be canceled (160 bytes; src/time/delay.cpp). Thread-safe.
Task<> delay(TimerWheel& wheel, std::chrono::nanoseconds d, const CancellationToken& token = {});

// delay(d, token) — delay on TimerWheel::current() (the default wheel, or a TimerWheelScope's).
template <class Rep, class Period>
Task<> delay(std::chrono::duration<Rep, Period> d, const CancellationToken& token = {}) {
  return delay(TimerWheel::current(), std::chrono::duration_cast<std::chrono::nanoseconds>(d),
               token);
}

namespace detail {

// canceled_task<T>(token) — a canceled Task<T> whose exception carries `token`.
template <class T>
Task<T> canceled_task(const CancellationToken& token) {
  auto* s = new TaskState<T>();
  s->try_complete_exception(detail::canceled_error(token));
  return adopt_task(s);
}

}  // namespace detail

}  // namespace duet
