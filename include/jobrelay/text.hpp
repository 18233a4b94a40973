// Small text helpers (HTTP field values, string storage), shared so each
// parser does not grow its own.
#pragma once

#include <string>
#include <string_view>

namespace jobrelay {

// Strips optional whitespace (spaces and tabs, RFC 9110 OWS) at both ends.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ASCII case folding, inline: std::tolower is a call into the C library
// per byte, and depends on the locale, which HTTP tokens must not.
constexpr char to_lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline std::string to_lower_ascii(std::string s) {
  for (auto& c : s) c = to_lower_ascii(c);
  return s;
}

inline bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower_ascii(a[i]) != to_lower_ascii(b[i])) return false;
  return true;
}

// Length of the well-formed multi-byte UTF-8 sequence that starts at
// text[at] (2 to 4 bytes), or 0 when none does: exactly RFC 3629's sequences
// (no overlong forms, no surrogates, nothing above U+10FFFF). The lead byte
// fixes the length and narrows the range of the first continuation byte.
// One check for the JSON validator and the JSON escaper alike.
inline std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(at);
  std::size_t continuations = 2;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead < 0xC2) return 0;  // ASCII, a stray continuation byte, or overlong C0/C1
  if (lead <= 0xDF) {
    continuations = 1;
  } else if (lead <= 0xEF) {
    if (lead == 0xE0) second_min = 0xA0;  // overlong below U+0800
    if (lead == 0xED) second_max = 0x9F;  // U+D800..U+DFFF
  } else if (lead <= 0xF4) {
    continuations = 3;
    if (lead == 0xF0) second_min = 0x90;  // overlong below U+10000
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - at <= continuations) return 0;
  if (byte(at + 1) < second_min || byte(at + 1) > second_max) return 0;
  for (std::size_t i = 2; i <= continuations; ++i)
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
  return continuations + 1;
}

// Empties `s` and gives its heap storage back. `s = std::string()` and
// `s.clear()` keep the old capacity in libstdc++ (a short source is copied
// into the existing buffer), which for a string held for minutes (a request
// body, a finished result) is memory nobody uses.
inline void release_storage(std::string& s) { std::string().swap(s); }

}  // namespace jobrelay
