// duet/fiber/async_void.hpp — the `async void` fiber form: duet::fiber::async_void(fn).
//
//   void on_button_click() {
//     duet::fiber::async_void([] {
//       label.set("Uploading...");
//       duet::await(duet::run(process_file));   // resumes on the UI context
//       label.set("Done");
//     });
//   }
//
// async_void(fn) is the fiber style's AsyncVoidMethodBuilder (sm/async_void_method_builder.hpp):
// both follow the async-void policy of context/async_void.hpp (the captured
// SynchronizationContext's operation_started/operation_completed, an escaping exception thrown
// asynchronously), so an event handler written on a fiber behaves as the state-machine one.
//
// Mechanism. fn runs through duet::fiber::async(fn, options); the fiber's Task stays internal.
// When it has already ended inside the call, the end is reported at once; otherwise an
// AsyncVoidEnd node (one allocation, freed when it fires) is registered on the task. The node is
// allocated before the fiber starts, so out of memory (for the node, the fiber's control block or
// its stack) throws from the call before anything ran; once fn runs, nothing can stop its end
// from being reported. (A method that ends inside the call frees the node unused.)
//
// Thread-safety: async_void() may be called from any thread.
#pragma once

#include <exception>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "duet/context/async_void.hpp"
#include "duet/core/synchronization_context.hpp"
#include "duet/core/task.hpp"
#include "duet/fiber/fiber.hpp"

namespace duet::fiber {

// async_void(fn, options) — runs fn() (which returns void) on a fiber as an `async void` method:
// see the header comment for the context bookkeeping and where an escaping exception goes.
// Runs synchronously until fn's first incomplete await. Throws std::bad_alloc, FiberStackError or
// ArgumentError before anything ran (after operation_completed() when operation_started() was
// called); never rethrows fn's exceptions to the caller.
template <class Fn>
void async_void(Fn&& fn, FiberOptions options = {}) {
  using F = std::decay_t<Fn>;
  static_assert(std::is_invocable_v<F&>,
                "duet::fiber::async_void(fn): fn must be callable with no arguments");
  static_assert(std::is_void_v<std::invoke_result_t<F&>>,
                "duet::fiber::async_void(fn): an async void method returns nothing; use "
                "duet::fiber::async(fn) to return a Task of a value");
  std::unique_ptr<duet::detail::AsyncVoidEnd> end(new duet::detail::AsyncVoidEnd());
  SynchronizationContext* const context = duet::detail::async_void_begin();
  Task<> task;
  try {
    task = async(std::forward<Fn>(fn), options);
  } catch (...) {
    if (context) context->operation_completed();
    throw;  // nothing ran: a resource error of the call itself
  }
  duet::detail::TaskStateBase* const state = task.state();
  if (state->is_completed()) {
    duet::detail::async_void_end(context, *state);
    return;
  }
  end.release()->watch(context, *state, true);  // runs it at once if the fiber finished meanwhile
}

}  // namespace duet::fiber
