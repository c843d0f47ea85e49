// duet/duet.hpp — the umbrella header: everything public, in all three styles (explicit state
// machines, the DUET_* macro DSL, fibers). A program that includes only this header can name
// every duet type, builder, macro and duet::fiber.
#pragma once

#include "duet/awaiter.hpp"
#include "duet/cancellation.hpp"
#include "duet/clock.hpp"
#include "duet/combinators.hpp"
#include "duet/continuation.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/fiber/async_void.hpp"
#include "duet/fiber/fiber.hpp"
#include "duet/fiber/value_task.hpp"
#include "duet/scheduler.hpp"
#include "duet/single_thread_context.hpp"
#include "duet/sm/async_method.hpp"
#include "duet/sm/async_void_builder.hpp"
#include "duet/sm/builder.hpp"
#include "duet/sm/dsl.hpp"
#include "duet/sm/value_task_builder.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"
#include "duet/timer_wheel.hpp"
#include "duet/value_task.hpp"
#include "duet/when.hpp"
