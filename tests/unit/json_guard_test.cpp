#include "jobrelay/json_guard.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace jobrelay;
using namespace std::string_literals;

namespace {

// A C++ string literal for `text`, so a failing input can be pasted back.
std::string escaped(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  bool after_hex_escape = false;
  for (unsigned char c : text) {
    const bool printable = c >= 0x20 && c < 0x7F;
    if (printable && after_hex_escape && std::isxdigit(c)) out += "\" \"";
    after_hex_escape = false;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (printable) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
      after_hex_escape = true;
    }
  }
  return out + "\"";
}

json_type type_of(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return json_type::null;
    case nlohmann::json::value_t::boolean:
      return json_type::boolean;
    case nlohmann::json::value_t::string:
      return json_type::string;
    case nlohmann::json::value_t::array:
      return json_type::array;
    case nlohmann::json::value_t::object:
      return json_type::object;
    default:
      return json_type::number;
  }
}

void expect_valid(std::string_view text, json_type type, std::size_t depth_limit = max_json_depth) {
  const auto checked = validate_json(text, depth_limit);
  ASSERT_TRUE(checked) << escaped(text) << ": " << checked.error().message();
  EXPECT_EQ(*checked, type) << escaped(text);
}

void expect_error(std::string_view text, errc error, std::size_t depth_limit = max_json_depth) {
  const auto checked = validate_json(text, depth_limit);
  ASSERT_FALSE(checked) << escaped(text) << " was accepted";
  EXPECT_EQ(checked.error(), error) << escaped(text);
}

void expect_invalid(std::string_view text) {
  expect_error(text, errc::json_invalid);
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST(JsonGuard, DepthIgnoresBracketsInStrings) {
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":"[[[[{{{"}]})"), 3u);
  EXPECT_EQ(json_nesting_depth(R"(["\"[", "x\\"])"), 1u);
  EXPECT_EQ(json_nesting_depth("42"), 0u);
}

TEST(JsonGuard, AMillionDeepIsRejectedWithoutRecursing) {
  const std::string deep(1'000'000, '[');
  auto parsed = parse_untrusted_json(deep);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error(), errc::json_too_deep);
  std::string ok(64, '[');
  ok += std::string(64, ']');
  EXPECT_TRUE(parse_untrusted_json(ok));
}

TEST(JsonGuard, InvalidJsonAndInvalidUtf8AreErrorsNotExceptions) {
  EXPECT_EQ(parse_untrusted_json("{").error(), errc::json_invalid);
  EXPECT_EQ(parse_untrusted_json("{\"a\":\"\xff\"}").error(), errc::json_invalid);
  EXPECT_EQ(parse_untrusted_json("").error(), errc::json_invalid);
}

TEST(JsonGuard, ParseUntrustedJsonReturnsTheValue) {
  auto parsed = parse_untrusted_json(R"({"status":"running","percentCompleted":40})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ((*parsed)["percentCompleted"], 40);
  // Errors come from validate_json: the first one met wins.
  EXPECT_EQ(parse_untrusted_json("[x" + std::string(100, '[')).error(), errc::json_invalid);
  EXPECT_EQ(parse_untrusted_json("[[[1]]]", 2).error(), errc::json_too_deep);
}

TEST(JsonGuard, ReportsTheTopLevelType) {
  expect_valid("null", json_type::null);
  expect_valid("true", json_type::boolean);
  expect_valid("false", json_type::boolean);
  expect_valid("-12.5e3", json_type::number);
  expect_valid("7", json_type::number);
  expect_valid(R"("x")", json_type::string);
  expect_valid("[]", json_type::array);
  expect_valid(R"([{"a":1}])", json_type::array);
  expect_valid("{}", json_type::object);
  expect_valid(R"({"a":[1,2]})", json_type::object);
}

TEST(JsonGuard, WhitespaceOnlyAroundTokens) {
  expect_valid(" \t\n\r1 \t\n\r", json_type::number);
  expect_valid(" [ 1 , { \"a\" : 2 } ] ", json_type::array);
  expect_invalid("");
  expect_invalid(" \t\r\n");
  expect_invalid("\f1");
  expect_invalid("1\v");
  expect_invalid("\xA0[]");
  expect_invalid("1 x");
  expect_invalid("1 2");
  expect_invalid("{} {}");
  expect_invalid("[1]]");
}

TEST(JsonGuard, ByteOrderMarkOnlyAtTheVeryStart) {
  expect_valid("\xEF\xBB\xBF{}", json_type::object);
  expect_valid("\xEF\xBB\xBF 1", json_type::number);
  expect_valid("\"\xEF\xBB\xBF\"", json_type::string);  // U+FEFF inside a string
  expect_invalid("\xEF\xBB\xBF");
  expect_invalid(" \xEF\xBB\xBFnull");
  expect_invalid("1\xEF\xBB\xBF");
  expect_invalid("\xEF\xBB\xBF\xEF\xBB\xBFnull");
  expect_invalid("\xEF\xBBnull");
  expect_invalid("[\xEF\xBB\xBF]");
}

// nlohmann's lexer takes a NUL byte outside a string for the end of the text
// and accepts whatever follows; validate_json does not.
TEST(JsonGuard, ANulAfterTheValueIsInvalidWhereNlohmannStopsReading) {
  for (const std::string& text : {"1\0garbage"s, "{} \0{"s, "true\0"s, "\"a\"\0\xff"s}) {
    EXPECT_TRUE(nlohmann::json::accept(text)) << escaped(text);
    expect_invalid(text);
  }
  for (const std::string& text : {"\0"s, " \0 1"s, "[1\0]"s, "\"a\0\""s, "tr\0ue"s, "-\0"s}) {
    EXPECT_FALSE(nlohmann::json::accept(text)) << escaped(text);
    expect_invalid(text);
  }
}

TEST(JsonGuard, LiteralsExactly) {
  expect_valid("true", json_type::boolean);
  expect_valid("false", json_type::boolean);
  expect_valid("null", json_type::null);
  for (const char* text : {"True", "tru", "t", "nul", "nulll", "truex", "false0", "NULL", "nan",
                           "Infinity", "undefined", "'a'"}) {
    expect_invalid(text);
  }
}

TEST(JsonGuard, NumberGrammar) {
  for (const char* text : {"0", "-0", "1", "-1", "10", "0.5", "-0.0", "1.25", "1e5", "1E5", "1e+5",
                           "1e-5", "0e0", "-0.0e-0", "123456789012345678901234567890",
                           "9223372036854775808", "-9223372036854775809", "18446744073709551616"}) {
    expect_valid(text, json_type::number);
  }
  for (const char* text : {"01", "-01", "00", "[01]", "1.", ".5", "-.5", "1.e5", "[1.]", "1e",
                           "1e+", "1e-", "-", "+1", "--1", "- 1", "{\"a\":-}"}) {
    expect_invalid(text);
  }
  for (const char* text : {"1.5.3", "1e5e3", "1e5.3", "0x10", "1_000", "1 .5"}) {
    expect_invalid(text);
  }
}

// What nlohmann does with numbers a double cannot hold, checked against it.
TEST(JsonGuard, NumberRangeAgreesWithNlohmann) {
  struct number_case {
    std::string text;
    bool valid;
  };
  // 2^1024 - 2^970, a 309-digit integer.
  const std::string overflow_tie =
      "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017"
      "977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273"
      "854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704"
      "342711559699508093042880177904174497792";
  const std::vector<number_case> cases = {
      {"1e308", true},
      {"1e309", false},
      {"-1e309", false},
      {"1e-400", true},  // underflows to zero: accepted
      {"-1e-400", true},
      {"4.9e-324", true},
      {"1.7976931348623157e308", true},  // the largest double
      {"1.7976931348623158e308", true},  // still rounds down to it
      {"1.7976931348623159e308", false},
      {"-1.7976931348623159e308", false},
      {overflow_tie, false},  // halfway between the largest double and 2^1024: rounds up
      {overflow_tie.substr(0, 308) + "1", true},  // just below it
      {"-" + overflow_tie, false},
      {"0.0000000001e318", true},
      {"0.0000000001e319", false},
      {"1" + std::string(308, '0'), true},  // 309 digits, 1e308
      {std::string(309, '9'), false},       // just under 1e309: rounds to infinity
      {"-" + std::string(309, '9'), false},
      {std::string(400, '1'), false},
      {"1" + std::string(400, '0') + "e-100", true},
      {"1" + std::string(400, '0') + "e-92", true},
      {"1" + std::string(400, '0') + "e-91", false},
      {"12345678901234567890", true},  // 20 digits: beyond uint64, a double
      {"-12345678901234567890", true},
      {"0e99999999999999999999999", true},
      {"0.000e99999999999999999999999", true},
      {"1e99999999999999999999999", false},
      {"1e-99999999999999999999999", true},
      {"0." + std::string(400, '0') + "1e709", true},
      {"0." + std::string(400, '0') + "1e710", false},
      {"-0", true},
      {"01", false},
      {"1.", false},
      {".5", false},
      {"1e", false},
      {"1e+", false},
      {"-", false},
  };
  for (const auto& c : cases) {
    const bool nlohmann_accepts = nlohmann::json::accept(c.text);
    EXPECT_EQ(nlohmann_accepts, c.valid) << "nlohmann on " << c.text;
    const auto checked = validate_json(c.text);
    EXPECT_EQ(checked.has_value(), nlohmann_accepts) << c.text;
    if (checked) {
      EXPECT_EQ(*checked, json_type::number);
    } else {
      EXPECT_EQ(checked.error(), errc::json_invalid) << c.text;
    }
  }
}

TEST(JsonGuard, StringEscapes) {
  for (const char* text : {R"("")", R"("\"\\\/\b\f\n\r\t")", R"("\u00e9\u00E9\uABCD\uabcd")",
                           R"("\u0000")", R"("\uD83D\uDE00")", R"("\ud83d\ude00")",
                           R"("\uDBFF\uDFFF")", R"("\uD7FF\uE000")", R"("a\u0041b")"}) {
    expect_valid(text, json_type::string);
  }
  // Surrogates come in escaped high-low pairs.
  for (const char* text : {R"("\uD800")", R"("\uD800x")", R"("\uD800\n")", R"("\uD800\u0041")",
                           R"("\uD800\uD800")", R"("\uDBFF\uDBFF")", R"("\uDC00")",
                           R"("\uDFFF\uD800")", R"("\uD800\u)", R"("\uD800\uDC0")"}) {
    expect_invalid(text);
  }
  for (const char* text : {R"("\u12")", R"("\u12G4")", R"("\U0041")", R"("\x41")", R"("\'")",
                           R"("\a")", R"("\0")", R"("\)", R"("\u)"}) {
    expect_invalid(text);
  }
  for (const char* text : {R"("abc)", R"("abc\")", "\"", R"(")"}) {
    expect_invalid(text);  // never closed
  }
}

TEST(JsonGuard, ControlCharactersMustBeEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    expect_invalid("\"a"s + static_cast<char>(c) + "b\"");
  }
  expect_valid("\"\x7f\"", json_type::string);
  expect_valid("\" ~\"", json_type::string);
}

TEST(JsonGuard, Utf8Exactly) {
  for (const char* text : {
           "\xC2\x80",          // U+0080, the first two-byte one
           "\xDF\xBF",          // U+07FF
           "\xE0\xA0\x80",      // U+0800, the first three-byte one
           "\xE0\xBF\xBF",      //
           "\xE1\x80\x80",      //
           "\xEC\xBF\xBF",      //
           "\xED\x80\x80",      //
           "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
           "\xEE\x80\x80",      // U+E000, just above them
           "\xEF\xBF\xBF",      // U+FFFF
           "\xF0\x90\x80\x80",  // U+10000, the first four-byte one
           "\xF0\xBF\xBF\xBF",  //
           "\xF1\x80\x80\x80",  //
           "\xF3\xBF\xBF\xBF",  //
           "\xF4\x80\x80\x80",  //
           "\xF4\x8F\xBF\xBF",  // U+10FFFF, the last code point
           "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
       }) {
    expect_valid("\""s + text + "\"", json_type::string);
  }
  for (const char* text : {
           "\x80",                  // a continuation byte alone
           "\xBF",                  //
           "\xC0\x80",              // overlong U+0000
           "\xC1\xBF",              // overlong U+007F
           "\xC2",                  // cut short
           "\xC2\x7F",              // not a continuation byte
           "\xC2\xC0",              //
           "\xDF",                  //
           "\xE0\x80\x80",          // overlong
           "\xE0\x9F\xBF",          // overlong U+07FF
           "\xE0\xA0",              // cut short
           "\xE1\x80",              //
           "\xE1\x7F\x80",          //
           "\xE1\x80\xC0",          //
           "\xED\xA0\x80",          // U+D800, a surrogate
           "\xED\xBF\xBF",          // U+DFFF
           "\xEF\xBF",              //
           "\xF0\x80\x80\x80",      // overlong
           "\xF0\x8F\xBF\xBF",      // overlong U+FFFF
           "\xF0\x90\x80",          // cut short
           "\xF1\x80\x80",          //
           "\xF1\x80\x80\x7F",      //
           "\xF4\x90\x80\x80",      // U+110000, past the last code point
           "\xF4\xBF\xBF\xBF",      //
           "\xF5\x80\x80\x80",      // F5..FF never appear
           "\xF8\x88\x80\x80\x80",  //
           "\xFE",                  //
           "\xFF",                  //
       }) {
    expect_invalid("\""s + text + "\"");
    expect_invalid("\"abcdefgh"s + text + "ijklmnop\"");  // past the 8-byte fast path
  }
  expect_invalid("\xC3\xA9");  // outside a string
  expect_invalid("[\"\xC3\"]");
}

TEST(JsonGuard, LongStringsTakeTheFastPathExactly) {
  const std::string plain(1000, 'a');
  expect_valid("\"" + plain + "\"", json_type::string);
  for (std::size_t at : {0u, 7u, 8u, 9u, 15u, 16u, 999u}) {
    for (char special : {'\x1f', '\x00', '\x7f', '"', '\\'}) {
      std::string text = "\"" + plain + "\"";
      text[1 + at] = special;
      EXPECT_EQ(validate_json(text).has_value(), nlohmann::json::accept(text))
          << "byte " << int(special) << " at " << at;
    }
  }
}

TEST(JsonGuard, ObjectsAndArrays) {
  for (const char* text :
       {"[]", "[ ]", "[1]", "[1,2,3]", "[[],[[]],{}]", R"({"a":1})", R"({ "a" : 1 , "b" : [ ] })",
        R"({"a":1,"a":2})", R"({"":{}})", R"({"a":{"b":{"c":null}}})"}) {
    EXPECT_TRUE(validate_json(text)) << text;
  }
  for (const char* text :
       {"[", "]", "[1", "[1,", "[1,]", "[,1]", "[,]", "[1 2]", "[1,,2]", "[[]"}) {
    expect_invalid(text);
  }
  for (const char* text : {"{", "}", "{,}", "{1:2}", "{a:1}", "{null:1}", "[\"a\":1]"}) {
    expect_invalid(text);
  }
  for (const char* text : {R"({"a"})", R"({"a":})", R"({"a":1,})", R"({"a" 1})", R"({"a"::1})",
                           R"({"a":1 "b":2})", R"({"a",1})"}) {
    expect_invalid(text);
  }
  for (const char* text : {"[1}", "{]", "[}", R"({"a":1]})", R"({"a":1}})"}) {
    expect_invalid(text);  // closed by the other bracket
  }
}

namespace {

struct collected_members final : json_member_sink {
  std::vector<json_member> members;
  void member(const json_member& m) override { members.push_back(m); }
};

collected_members members_of(std::string_view text) {
  collected_members sink;
  EXPECT_TRUE(validate_json(text, sink)) << escaped(text);
  return sink;
}

}  // namespace

TEST(JsonGuard, HandsTopLevelMembersToASink) {
  const std::string text =
      R"( { "a" : 1 , "\u0062":[ 1, {"x":"y z"} ] ,"c":{},"d":"s t","e":[],"a":-2.5e3,"f":{"g":{"h":null}}} )";
  const auto got = members_of(text).members;
  ASSERT_EQ(got.size(), 7u);
  const std::vector<std::array<std::string_view, 2>> expected = {
      {R"("a")", "1"},
      {R"("\u0062")", R"([ 1, {"x":"y z"} ])"},
      {R"("c")", "{}"},
      {R"("d")", R"("s t")"},
      {R"("e")", "[]"},
      {R"("a")", "-2.5e3"},
      {R"("f")", R"({"g":{"h":null}})"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(got[i].name, expected[i][0]) << i;
    EXPECT_EQ(got[i].value, expected[i][1]) << i;
  }
  // Whitespace inside strings does not count; between tokens it does.
  EXPECT_FALSE(got[0].value_has_whitespace);
  EXPECT_TRUE(got[1].value_has_whitespace);
  EXPECT_FALSE(got[3].value_has_whitespace);
  EXPECT_FALSE(got[6].value_has_whitespace);
  EXPECT_TRUE(members_of(R"({"a":{"b" :1}})").members.at(0).value_has_whitespace);
  EXPECT_TRUE(members_of(R"({"a":[1 ]})").members.at(0).value_has_whitespace);
  EXPECT_TRUE(members_of("{\"a\":[\n]}").members.at(0).value_has_whitespace);

  // Only a top-level object has members to hand over.
  for (const char* other : {"[1,{\"a\":2}]", "{}", "\"a\"", "3", "[{\"a\":{\"b\":1}}]"})
    EXPECT_TRUE(members_of(other).members.empty()) << other;
  // An invalid text is refused whatever was handed over before the error.
  collected_members sink;
  EXPECT_FALSE(validate_json(R"({"a":1,"b":})", sink));
  EXPECT_EQ(validate_json(R"({"a":[[[1]]]})", sink, 2).error(), errc::json_too_deep);
}

TEST(JsonGuard, DepthLimitCountsEveryOpenBracket) {
  expect_valid(nested_arrays(64), json_type::array);
  expect_error(nested_arrays(65), errc::json_too_deep);
  std::string objects;
  for (int i = 0; i < 64; ++i) objects += R"({"a":)";
  objects += "1" + std::string(64, '}');
  expect_valid(objects, json_type::object);
  expect_error(R"({"a":)" + objects + "}", errc::json_too_deep);
  expect_valid(R"([{"a":[{"b":[]}]}])", json_type::array, 5);
  expect_error(R"([{"a":[{"b":[]}]}])", errc::json_too_deep, 4);

  expect_valid("1", json_type::number, 0);
  expect_error("[]", errc::json_too_deep, 0);
  expect_valid("[[1],[2]]", json_type::array, 2);  // siblings do not add up
  // The first error met wins.
  expect_error("[[[x", errc::json_too_deep, 2);
  expect_error("[x[[[", errc::json_invalid, 2);
  expect_error("[1,[[", errc::json_too_deep, 2);
  expect_error("\xFF[[[", errc::json_invalid, 2);
}

TEST(JsonGuard, DepthBeyondTheStackIsCappedNotOverrun) {
  expect_valid(nested_arrays(max_validated_json_depth), json_type::array, 1'000'000);
  expect_error(nested_arrays(max_validated_json_depth + 1), errc::json_too_deep, 1'000'000);
  std::string mixed;
  for (std::size_t i = 0; i < max_validated_json_depth / 2; ++i) mixed += R"([{"k":)";
  mixed += "0";
  for (std::size_t i = 0; i < max_validated_json_depth / 2; ++i) mixed += "}]";
  expect_valid(mixed, json_type::array, max_validated_json_depth);
  std::string mismatched = mixed;
  mismatched[mismatched.size() - 2] = ']';  // the outermost object, pushed first, closed by ']'
  EXPECT_EQ(validate_json(mismatched, max_validated_json_depth).error(), errc::json_invalid);
}

// ---- differential test against nlohmann::json::accept ----

namespace {

// Random JSON texts from a small grammar; deterministic for a seed.
class random_json {
 public:
  explicit random_json(std::uint32_t seed) : rng_(seed) {}

  std::string document() {
    std::string out;
    nodes_left_ = 40;
    if (one_in(50)) out += "\xEF\xBB\xBF";  // a byte order mark
    whitespace(out);
    value(out, 0);
    whitespace(out);
    return out;
  }

  // One to three bytes flipped, inserted or deleted, or the text cut short.
  std::string mutated(std::string text) {
    const int edits = 1 + below(3);
    for (int i = 0; i < edits; ++i) {
      const std::size_t at = text.empty() ? 0 : below(static_cast<int>(text.size()));
      switch (below(4)) {
        case 0:
          if (!text.empty()) text[at] = mutation_byte();
          break;
        case 1:
          text.insert(text.begin() + at, mutation_byte());
          break;
        case 2:
          if (!text.empty()) text.erase(at, 1);
          break;
        default:
          text.resize(at);
          break;
      }
    }
    return text;
  }

  // A few tokens and bytes the lexer cares about, strung together at random.
  std::string jsonish_bytes() {
    // Structure, numbers, literals, escapes, UTF-8 pieces, bytes never valid.
    static const std::string_view pieces[] = {
        "[",    "]",    "{",    "}",        ",",        ":",        "\"",   "\"",   " ",    "\n",
        "0",    "1",    "9",    "-",        "+",        ".",        "e",    "E",    "true", "false",
        "null", "t",    "\\",   "\\u",      "u",        "D800",     "DC00", "00e9", "\\n",  "a",
        "\xC3", "\xA9", "\xED", "\xA0",     "\xE0",     "\xF0",     "\xF4", "\xC1", "\x80", "\x8F",
        "\x90", "\x9F", "\xBF", "\xF0\x9F", "\x98\x80", "\xEF\xBB", "\xBF", "\x1F", "\x7F"};
    std::string out;
    const int count = below(9);
    for (int i = 0; i < count; ++i) {
      if (one_in(16)) {
        out += '\0';  // nlohmann's end of text, invalid here
      } else {
        out += pieces[below(static_cast<int>(std::size(pieces)))];
      }
    }
    return out;
  }

  // A string of one to four bytes around the edges of UTF-8's lead and
  // continuation ranges: most are not UTF-8, a few are.
  std::string quoted_utf8_edges() {
    static const unsigned char bytes[] = {'a',  0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                          0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
                                          0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
    std::string out = "\"";
    const int count = 1 + below(4);
    for (int i = 0; i < count; ++i) {
      // Continuation bytes half the time, so longer sequences get completed.
      out += static_cast<char>(one_in(2) ? bytes[2 + below(6)] : bytes[below(sizeof bytes)]);
    }
    return out + '"';
  }

 private:
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool one_in(int n) { return below(n) == 0; }

  void whitespace(std::string& out) {
    while (one_in(3)) out += " \t\n\r"[below(4)];
  }

  void value(std::string& out, int depth) {
    --nodes_left_;
    const bool may_nest = depth < 10 && nodes_left_ > 0;
    switch (below(may_nest ? 8 : 5)) {
      case 0:
        out += std::array{"true", "false", "null"}[below(3)];
        break;
      case 1:
      case 2:
        number(out);
        break;
      case 3:
      case 4:
        string(out);
        break;
      case 5:
      case 6:
        container(out, depth, one_in(2));
        break;
      default:
        container(out, depth, false);
        break;
    }
  }

  void container(std::string& out, int depth, bool is_object) {
    out += is_object ? '{' : '[';
    whitespace(out);
    const int count = below(5);
    for (int i = 0; i < count; ++i) {
      if (i > 0) {
        out += ',';
        whitespace(out);
      }
      if (is_object) {
        string(out);
        whitespace(out);
        out += ':';
        whitespace(out);
      }
      value(out, depth + 1);
      whitespace(out);
    }
    out += is_object ? '}' : ']';
  }

  void digits(std::string& out, int count) {
    for (int i = 0; i < count; ++i) out += static_cast<char>('0' + below(10));
  }

  void number(std::string& out) {
    if (one_in(3)) out += '-';
    if (one_in(40)) {  // around the largest double
      out += "1.797693134862315";
      digits(out, below(4));
      out += "e308";
      return;
    }
    if (one_in(4)) {
      out += '0';
    } else {
      out += static_cast<char>('1' + below(9));
      static const int long_lengths[] = {17, 18, 19, 20, 21, 306, 307, 308, 309, 310};
      digits(out, one_in(15) ? long_lengths[below(10)] : below(6));
    }
    if (one_in(3)) {
      out += '.';
      if (one_in(3)) out += "000";
      digits(out, 1 + below(5));
    }
    if (one_in(3)) {
      out += one_in(2) ? 'e' : 'E';
      out += std::array{"", "+", "-"}[below(3)];
      static const int exponents[] = {0, 1, 5, 22, 300, 305, 307, 308, 309, 310, 320, 330, 400};
      out += std::to_string(one_in(2) ? below(40) : exponents[below(13)]);
    }
  }

  void string(std::string& out) {
    out += '"';
    const int pieces = below(7);
    for (int i = 0; i < pieces; ++i) string_piece(out);
    out += '"';
  }

  // Printable ASCII but '"' and '\\'.
  static inline const std::string plain_ascii = [] {
    std::string chars;
    for (char c = 0x20; c < 0x7F; ++c) {
      if (c != '"' && c != '\\') chars += c;
    }
    return chars;
  }();

  void string_piece(std::string& out) {
    switch (below(6)) {
      case 0: {
        const int length = one_in(4) ? below(40) : below(8);
        for (int i = 0; i < length; ++i) {
          out += plain_ascii[below(static_cast<int>(plain_ascii.size()))];
        }
        break;
      }
      case 1:
        out += '\\';
        out += "\"\\/bfnrt"[below(8)];
        break;
      case 2:
        unicode_escape(out, one_in(4) ? below(0x80) : skip_surrogates(below(0x10000 - 0x800)));
        break;
      case 3:
        unicode_escape(out, 0xD800 + below(0x400));
        unicode_escape(out, 0xDC00 + below(0x400));
        break;
      default:
        utf8(out, code_point());
        break;
    }
  }

  void unicode_escape(std::string& out, int unit) {
    const char* hex = one_in(2) ? "0123456789abcdef" : "0123456789ABCDEF";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 15];
  }

  int code_point() {
    static const int edges[] = {0x7F,    0x80,    0x7FF,    0x800,   0xFFF,   0x1000,
                                0xD7FF,  0xE000,  0xFEFF,   0xFFFF,  0x10000, 0x3FFFF,
                                0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
    if (one_in(3)) return edges[below(16)];
    return skip_surrogates(0x80 + below(0x110000 - 0x80 - 0x800));
  }

  // Maps 0..0x10F7FF onto the code points that are not surrogates.
  static int skip_surrogates(int n) { return n < 0xD800 ? n : n + 0x800; }

  static void utf8(std::string& out, int cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  char mutation_byte() {
    static const unsigned char bytes[] = {0x00, 0x1F, 0x20, 0x7F, 0x80, 0x90, 0x9F, 0xBF, 0xC0,
                                          0xC2, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, '\\',
                                          '"',  'e',  'E',  '-',  '+',  '.',  '0',  '1',  ',',
                                          ':',  '[',  ']',  '{',  '}',  'u',  'D'};
    if (one_in(4)) return static_cast<char>(below(256));
    return static_cast<char>(bytes[below(sizeof bytes)]);
  }

  std::mt19937 rng_;
  int nodes_left_ = 0;
};

// Whether a value's text has whitespace outside its strings: what
// json_member::value_has_whitespace says, found the slow way.
bool has_whitespace_between_tokens(std::string_view value) {
  bool in_string = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return true;
    }
  }
  return false;
}

// The members validate_json hands over rebuild the object nlohmann parses
// (a repeated name keeping its last value), each value's text parses alone,
// and the whitespace flag is right.
bool members_agree_with_nlohmann(const std::string& text) {
  collected_members sink;
  if (!validate_json(text, sink)) return false;
  nlohmann::json rebuilt = nlohmann::json::object();
  for (const auto& m : sink.members) {
    const auto value = nlohmann::json::parse(m.value, nullptr, false);
    const auto name = nlohmann::json::parse(m.name, nullptr, false);
    if (value.is_discarded() || !name.is_string() ||
        m.value_has_whitespace != has_whitespace_between_tokens(m.value)) {
      ADD_FAILURE() << "member " << escaped(m.name) << " = " << escaped(m.value) << " of "
                    << escaped(text);
      return false;
    }
    rebuilt[name.get<std::string>()] = value;
  }
  if (rebuilt == nlohmann::json::parse(text)) return true;
  ADD_FAILURE() << "members rebuild " << rebuilt.dump() << ": " << escaped(text);
  return false;
}

// Compares validate_json with nlohmann on one text; false on a mismatch.
bool agrees_with_nlohmann(const std::string& text) {
  const auto checked = validate_json(text);
  // The one deliberate difference: a NUL byte, which nlohmann takes for the
  // end of the text (inside a string it is invalid for both).
  const bool accepted = nlohmann::json::accept(text) && text.find('\0') == std::string::npos;
  if (checked.has_value() != accepted) {
    ADD_FAILURE() << "validate_json " << (checked ? "accepts" : "rejects") << ", nlohmann "
                  << (accepted ? "accepts" : "rejects") << ": " << escaped(text);
    return false;
  }
  if (!checked) {
    if (checked.error() == errc::json_invalid) return true;
    ADD_FAILURE() << "unexpected " << checked.error().message() << ": " << escaped(text);
    return false;
  }
  const json_type nlohmann_type = type_of(nlohmann::json::parse(text));
  if (*checked == json_type::object && !members_agree_with_nlohmann(text)) return false;
  if (*checked == nlohmann_type) return true;
  ADD_FAILURE() << "type " << int(*checked) << ", nlohmann's " << int(nlohmann_type) << ": "
                << escaped(text);
  return false;
}

}  // namespace

TEST(JsonGuard, AgreesWithNlohmannOnRandomAndMutatedTexts) {
  random_json generate(20240611);
  int cases = 0, valid = 0, mismatches = 0;
  const auto check = [&](const std::string& text) {
    ++cases;
    valid += nlohmann::json::accept(text);
    if (!agrees_with_nlohmann(text)) ++mismatches;
  };
  for (int i = 0; i < 20'000 && mismatches < 20; ++i) {
    const std::string document = generate.document();
    check(document);
    // A generated document is as deep as it looks, no deeper.
    const std::size_t depth = json_nesting_depth(document, 100);
    if (depth > 0 && validate_json(document)) {
      EXPECT_TRUE(validate_json(document, depth)) << escaped(document);
      EXPECT_EQ(validate_json(document, depth - 1).error(), errc::json_too_deep)
          << escaped(document);
    }
    check(generate.mutated(document));
    check(generate.mutated(document));
    check(generate.jsonish_bytes());
    check(generate.quoted_utf8_edges());
  }
  EXPECT_EQ(mismatches, 0);
  // Enough of both verdicts for the comparison to mean something.
  EXPECT_GT(valid, cases / 5);
  EXPECT_LT(valid, cases * 4 / 5);
  std::printf("[          ] %d texts compared, %d valid\n", cases, valid);
}
