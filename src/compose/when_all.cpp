// when_all.cpp — the non-template half of when_all: gathering the children's failures.
#include "duet/compose/when_all.hpp"

namespace duet::detail {

void append_failure(TaskStateBase& failed, std::vector<std::exception_ptr>& out) {
  std::exception_ptr e = failed.exception();
  if (failed.rethrows_first_inner()) {
    try {
      std::rethrow_exception(e);
    } catch (const AggregateError& a) {
      out.insert(out.end(), a.inner_exceptions().begin(), a.inner_exceptions().end());
      return;
    } catch (...) {
    }
  }
  out.push_back(std::move(e));
}

void collect_failures(const std::vector<TaskStateBase*>& children,
                      std::vector<std::exception_ptr>& faults, std::exception_ptr& canceled) {
  for (TaskStateBase* c : children) {
    switch (c->status()) {
      case TaskStatus::faulted:
        append_failure(*c, faults);
        break;
      case TaskStatus::canceled:
        if (!canceled) {
          canceled = c->exception();
        } else {
          (void)c->exception();  // observed
        }
        break;
      default:
        break;
    }
  }
}

}  // namespace duet::detail
