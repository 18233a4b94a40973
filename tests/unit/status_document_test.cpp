#include <gtest/gtest.h>

#include "jobrelay/upstream/status_document.hpp"

using namespace jobrelay;
using namespace jobrelay::upstream;

TEST(UpstreamStatus, EveryAliasCaseInsensitively) {
  for (auto s : {"notStarted", "NOTSTARTED", "queued", "Pending"})
    EXPECT_EQ(parse_upstream_status(s), upstream_status::not_started) << s;
  for (auto s : {"running", "inProgress", "INPROGRESS", "started", "Processing"})
    EXPECT_EQ(parse_upstream_status(s), upstream_status::running) << s;
  for (auto s : {"succeeded", "Completed", "SUCCESS"})
    EXPECT_EQ(parse_upstream_status(s), upstream_status::succeeded) << s;
  for (auto s : {"failed", "Failure", "ERROR"})
    EXPECT_EQ(parse_upstream_status(s), upstream_status::failed) << s;
  for (auto s : {"canceled", "Cancelled"})
    EXPECT_EQ(parse_upstream_status(s), upstream_status::canceled) << s;
  for (auto s : {"", "done", "runningg", "succeeded "})
    EXPECT_EQ(parse_upstream_status(s), std::nullopt) << s;
}

TEST(StatusDocument, ParsesProgressResultAndError) {
  auto doc = parse_status_document(R"({"status":"running","percentCompleted":42})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, upstream_status::running);
  EXPECT_DOUBLE_EQ(*doc->progress, 0.42);

  doc = parse_status_document(R"({"status":"Succeeded","result":{"a":[1,2]}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->result_json, R"({"a":[1,2]})");

  doc = parse_status_document(R"({"status":"failed","error":{"code":"E","message":"boom"}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->error_message, "boom");
  EXPECT_EQ(doc->error_json, R"({"code":"E","message":"boom"})");

  doc = parse_status_document(R"({"status":"running","percentCompleted":250})");
  ASSERT_TRUE(doc);
  EXPECT_DOUBLE_EQ(*doc->progress, 1.0);
}

TEST(StatusDocument, ProgressIsAnyJsonNumberClamped) {
  const std::pair<const char*, double> cases[] = {{"50", 0.5},     {"12.5", 0.125}, {"1E2", 1.0},
                                                  {"5e-1", 0.005}, {"-3", 0.0},     {"1e-400", 0.0},
                                                  {"0", 0.0}};
  for (const auto& [text, progress] : cases) {
    const auto doc = parse_status_document(
        std::string(R"({"status":"running","percentCompleted":)") + text + "}");
    ASSERT_TRUE(doc) << text;
    ASSERT_TRUE(doc->progress) << text;
    EXPECT_DOUBLE_EQ(*doc->progress, progress) << text;
  }
  for (const char* text : {"null", "true", "[50]", R"({"v":50})"}) {
    const auto doc = parse_status_document(
        std::string(R"({"status":"running","percentCompleted":)") + text + "}");
    ASSERT_TRUE(doc) << text;
    EXPECT_FALSE(doc->progress) << text;
  }
}

TEST(StatusDocument, AnEscapedStatusIsTheSameStatus) {
  const auto doc = parse_status_document(R"({"status":"succ\u0065eded","result":{ "a" : 1 }})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, upstream_status::succeeded);
  EXPECT_EQ(doc->result_json, R"({"a":1})");
}

TEST(StatusDocument, NonsenseIsAProtocolError) {
  for (auto body : {"", "not json", "[]", R"({"state":"running"})", R"({"status":7})",
                    R"({"status":"weird"})", "<html>502</html>"}) {
    auto doc = parse_status_document(body);
    ASSERT_FALSE(doc) << body;
    EXPECT_EQ(doc.error(), errc::upstream_protocol);
  }
  EXPECT_FALSE(parse_status_document(std::string(100000, '[')));
}

// The result is copied as sent when it is compact; loose whitespace (outside
// strings) is squeezed out as a parsed-and-printed value would be.
TEST(StatusDocument, ResultBytesAreKeptCompactWithoutLosingStringContent) {
  auto doc = parse_status_document(R"({"status":"succeeded","result":{"text":"a  b\n","n":[1, 2 ,3]}})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->result_json, R"({"text":"a  b\n","n":[1,2,3]})");

  doc = parse_status_document("{ \"result\" : \"x\\\"y\" ,\n \"status\" : \"succeeded\" }\n");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, upstream_status::succeeded);
  EXPECT_EQ(doc->result_json, R"("x\"y")");

  doc = parse_status_document(R"({"status":"succeeded","result":null})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->result_json, "null");
}

TEST(StatusDocument, KeysAreReadAsAParserWouldReadThem) {
  // A repeated key keeps its last value; an escaped key is the same key.
  auto doc = parse_status_document(R"({"status":"running","status":"failed","\u0065rror":"disk full"})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, upstream_status::failed);
  EXPECT_EQ(doc->error_message, "disk full");
  EXPECT_EQ(doc->error_json, R"("disk full")");
  // A key nested deeper is not a top-level member.
  doc = parse_status_document(R"({"meta":{"status":"failed"},"status":"running","percentCompleted":"50"})");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, upstream_status::running);
  EXPECT_FALSE(doc->progress);  // a string is not a number
}

TEST(StatusDocument, MalformedTextAndBadUtf8AreProtocolErrors) {
  for (std::string body : {std::string(R"({"status":"running")"), std::string(R"({"status":"running"} x)"),
                           std::string("{\"status\":\"running\",\"result\":\"\xff\xfe\"}"),
                           std::string(R"({"status":"running",})")}) {
    auto doc = parse_status_document(body);
    ASSERT_FALSE(doc) << body;
    EXPECT_EQ(doc.error(), errc::upstream_protocol);
  }
}

// Taking the body over changes nothing a reader sees: every member as the
// view-reading parser gives it, wherever the result sits in the object and
// whether or not it has whitespace to drop.
TEST(StatusDocument, AnOwnedBodyParsesAsAViewedOne) {
  const std::string docs[] = {
      R"({"status":"succeeded","result":{"a":[1,2],"b":"x y"}})",
      R"({"result":{"a":[1,2]},"status":"succeeded","percentCompleted":100})",
      R"({"status":"succeeded","result": { "a" : [ 1 , 2 ] } })",
      R"({"status":"succeeded","result":"a string result long enough to be on the heap"})",
      R"({"status":"failed","error":{"code":"E","message":"boom"},"result":[true,null]})",
      R"({"result":42,"error":"plain","status":"failed"})",
      R"({"status":"running","percentCompleted":5})",
      R"({"status":"succeeded","result":{}})",
      R"({"status":"succeeded","result":[)" + std::string(300, '7') + "]}",
      R"({"result":{"text":")" + std::string(300, 'x') + R"("},"status":"succeeded","percentCompleted":100})",
      R"({"status":"bogus","result":{}})",
      R"(not json)",
  };
  for (const auto& text : docs) {
    const auto viewed = parse_status_document(text);
    const auto owned = parse_owned_status_document(std::string(text));
    ASSERT_EQ(viewed.has_value(), owned.has_value()) << text;
    if (!viewed) continue;
    EXPECT_EQ(owned->status, viewed->status) << text;
    EXPECT_EQ(owned->progress, viewed->progress) << text;
    EXPECT_EQ(owned->result_json, viewed->result_json) << text;
    EXPECT_EQ(owned->error_json, viewed->error_json) << text;
    EXPECT_EQ(owned->error_message, viewed->error_message) << text;
  }
}
