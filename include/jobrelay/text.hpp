// Small text helpers (HTTP field values, string storage), shared so each
// parser does not grow its own.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace jobrelay {

// Strips optional whitespace (spaces and tabs, RFC 9110 OWS) at both ends.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Empties `s` and gives its heap storage back. `s = std::string()` and
// `s.clear()` keep the old capacity in libstdc++ (a short source is copied
// into the existing buffer), which for a string held for minutes (a request
// body, a finished result) is memory nobody uses.
inline void release_storage(std::string& s) { std::string().swap(s); }

}  // namespace jobrelay
