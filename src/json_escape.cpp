#include "jobrelay/json_escape.hpp"

namespace jobrelay {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i] (2 to 4),
// or 0 when it is not one (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const auto lead = at(i);
  const auto continues = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < text.size() && at(k) >= lo && at(k) <= hi;
  };
  if (lead >= 0xC2 && lead <= 0xDF) return continues(i + 1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned char lo = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = lead == 0xED ? 0x9F : 0xBF;
    return continues(i + 1, lo, hi) && continues(i + 2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned char lo = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = lead == 0xF4 ? 0x8F : 0xBF;
    return continues(i + 1, lo, hi) && continues(i + 2) && continues(i + 3) ? 4 : 0;
  }
  return 0;
}

bool passes_as_is(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < text.size()) {
    // Runs of plain ASCII are appended at once: ids, codes and most messages
    // are nothing else.
    std::size_t run = i;
    while (run < text.size() && passes_as_is(static_cast<unsigned char>(text[run]))) ++run;
    out.append(text.data() + i, run - i);
    if (run == text.size()) return;
    i = run;
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x80) {  // other controls and DEL
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else if (const std::size_t n = utf8_sequence_length(text, i); n > 0) {
          out.append(text.data() + i, n);
          i += n;
          continue;
        } else {
          out += "\\ufffd";
        }
    }
    ++i;
  }
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  append_json_escaped(out, text);
  out.push_back('"');
}

}  // namespace jobrelay
