// duet/detail/polymorphic_base.hpp — PolymorphicBase: the base of duet's extension interfaces.
#pragma once

namespace duet::detail {

// PolymorphicBase — a virtual destructor, and no copying (copying through a base slices: C++ Core
// Guidelines C.67). Scheduler and SynchronizationContext derive from it.
class PolymorphicBase {
 public:
  PolymorphicBase() = default;
  PolymorphicBase(const PolymorphicBase&) = delete;
  PolymorphicBase& operator=(const PolymorphicBase&) = delete;
  virtual ~PolymorphicBase() = default;
};

}  // namespace duet::detail
