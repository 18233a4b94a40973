#include <gtest/gtest.h>
TEST(Integration, Builds) { SUCCEED(); }
