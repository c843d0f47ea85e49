// duet/detail/result_slot.hpp — ResultSlot<T>: where a call that completed keeps its result until
// someone takes it (a ValueTask builder until task(), a pooled fiber until it publishes).
#pragma once

#include <new>
#include <utility>

namespace duet::detail {

// ResultSlot<T> — an optional T that never moves its value (void: a flag). Not thread-safe.
template <class T>
class ResultSlot {
 public:
  ResultSlot() noexcept = default;
  ResultSlot(ResultSlot&&) noexcept {}  // moved only before completion (boxing): nothing to move
  ResultSlot& operator=(ResultSlot&&) = delete;
  ~ResultSlot() { reset(); }
  template <class... Args>
  void emplace(Args&&... args) {
    ::new (static_cast<void*>(&storage_)) T(std::forward<Args>(args)...);
    has_ = true;
  }
  bool has_value() const noexcept { return has_; }
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  void reset() noexcept {
    if (has_) value().~T();
    has_ = false;
  }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
  bool has_ = false;
};
template <>
class ResultSlot<void> {
 public:
  void emplace() noexcept { has_ = true; }
  bool has_value() const noexcept { return has_; }
  void reset() noexcept { has_ = false; }

 private:
  bool has_ = false;
};

}  // namespace duet::detail
