// when_all.cpp — the non-template half of when_all: gathering the children's failures.
#include "duet/compose/when_all.hpp"

namespace duet::detail {

void collect_failures(const std::vector<TaskStateBase*>& children,
                      std::vector<std::exception_ptr>& faults, std::exception_ptr& canceled) {
  for (TaskStateBase* c : children) {
    switch (c->status()) {
      case TaskStatus::faulted: {
        std::exception_ptr e = c->exception();
        if (c->rethrows_first_inner()) {
          try {
            std::rethrow_exception(e);
          } catch (const AggregateError& a) {
            faults.insert(faults.end(), a.inner_exceptions().begin(), a.inner_exceptions().end());
            continue;
          } catch (...) {
          }
        }
        faults.push_back(std::move(e));
        break;
      }
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
