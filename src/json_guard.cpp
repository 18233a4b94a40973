#include "jobrelay/json_guard.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "jobrelay/text.hpp"

namespace jobrelay {

namespace {

// The validator walks raw bytes: UTF-8 checks compare byte values, and a
// null pointer stands for "not valid JSON" so the byte loops stay branch-light.
using byte_ptr = const unsigned char*;

bool is_digit(unsigned char c) {
  return static_cast<unsigned>(c - '0') < 10u;
}

bool is_whitespace(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

byte_ptr skip_whitespace(byte_ptr p, byte_ptr end) {
  while (p != end && is_whitespace(*p)) ++p;
  return p;
}

// The same, adding what it stepped over to `skipped`: a member sink learns
// from it whether a value needs compacting without looking at it again.
byte_ptr skip_whitespace(byte_ptr p, byte_ptr end, std::size_t& skipped) {
  const byte_ptr start = p;
  p = skip_whitespace(p, end);
  skipped += static_cast<std::size_t>(p - start);
  return p;
}

// nlohmann's lexer treats a NUL byte as the end of the input (it also parses C
// strings), so it accepts "1\0anything". Here the text ends where it ends:
// bytes smuggled after a NUL are junk like any other, and a body forwarded
// upstream as sent must not carry them.
bool at_end_of_text(byte_ptr p, byte_ptr end) {
  return p == end;
}

// ---- strings ----

constexpr std::uint64_t every_byte(unsigned char b) {
  return 0x0101010101010101ull * b;
}

// Whether any of the 8 bytes needs more than "step over it" inside a string:
// a control character, '"', '\\' or a byte of a multi-byte UTF-8 sequence.
// (The classic SWAR tests: exact about "any byte", not about which one.)
bool has_special_string_byte(std::uint64_t w) {
  constexpr std::uint64_t high_bits = every_byte(0x80);
  const auto has_zero_byte = [](std::uint64_t v) { return (v - every_byte(1)) & ~v & high_bits; };
  const std::uint64_t below_space = (w - every_byte(0x20)) & ~w & high_bits;
  return (below_space | has_zero_byte(w ^ every_byte('"')) | has_zero_byte(w ^ every_byte('\\')) |
          (w & high_bits)) != 0;
}

bool is_plain_string_byte(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// Most string content is plain ASCII: step over it 8 bytes at a time.
byte_ptr skip_plain_string_bytes(byte_ptr p, byte_ptr end) {
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (has_special_string_byte(w)) break;
    p += 8;
  }
  while (p != end && is_plain_string_byte(*p)) ++p;
  return p;
}

constexpr std::array<std::int8_t, 256> hex_digit_values = [] {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 10; ++i) values['0' + i] = static_cast<std::int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    values['a' + i] = static_cast<std::int8_t>(10 + i);
    values['A' + i] = static_cast<std::int8_t>(10 + i);
  }
  return values;
}();

// The UTF-16 code unit of the 4 hex digits at p, or -1.
int code_unit_at(byte_ptr p, byte_ptr end) {
  if (end - p < 4) return -1;
  int unit = 0;
  for (int i = 0; i < 4; ++i) {
    const int digit = hex_digit_values[p[i]];
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

bool is_high_surrogate(int unit) {
  return unit >= 0xD800 && unit <= 0xDBFF;
}
bool is_low_surrogate(int unit) {
  return unit >= 0xDC00 && unit <= 0xDFFF;
}

// p is after "\u". A high surrogate must be followed at once by an escaped low
// one; a low surrogate on its own is not a character.
byte_ptr skip_unicode_escape(byte_ptr p, byte_ptr end) {
  const int unit = code_unit_at(p, end);
  if (unit < 0 || is_low_surrogate(unit)) return nullptr;
  p += 4;
  if (!is_high_surrogate(unit)) return p;
  if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return nullptr;
  return is_low_surrogate(code_unit_at(p + 2, end)) ? p + 6 : nullptr;
}

// p is after the backslash.
byte_ptr skip_escape(byte_ptr p, byte_ptr end) {
  if (p == end) return nullptr;
  switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return p + 1;
    case 'u':
      return skip_unicode_escape(p + 1, end);
    default:
      return nullptr;
  }
}

// p is at a byte >= 0x80: a whole well-formed sequence (utf8_sequence_length).
byte_ptr skip_utf8_sequence(byte_ptr p, byte_ptr end) {
  const std::string_view rest(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
  const std::size_t length = utf8_sequence_length(rest, 0);
  return length == 0 ? nullptr : p + length;
}

// p is after the opening quote; returns the position after the closing one.
byte_ptr skip_string(byte_ptr p, byte_ptr end) {
  for (;;) {
    p = skip_plain_string_bytes(p, end);
    if (p == end) return nullptr;
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      p = skip_escape(p + 1, end);
    } else if (*p >= 0x80) {
      p = skip_utf8_sequence(p, end);
    } else {
      return nullptr;  // a control character must be escaped
    }
    if (p == nullptr) return nullptr;
  }
}

// ---- numbers ----

byte_ptr skip_digits(byte_ptr p, byte_ptr end) {
  while (p != end && is_digit(*p)) ++p;
  return p;
}

// Exponents this large decide overflow alone, whatever the digits before them
// (a text is far shorter than this), and adding a digit count cannot overflow.
constexpr std::int64_t saturated_exponent = std::int64_t{1} << 56;

std::int64_t exponent_value(byte_ptr digits, byte_ptr digits_end) {
  std::int64_t value = 0;
  for (; digits != digits_end && value < saturated_exponent; ++digits) {
    value = value * 10 + (*digits - '0');
  }
  return std::min(value, saturated_exponent);
}

// The pieces of a number as JSON spells it: -?int(.frac)?([eE][+-]?digits)?
struct number_spelling {
  byte_ptr begin, end;
  byte_ptr integer_begin, integer_end;
  byte_ptr fraction_begin, fraction_end;  // empty without a fraction
  std::int64_t exponent;                  // 0 without one
};

// floor(log10(|value|)) read off the spelling, or nothing for zero.
std::optional<std::int64_t> decimal_magnitude(const number_spelling& n) {
  if (*n.integer_begin != '0') return (n.integer_end - n.integer_begin - 1) + n.exponent;
  const byte_ptr first_nonzero =
      std::find_if(n.fraction_begin, n.fraction_end, [](unsigned char c) { return c != '0'; });
  if (first_nonzero == n.fraction_end) return std::nullopt;
  return n.exponent - (first_nonzero - n.fraction_begin + 1);
}

// nlohmann stores a number that is not a 64-bit integer as a double and
// rejects it when that is infinite (too-small values round to zero and are
// accepted). Below 1e308 a double is finite, from 1e309 on it is not, so only
// the decade in between needs a real conversion.
bool fits_in_double(const number_spelling& n) {
  const auto magnitude = decimal_magnitude(n);
  if (!magnitude || *magnitude < 308) return true;
  if (*magnitude > 308) return false;
  double value;
  const auto [ptr, ec] = std::from_chars(reinterpret_cast<const char*>(n.begin),
                                         reinterpret_cast<const char*>(n.end), value);
  return ec != std::errc::result_out_of_range;
}

byte_ptr skip_number(byte_ptr p, byte_ptr end) {
  number_spelling n{p, nullptr, nullptr, nullptr, nullptr, nullptr, 0};
  if (*p == '-') ++p;
  if (p == end || !is_digit(*p)) return nullptr;
  n.integer_begin = p;
  p = *p == '0' ? p + 1 : skip_digits(p, end);  // no leading zeros
  n.integer_end = n.fraction_begin = n.fraction_end = p;
  if (p != end && *p == '.') {
    n.fraction_begin = ++p;
    if (p == end || !is_digit(*p)) return nullptr;
    p = n.fraction_end = skip_digits(p, end);
  }
  const bool has_exponent = p != end && (*p == 'e' || *p == 'E');
  if (has_exponent) {
    ++p;
    const bool negative = p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    if (p == end || !is_digit(*p)) return nullptr;
    const byte_ptr digits = p;
    p = skip_digits(p, end);
    n.exponent = negative ? -exponent_value(digits, p) : exponent_value(digits, p);
  }
  n.end = p;
  // The common case, an integer of up to 308 digits, is always finite.
  const bool is_short_integer =
      !has_exponent && n.fraction_begin == n.fraction_end && n.integer_end - n.integer_begin <= 308;
  if (!is_short_integer && !fits_in_double(n)) return nullptr;
  return p;
}

// ---- literals and scalars ----

byte_ptr skip_literal(byte_ptr p, byte_ptr end, std::string_view literal) {
  if (static_cast<std::size_t>(end - p) < literal.size()) return nullptr;
  if (std::memcmp(p, literal.data(), literal.size()) != 0) return nullptr;
  return p + literal.size();
}

// A value that is not an array or an object.
byte_ptr skip_scalar(byte_ptr p, byte_ptr end) {
  if (p == end) return nullptr;
  switch (*p) {
    case '"':
      return skip_string(p + 1, end);
    case 't':
      return skip_literal(p, end, "true");
    case 'f':
      return skip_literal(p, end, "false");
    case 'n':
      return skip_literal(p, end, "null");
    default:
      return *p == '-' || is_digit(*p) ? skip_number(p, end) : nullptr;
  }
}

std::string_view text_between(byte_ptr begin, byte_ptr end) {
  return {reinterpret_cast<const char*>(begin), static_cast<std::size_t>(end - begin)};
}

// p is where an object member starts: "name" : — returns where its value
// starts, and the quoted name in `name`.
byte_ptr skip_member_name(byte_ptr p, byte_ptr end, std::size_t& whitespace,
                          std::string_view& name) {
  if (p == end || *p != '"') return nullptr;
  const byte_ptr name_begin = p;
  p = skip_string(p + 1, end);
  if (p == nullptr) return nullptr;
  name = text_between(name_begin, p);
  p = skip_whitespace(p, end, whitespace);
  if (p == end || *p != ':') return nullptr;
  return skip_whitespace(p + 1, end, whitespace);
}

// The type of the value starting with a byte the validator accepted there.
json_type type_starting_with(unsigned char first) {
  switch (first) {
    case '{':
      return json_type::object;
    case '[':
      return json_type::array;
    case '"':
      return json_type::string;
    case 't':
    case 'f':
      return json_type::boolean;
    case 'n':
      return json_type::null;
    default:
      return json_type::number;
  }
}

// ---- nesting ----

// Which of array/object each open level is, a bit per level, so closing
// brackets can be matched without recursion or allocation.
class open_containers {
 public:
  explicit open_containers(std::size_t depth_limit)
      : limit_(std::min(depth_limit, max_validated_json_depth)) {}

  // False when one more level would pass the limit.
  bool open(bool is_object) {
    if (depth_ == limit_) return false;
    const std::uint64_t bit = std::uint64_t{1} << (depth_ % 64);
    auto& word = object_bits_[depth_ / 64];
    word = is_object ? (word | bit) : (word & ~bit);
    ++depth_;
    return true;
  }
  void close() { --depth_; }
  bool empty() const { return depth_ == 0; }
  std::size_t depth() const { return depth_; }
  bool innermost_is_object() const {
    const std::size_t level = depth_ - 1;
    return (object_bits_[level / 64] >> (level % 64)) & 1u;
  }

 private:
  std::array<std::uint64_t, max_validated_json_depth / 64> object_bits_{};
  std::size_t depth_ = 0;
  std::size_t limit_;
};

// Where the walk is: the open containers, the whitespace stepped over so far,
// and the member of a top-level object being read, for a sink that wants them.
class walk_state {
 public:
  walk_state(std::size_t depth_limit, json_member_sink* sink) : open(depth_limit), sink_(sink) {}

  open_containers open;
  std::size_t whitespace = 0;

  // A member name was read at p's depth; its value starts at `value`.
  void member_value_starts(std::string_view name, byte_ptr value) {
    if (sink_ == nullptr || open.depth() != 1) return;  // depth 1 is the top level
    member_ = {name, text_between(value, value), false};
    whitespace_before_value_ = whitespace;
  }
  // A value ended at `value_end` and the walk is back at p's depth: at the
  // top level of an object, that was a member's value.
  void value_ends(byte_ptr value_end) {
    if (sink_ == nullptr || open.depth() != 1 || member_.name.empty()) return;
    const auto value_begin = reinterpret_cast<byte_ptr>(member_.value.data());
    member_.value = text_between(value_begin, value_end);
    member_.value_has_whitespace = whitespace != whitespace_before_value_;
    sink_->member(member_);
  }

 private:
  json_member_sink* sink_;
  json_member member_;  // name empty until a top-level member is met
  std::size_t whitespace_before_value_ = 0;
};

// p is where an object member starts: steps over its name to where its
// value starts, telling `walk` (nullptr when the text is not valid there).
byte_ptr enter_member(byte_ptr p, byte_ptr end, walk_state& walk) {
  std::string_view name;
  p = skip_member_name(p, end, walk.whitespace, name);
  if (p != nullptr) walk.member_value_starts(name, p);
  return p;
}

enum class after_value { next_value, end_of_text, invalid };

// p is just past a complete value: close what it completes, then step over a
// ',' (and the member name after it in an object) to where the next value
// starts, or find the end of the text.
after_value continue_after_value(byte_ptr& p, byte_ptr end, walk_state& walk) {
  auto& open = walk.open;
  for (;;) {
    p = skip_whitespace(p, end, walk.whitespace);
    if (open.empty()) {
      return at_end_of_text(p, end) ? after_value::end_of_text : after_value::invalid;
    }
    if (p == end) return after_value::invalid;
    const bool in_object = open.innermost_is_object();
    if (*p == (in_object ? '}' : ']')) {
      open.close();
      ++p;
      walk.value_ends(p);
      continue;
    }
    if (*p != ',') return after_value::invalid;
    p = skip_whitespace(p + 1, end, walk.whitespace);
    if (in_object) p = enter_member(p, end, walk);
    return p == nullptr ? after_value::invalid : after_value::next_value;
  }
}

byte_ptr skip_byte_order_mark(byte_ptr p, byte_ptr end) {
  return end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? p + 3 : p;
}

result<json_type> validate(std::string_view text, std::size_t depth_limit, json_member_sink* sink) {
  const auto begin = reinterpret_cast<byte_ptr>(text.data());
  const byte_ptr end = begin + text.size();
  byte_ptr p = skip_whitespace(skip_byte_order_mark(begin, end), end);
  if (p == end) return {boost::system::in_place_error, errc::json_invalid};
  const json_type type = type_starting_with(*p);
  walk_state walk(depth_limit, type == json_type::object ? sink : nullptr);
  auto& open = walk.open;
  for (;;) {
    // p is where a value starts.
    if (p != end && (*p == '[' || *p == '{')) {
      const bool is_object = *p == '{';
      if (!open.open(is_object)) return {boost::system::in_place_error, errc::json_too_deep};
      p = skip_whitespace(p + 1, end, walk.whitespace);
      const bool is_empty = p != end && *p == (is_object ? '}' : ']');
      if (is_empty) {
        open.close();
        ++p;
        walk.value_ends(p);
      } else {
        if (is_object) p = enter_member(p, end, walk);
        if (p == nullptr) return {boost::system::in_place_error, errc::json_invalid};
        continue;
      }
    } else {
      p = skip_scalar(p, end);
      if (p == nullptr) return {boost::system::in_place_error, errc::json_invalid};
      walk.value_ends(p);
    }
    switch (continue_after_value(p, end, walk)) {
      case after_value::next_value:
        break;
      case after_value::end_of_text:
        return type;
      case after_value::invalid:
        return {boost::system::in_place_error, errc::json_invalid};
    }
  }
}

}  // namespace

result<json_type> validate_json(std::string_view text, std::size_t depth_limit) {
  return validate(text, depth_limit, nullptr);
}

result<json_type> validate_json(std::string_view text, json_member_sink& sink,
                                std::size_t depth_limit) {
  return validate(text, depth_limit, &sink);
}

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

result<nlohmann::json> parse_untrusted_json(std::string_view text, std::size_t depth_limit) {
  if (auto valid = validate_json(text, depth_limit); !valid) {
    return {boost::system::in_place_error, valid.error()};
  }
  // Cannot fail after validate_json; kept without exceptions all the same.
  auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return {boost::system::in_place_error, errc::json_invalid};
  return value;
}

}  // namespace jobrelay
