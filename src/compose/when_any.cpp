// when_any.cpp — the non-template half of when_any: the Task<> that when_any over mixed result
// types hands out for the winner.
#include "duet/compose/when_any.hpp"


namespace duet::detail {

Task<> mirror_outcome(TaskStateBase& done) {
  if (done.status() == TaskStatus::ran_to_completion) return completed_task();
  auto* s = new TaskState<void>();
  complete_failure_from(*s, done);
  return adopt_task(s);
}

}  // namespace duet::detail
