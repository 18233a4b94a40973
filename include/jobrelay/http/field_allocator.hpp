// Header fields are small blocks that live for one request: Beast allocates
// one per field (name and value together), a request's and its answer's are
// freed within microseconds, and a poll answer sets five. This allocator
// keeps freed blocks per thread in a few size classes and hands them out
// again, instead of a trip through malloc's bins for each field.
#pragma once

#include <cstddef>

namespace jobrelay::http {

namespace detail {
void* take_field_block(std::size_t bytes);
void give_field_block(void* block, std::size_t bytes) noexcept;
}  // namespace detail

template <class T>
struct field_allocator {
  using value_type = T;

  field_allocator() noexcept = default;
  template <class U>
  field_allocator(const field_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

  T* allocate(std::size_t n) { return static_cast<T*>(detail::take_field_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::give_field_block(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const field_allocator<U>&) const noexcept {
    return true;  // any instance frees any block: the cache is per thread, not per allocator
  }
};

}  // namespace jobrelay::http
