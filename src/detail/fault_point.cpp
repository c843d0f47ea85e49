// fault_point.cpp — the storage of the out-of-memory injection hook (detail/fault_point.hpp).
#include "duet/detail/fault_point.hpp"

namespace duet::detail {

std::atomic<FaultHook> g_fault_hook{nullptr};

}  // namespace duet::detail
