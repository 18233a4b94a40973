#include <gtest/gtest.h>

#include "jobrelay/error.hpp"

TEST(Error, CodesCarryTheJobrelayCategoryAndAMessage) {
  boost::system::error_code ec = jobrelay::errc::store_full;
  EXPECT_EQ(ec.category().name(), std::string("jobrelay"));
  EXPECT_EQ(ec.message(), "job table is full");
  EXPECT_TRUE(ec == jobrelay::errc::store_full);
}
