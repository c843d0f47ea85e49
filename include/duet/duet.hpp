// duet/duet.hpp — the umbrella header: everything public, in all three styles (explicit state
// machines, the DUET_* macro DSL, fibers). A program that includes only this header can name
// every duet type, builder, macro and duet::fiber. The layers: docs/design.md.
#pragma once

#include "duet/diag/diagnostics.hpp"
#include "duet/diag/trace.hpp"
#include "duet/core/configure_await.hpp"
#include "duet/core/continuation.hpp"
#include "duet/core/errors.hpp"
#include "duet/core/manual_scheduler.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"
#include "duet/core/task_completion_source.hpp"

#include "duet/context/async_local.hpp"
#include "duet/context/execution_context.hpp"
#include "duet/context/single_thread_context.hpp"

#include "duet/time/cancellation.hpp"
#include "duet/time/clock.hpp"
#include "duet/time/delay.hpp"
#include "duet/time/timer_wheel.hpp"

#include "duet/compose/continue_with.hpp"
#include "duet/compose/start_new.hpp"
#include "duet/compose/task_factory.hpp"
#include "duet/compose/wait.hpp"
#include "duet/compose/wait_async.hpp"
#include "duet/compose/when_all.hpp"
#include "duet/compose/when_any.hpp"
#include "duet/compose/yield.hpp"

#include "duet/value_task/value_task.hpp"
#include "duet/value_task/value_task_source.hpp"
#include "duet/coord/async_stream.hpp"
#include "duet/coord/channel.hpp"
#include "duet/coord/parallel_for_each.hpp"
#include "duet/coord/periodic_timer.hpp"
#include "duet/coord/semaphore_slim.hpp"

#include "duet/sm/async_iterator.hpp"
#include "duet/sm/async_method.hpp"
#include "duet/sm/async_value_task_method_builder.hpp"
#include "duet/sm/async_void_method_builder.hpp"
#include "duet/sm/dsl.hpp"
#include "duet/sm/dsl_stream.hpp"
#include "duet/sm/method_builder_core.hpp"

#include "duet/fiber/async_stream.hpp"
#include "duet/fiber/async_value.hpp"
#include "duet/fiber/async_void.hpp"
#include "duet/fiber/fiber.hpp"
#include "duet/net/net.hpp"
