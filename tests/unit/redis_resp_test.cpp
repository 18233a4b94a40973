// RESP without sockets: command encoding, and hiredis' reader turned into
// redis::reply, fed whole, in pieces, with garbage and with too much.
#include <gtest/gtest.h>

#include <string>

#include "jobrelay/redis/client.hpp"
#include "jobrelay/redis/resp.hpp"

namespace {

using jobrelay::redis::append_command;
using jobrelay::redis::encode_commands;
using jobrelay::redis::reply;
using jobrelay::redis::reply_reader;
using jobrelay::redis::script;

constexpr std::size_t big_limit = 1 << 20;

// All replies `bytes` holds, fed at once.
std::vector<reply> read_all(std::string_view bytes, reply_reader& reader) {
  std::vector<reply> out;
  EXPECT_TRUE(reader.feed(bytes.data(), bytes.size()));
  while (auto r = reader.next()) out.push_back(std::move(*r));
  return out;
}

TEST(RedisResp, CommandsAreArraysOfBulkStrings) {
  std::string out;
  append_command(out, {"SET", "k", "v"});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  append_command(out, {"GET", ""});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(RedisResp, ArgumentsAreBinarySafe) {
  const std::string value("a\r\n\0b", 5);
  constexpr char expected[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\n\0b\r\n";
  EXPECT_EQ(encode_commands({{"SET", "k", value}}), std::string(expected, sizeof expected - 1));
}

TEST(RedisResp, EveryReplyKind) {
  reply_reader reader(big_limit);
  auto replies =
      read_all("+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n$0\r\n\r\n", reader);
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_EQ(replies[0].type, reply::kind::status);
  EXPECT_EQ(replies[0].str, "OK");
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[1].str, "ERR wrong");
  EXPECT_EQ(replies[2].type, reply::kind::integer);
  EXPECT_EQ(replies[2].integer, -42);
  EXPECT_EQ(replies[3].type, reply::kind::string);
  EXPECT_EQ(replies[3].str, "hello");
  EXPECT_TRUE(replies[4].is_nil());
  EXPECT_TRUE(replies[5].is_nil());
  EXPECT_EQ(replies[6].type, reply::kind::string);
  EXPECT_EQ(replies[6].str, "");
  EXPECT_FALSE(reader.failed());
}

TEST(RedisResp, NestedArraysKeepTheirOrder) {
  reply_reader reader(big_limit);
  auto replies = read_all("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n*0\r\n", reader);
  ASSERT_EQ(replies.size(), 1u);
  const reply& r = replies[0];
  ASSERT_EQ(r.type, reply::kind::array);
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].integer, 1);
  ASSERT_EQ(r.elements[1].elements.size(), 2u);
  EXPECT_EQ(r.elements[1].elements[0].str, "a");
  ASSERT_EQ(r.elements[1].elements[1].elements.size(), 1u);
  EXPECT_EQ(r.elements[1].elements[1].elements[0].str, "b");
  EXPECT_EQ(r.elements[2].type, reply::kind::array);
  EXPECT_TRUE(r.elements[2].elements.empty());
}

TEST(RedisResp, ManyElementsArriveInOrder) {
  std::string bytes = "*2000\r\n";
  for (int i = 0; i < 2000; ++i)
    bytes += "$" + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
  reply_reader reader(big_limit);
  auto replies = read_all(bytes, reader);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(replies[0].elements.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(replies[0].elements[i].str, std::to_string(i));
}

TEST(RedisResp, OneByteAtATime) {
  const std::string bytes = "*2\r\n$7\r\nmessage\r\n:7\r\n+PONG\r\n";
  reply_reader reader(big_limit);
  std::vector<reply> replies;
  for (char c : bytes) {
    ASSERT_TRUE(reader.feed(&c, 1));
    while (auto r = reader.next()) replies.push_back(std::move(*r));
  }
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].elements[0].str, "message");
  EXPECT_EQ(replies[0].elements[1].integer, 7);
  EXPECT_EQ(replies[1].str, "PONG");
}

TEST(RedisResp, IncompleteIsNotFailed) {
  reply_reader reader(big_limit);
  EXPECT_TRUE(read_all("*2\r\n$3\r\nab", reader).empty());
  EXPECT_FALSE(reader.failed());
  auto rest = read_all("c\r\n:1\r\n", reader);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].elements[0].str, "abc");
}

TEST(RedisResp, GarbageFailsTheReaderForGood) {
  for (std::string_view garbage :
       {"?what\r\n", "*-2\r\n+x\r\n", ":12ab\r\n", "$-5\r\nxx\r\n", "*abc\r\n",
        "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "HTTP/1.1 200 OK\r\n"}) {
    reply_reader reader(big_limit);
    std::vector<reply> replies;
    reader.feed(garbage.data(), garbage.size());
    while (auto r = reader.next()) replies.push_back(std::move(*r));
    EXPECT_TRUE(reader.failed()) << garbage;
    EXPECT_NE(reader.why().find("protocol error"), std::string::npos) << reader.why();
    EXPECT_FALSE(reader.feed("+OK\r\n", 5)) << garbage;
    EXPECT_FALSE(reader.next()) << garbage;
  }
}

TEST(RedisResp, AnAnnouncedHugeBulkStringStopsAtTheLimit) {
  reply_reader reader(4096);
  EXPECT_TRUE(read_all("$1000000000\r\n", reader).empty());
  EXPECT_FALSE(reader.failed());  // it may still come, within the limit
  const std::string chunk(3000, 'x');
  reader.feed(chunk.data(), chunk.size());
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.failed());
  reader.feed(chunk.data(), chunk.size());
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.failed());
  EXPECT_NE(reader.why().find("larger than 4096 bytes"), std::string::npos) << reader.why();
}

TEST(RedisResp, AnArrayBuiltPastTheLimitFails) {
  // Each element is small and parsed at once: the buffer stays small, the
  // reply being built does not.
  reply_reader reader(4096);
  std::string bytes = "*1000000\r\n";
  for (int i = 0; i < 1000; ++i) bytes += ":1\r\n";
  reader.feed(bytes.data(), bytes.size());
  EXPECT_FALSE(reader.next());
  EXPECT_TRUE(reader.failed());
  EXPECT_NE(reader.why().find("larger than"), std::string::npos) << reader.why();
}

TEST(RedisResp, ManySmallRepliesInOneReadAreNotTooLarge) {
  reply_reader reader(4096);
  std::string bytes;
  for (int i = 0; i < 2000; ++i) bytes += "+OK\r\n";  // 10 KB in one feed
  EXPECT_EQ(read_all(bytes, reader).size(), 2000u);
  EXPECT_FALSE(reader.failed());
}

TEST(RedisResp, AReaderDroppedMidReplyFreesWhatItBuilt) {
  // Meant for the sanitizer build: nothing leaks, nothing is freed twice.
  reply_reader reader(big_limit);
  EXPECT_TRUE(read_all("*3\r\n*2\r\n$1\r\na\r\n:2\r\n$5\r\nab", reader).empty());
}

TEST(RedisScript, Sha1IsLowercaseHex) {
  const script s("return 1");
  EXPECT_EQ(s.source(), "return 1");
  EXPECT_EQ(s.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
