// Hash tables keyed by std::string and searched with a std::string_view, so
// a lookup by a job id taken from a request path builds no string.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

namespace jobrelay {

struct string_hash {
  using is_transparent = void;
  // Deliberately not noexcept: libstdc++ then keeps each node's hash code,
  // so a lookup walking a bucket neither re-hashes the next node's key to
  // find the bucket's end nor compares keys whose hashes differ (each a
  // cache miss on a table of 100,000 jobs; perf of bench D: ~5% of user time).
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};
static_assert(!std::is_nothrow_invocable_v<const string_hash&, const std::string&>,
              "string_hash must stay potentially-throwing, or the tables stop caching hash codes");

template <class Value>
using string_table = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

}  // namespace jobrelay
