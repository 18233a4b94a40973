#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "jobrelay/api/compression.hpp"

using namespace jobrelay::api;

namespace {
std::string gunzip(const std::string& packed) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = static_cast<uInt>(packed.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}
}  // namespace

// The deflate state is reused between documents: each answer must still be
// a complete gzip member of exactly its own document.
TEST(Gzip, EachDocumentIsACompleteMemberOfItsOwnBytes) {
  const std::string big(5000, 'a');
  std::string varied;
  for (int i = 0; i < 3000; ++i) varied += std::to_string(i * 7919 % 1000) + ",";
  const auto first = gzip(big);
  const auto second = gzip(varied);
  const auto again = gzip(big);
  ASSERT_TRUE(first && second && again);
  EXPECT_EQ(gunzip(*first), big);
  EXPECT_EQ(gunzip(*second), varied);
  EXPECT_EQ(*again, *first);  // no state carried over from the previous document
  EXPECT_LT(first->size(), big.size() / 10);
  EXPECT_EQ(gunzip(*gzip("")), "");
}

// A finished job keeps its compressed document for result_ttl: it must not
// carry the worst-case buffer deflate was given.
TEST(Gzip, CompressedDocumentsHoldOnlyTheirOwnBytes) {
  const auto packed = gzip(std::string(20000, 'a'));
  ASSERT_TRUE(packed);
  EXPECT_LT(packed->capacity(), 2 * packed->size() + 16);
  const std::string huge(1 << 20, 'x');  // past the scratch space a thread keeps
  EXPECT_EQ(gunzip(*gzip(huge)), huge);
  EXPECT_EQ(gunzip(*gzip("small")), "small");
}

TEST(Gzip, AcceptEncodingIsReadWithQualities) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("br, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0.000"));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip(""));
}
