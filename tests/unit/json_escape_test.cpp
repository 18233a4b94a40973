#include "jobrelay/json_escape.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

using jobrelay::append_json_string;

namespace {

std::string as_json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

TEST(JsonEscape, QuotesBackslashesAndControlsAreEscaped) {
  EXPECT_EQ(as_json_string("plain id-123_x"), R"("plain id-123_x")");
  EXPECT_EQ(as_json_string("say \"hi\"\\now"), R"("say \"hi\"\\now")");
  EXPECT_EQ(as_json_string("a\nb\rc\td"), R"("a\nb\rc\td")");
  EXPECT_EQ(as_json_string(std::string("\x01\x1f\x7f\0", 4)), R"("\u0001\u001f\u007f\u0000")");
}

TEST(JsonEscape, Utf8PassesThroughAndBrokenBytesBecomeTheReplacementCharacter) {
  EXPECT_EQ(as_json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(as_json_string("a\xff"
                           "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(as_json_string("\xc3"), R"("\ufffd")");                                // cut short
  EXPECT_EQ(as_json_string("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong
  EXPECT_EQ(as_json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // a surrogate
  EXPECT_EQ(as_json_string("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
}

// Whatever the bytes, the output is a JSON string nlohmann reads back, and
// when they were UTF-8 it reads back exactly them.
TEST(JsonEscape, AnyBytesMakeAJsonStringThatReadsBackAsTheText) {
  std::mt19937 rng(20261207);
  constexpr char bytes[] =
      "ab\"\\/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\xa0\xc0\xff";
  const std::string alphabet = std::string(bytes, sizeof bytes - 1) + '\0';
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int i = 0; i < length; ++i)
      text += alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    const std::string out = as_json_string(text);
    ASSERT_TRUE(nlohmann::json::accept(out)) << testing::PrintToString(out);
    const auto back = nlohmann::json::parse(out).get<std::string>();
    bool was_utf8 = true;
    try {
      (void)nlohmann::json(text).dump();  // strict: throws on bytes that are not UTF-8
    } catch (const nlohmann::json::type_error&) {
      was_utf8 = false;
    }
    if (was_utf8)
      EXPECT_EQ(back, text) << out;
    else
      EXPECT_NE(back.find("\xef\xbf\xbd"), std::string::npos) << out;
  }
}
