#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobrelay/json_guard.hpp"

using namespace jobrelay;

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
