#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
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

// Small bodies take the fixed-code encoder; what it cannot shrink (random
// bytes: 9 bits for half of them) goes to zlib, which stores it.
TEST(Gzip, SmallBodiesRoundTripWhicheverEncoderTookThem) {
  std::string doc = R"({"status":"succeeded","result":{"items":[)";
  while (doc.size() < 1200) doc += R"({"label":"positive","score":0.873},)";
  doc += "{}]}}";
  const auto small = gzip(doc);
  ASSERT_TRUE(small);
  EXPECT_EQ(gunzip(*small), doc);
  EXPECT_LT(small->size(), doc.size() * 3 / 4);
  EXPECT_LT(small->capacity(), 2 * small->size() + 16);

  std::string noise(4000, '\0');
  std::uint32_t x = 12345;
  for (auto& c : noise) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
  const auto stored = gzip(noise);
  ASSERT_TRUE(stored);
  EXPECT_EQ(gunzip(*stored), noise);
  EXPECT_LT(stored->size(), noise.size() + 64);  // not the fixed codes' +1/8
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
