// duet/duet.hpp — the umbrella header.
#pragma once

#include "duet/awaiter.hpp"
#include "duet/cancellation.hpp"
#include "duet/clock.hpp"
#include "duet/combinators.hpp"
#include "duet/continuation.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/scheduler.hpp"
#include "duet/sm/builder.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"
#include "duet/value_task.hpp"
#include "duet/sm/value_task_builder.hpp"
#include "duet/timer_wheel.hpp"
#include "duet/when.hpp"
