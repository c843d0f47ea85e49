// duet/duet.hpp — the umbrella header.
#pragma once

#include "duet/awaiter.hpp"
#include "duet/combinators.hpp"
#include "duet/continuation.hpp"
#include "duet/errors.hpp"
#include "duet/execution_context.hpp"
#include "duet/scheduler.hpp"
#include "duet/single_thread_context.hpp"
#include "duet/sm/async_void_builder.hpp"
#include "duet/sm/builder.hpp"
#include "duet/sync_context.hpp"
#include "duet/task.hpp"
