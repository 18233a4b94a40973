// Request ids: the ones the server makes and the ones it accepts from clients.
#include "jobrelay/http/request_id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

using jobrelay::http::is_valid_request_id;
using jobrelay::http::new_request_id;

TEST(RequestId, MadeIdsAre32LowercaseHexDigitsAndDistinct) {
  std::set<std::string> seen;
  std::set<char> digits;
  std::string id;
  for (int i = 0; i < 10000; ++i) {
    new_request_id(id);
    ASSERT_EQ(id.size(), 32u) << id;
    for (const char c : id) {
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
      digits.insert(c);
    }
    ASSERT_TRUE(is_valid_request_id(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u) << "a made id repeated";
  EXPECT_EQ(digits.size(), 16u) << "some hex digit never appears";
}

TEST(RequestId, ClientIdsAreBoundedAndPrintable) {
  EXPECT_TRUE(is_valid_request_id("abc-123_DEF.ghi:jkl/mno+pqr=st@u"));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id(std::string(129, 'a')));
  EXPECT_TRUE(is_valid_request_id(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_request_id("has space"));
  EXPECT_FALSE(is_valid_request_id("line\r\nbreak"));
  EXPECT_FALSE(is_valid_request_id(std::string("nul\0byte", 8)));
}
