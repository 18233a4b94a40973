#include <gtest/gtest.h>

#include <set>

#include "jobrelay/jobs/job_id.hpp"

using namespace jobrelay::jobs;

TEST(JobId, UrlSafe128BitsAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = new_job_id();
    ASSERT_EQ(id.size(), 24u);
    ASSERT_TRUE(is_valid_job_id(id)) << id;
    ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(JobId, ShapeCheckRejectsJunk) {
  EXPECT_FALSE(is_valid_job_id(""));
  EXPECT_FALSE(is_valid_job_id("j_"));
  EXPECT_FALSE(is_valid_job_id("x_AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(is_valid_job_id("j_AAAAAAAAAAAAAAAAAAAAA/"));
  EXPECT_FALSE(is_valid_job_id("j_AAAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(is_valid_job_id("j_../../../../etc/passwd"));
  // Every byte outside the alphabet, in every position.
  const std::string good = "j_AAAAAAAAAAAAAAAAAAAAAA";
  ASSERT_TRUE(is_valid_job_id(good));
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int b = 0; b < 256; ++b) {
    if (alphabet.find(static_cast<char>(b)) != std::string_view::npos) continue;
    for (std::size_t pos = 2; pos < good.size(); ++pos) {
      auto bad = good;
      bad[pos] = static_cast<char>(b);
      ASSERT_FALSE(is_valid_job_id(bad)) << "byte " << b << " at " << pos;
    }
  }
}
