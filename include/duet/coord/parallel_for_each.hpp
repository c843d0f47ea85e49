// duet/coord/parallel_for_each.hpp — parallel_for_each_async (.NET's Parallel.ForEachAsync):
// runs an async body for every element of a range, at most max_degree_of_parallelism at a time.
//
// Semantics, as .NET's:
//  * `max_degree_of_parallelism` workers (-1: the default pool's worker count; 0 or < -1:
//    ArgumentError) are started on the pool; each takes the next element (under a lock, in
//    range order), awaits body(element, token) and takes the next, until the range is exhausted;
//  * `token` passed to the body is a linked token: canceled when the caller's token is, or when
//    any body fails;
//  * the first exception cancels that token, so no new body starts; bodies already running
//    finish; the task then ends faulted with every exception the bodies threw
//    (exception() is an AggregateError; await rethrows the first), ignoring the cancellations
//    that the failure itself caused;
//  * with no failure and the caller's token canceled, the task ends canceled.
// The range is read through its iterators by one worker at a time; it must outlive the task.
//
// Thread-safety: the body runs concurrently on pool threads.
#pragma once

#include <atomic>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "duet/core/errors.hpp"
#include "duet/core/scheduler.hpp"
#include "duet/core/task.hpp"
#include "duet/time/cancellation.hpp"

namespace duet {

// ParallelOptions — .NET's ParallelOptions.
struct ParallelOptions {
  int max_degree_of_parallelism = -1;
  CancellationToken token{};
};

namespace detail {

template <class Range, class Body>
class ParallelForEach final : public TaskState<void> {
  using It = decltype(std::begin(std::declval<Range&>()));
  using Elem = decltype(*std::declval<It&>());
  using BodyTask = std::invoke_result_t<Body&, Elem, const CancellationToken&>;

  struct Worker final : Continuation {
    ParallelForEach* owner = nullptr;
    std::optional<awaiter_t<BodyTask>> awaiter;
  };

 public:
  ParallelForEach(Range& range, int workers, const CancellationToken& user, Body body)
      : TaskState<void>(1 + static_cast<std::uint32_t>(workers)),
        it_(std::begin(range)),
        end_(std::end(range)),
        user_(user),
        linked_(CancellationTokenSource::create_linked(user)),
        token_(linked_.token()),
        body_(std::move(body)),
        workers_(static_cast<std::size_t>(workers)),
        running_(workers) {
    for (Worker& w : workers_) {
      w.owner = this;
      w.invoke = &ParallelForEach::resume;
    }
  }

  void start() noexcept {
    for (Worker& w : workers_) default_scheduler().post(w);
  }

 private:
  static void resume(Continuation* c) noexcept {
    auto& w = static_cast<Worker&>(*c);
    w.owner->run(w);
  }

  // run(w) — the worker's loop: finish the body it awaited (if any), then take the next element.
  void run(Worker& w) noexcept {
    for (;;) {
      if (w.awaiter) {
        try {
          w.awaiter->get_result();
        } catch (...) {
          fail(std::current_exception());
        }
        w.awaiter.reset();
      }
      std::optional<It> next;
      {
        std::lock_guard<std::mutex> lk(mutex_);
        if (!token_.is_cancellation_requested() && it_ != end_) {
          next.emplace(it_);
          ++it_;
        }
      }
      if (!next) break;
      try {
        w.awaiter.emplace(duet::get_awaiter(body_(**next, token_)));
      } catch (...) {
        fail(std::current_exception());
        continue;
      }
      if (!w.awaiter->is_completed()) {
        w.awaiter->unsafe_on_completed(w);
        return;
      }
    }
    if (--running_ == 0) finish();
    release();  // this worker's reference
  }

  void fail(std::exception_ptr e) noexcept {
    bool first = false;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      // A cancellation caused by an earlier failure (or by the caller) is not a failure of its own.
      bool is_cancel = false;
      try {
        std::rethrow_exception(e);
      } catch (const OperationCanceledError&) {
        is_cancel = true;
      } catch (...) {
      }
      if (is_cancel && token_.is_cancellation_requested()) return;
      first = errors_.empty();
      errors_.push_back(std::move(e));
    }
    if (first) {
      try {
        linked_.cancel();
      } catch (...) {
      }
    }
  }

  void finish() noexcept {
    std::vector<std::exception_ptr> errors;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      errors = std::move(errors_);
    }
    if (!errors.empty()) {
      std::exception_ptr all;
      try {
        all = std::make_exception_ptr(AggregateError(std::move(errors)));
      } catch (...) {
        all = std::current_exception();
      }
      if (try_begin_complete()) {
        set_rethrow_first_inner();
        complete_exception_claimed(std::move(all));
      }
    } else if (user_.is_cancellation_requested()) {
      try_complete_exception(canceled_error(user_));
    } else {
      try_complete_value();
    }
  }

  std::mutex mutex_;
  It it_;
  It end_;
  CancellationToken user_;
  CancellationTokenSource linked_;
  CancellationToken token_;
  Body body_;
  std::vector<Worker> workers_;
  std::atomic<int> running_;
  std::vector<std::exception_ptr> errors_;  // guarded by mutex_
};

}  // namespace detail

// parallel_for_each_async(range, options, body) — see the header comment. body(element, token)
// returns an awaitable (Task<>, ValueTask<>, ...). An already-canceled token: a canceled task,
// no body runs.
template <class Range, class Body>
Task<> parallel_for_each_async(Range& range, const ParallelOptions& options, Body body) {
  int n = options.max_degree_of_parallelism;
  if (n == 0 || n < -1) {
    throw ArgumentError("parallel_for_each_async: max_degree_of_parallelism = " + std::to_string(n) +
                        " must be positive, or -1 for the default (the pool's worker count)");
  }
  if (n == -1) n = static_cast<int>(default_scheduler().worker_count());
  if (n < 1) n = 1;
  if (options.token.is_cancellation_requested()) {
    auto* s = new detail::TaskState<void>();
    s->try_complete_exception(detail::canceled_error(options.token));
    return detail::adopt_task(s);
  }
  auto* state = new detail::ParallelForEach<Range, Body>(range, n, options.token, std::move(body));
  Task<> t = detail::adopt_task(static_cast<detail::TaskState<void>*>(state));
  state->start();
  return t;
}

// parallel_for_each_async(range, body) — with the default options.
template <class Range, class Body>
Task<> parallel_for_each_async(Range& range, Body body) {
  return parallel_for_each_async(range, ParallelOptions{}, std::move(body));
}

}  // namespace duet
