#include "jobrelay/store/job_record.hpp"

#include <gtest/gtest.h>

#include "jobrelay/jobs/job_snapshot.hpp"

namespace jobrelay::store {
namespace {

using namespace std::chrono;

jobs::job_state full_state() {
  jobs::job_state s;
  s.id = "job_abc";
  s.status = jobs::job_status::failed;
  s.created_at = system_time(microseconds(1'800'000'000'123'456));
  s.updated_at = s.created_at + milliseconds(2500);
  s.finished_at = s.updated_at;
  s.progress = 0.25;
  s.eta_seconds = 12;
  s.error = jobs::job_error{"upstream_failed", "boom \"quoted\"", R"({"detail":[1,2]})"};
  s.version = 7;
  s.operation_url = "http://up:9000/operations/1?x=y";
  s.owner = "key-1";
  s.events_token = "tok";
  return s;
}

TEST(JobRecord, EveryFieldSurvivesTheRoundTripAndTheDocumentIsTheSame) {
  const auto s = full_state();
  auto back = decode_job(encode_meta(s, milliseconds(3375)), "");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->next_poll, milliseconds(3375));
  const auto& b = back->state;
  EXPECT_EQ(b.id, s.id);
  EXPECT_EQ(b.status, s.status);
  EXPECT_EQ(b.created_at, s.created_at);
  EXPECT_EQ(b.updated_at, s.updated_at);
  EXPECT_EQ(b.finished_at, s.finished_at);
  EXPECT_EQ(b.progress, s.progress);
  EXPECT_EQ(b.eta_seconds, s.eta_seconds);
  EXPECT_EQ(b.error, s.error);
  EXPECT_EQ(b.version, s.version);
  EXPECT_EQ(b.operation_url, s.operation_url);
  EXPECT_EQ(b.owner, s.owner);
  EXPECT_EQ(b.events_token, s.events_token);
  // Every replica must serve the same bytes and ETag for one version.
  const auto now = s.created_at + seconds(9);
  EXPECT_EQ(jobs::job_snapshot(b).document(now), jobs::job_snapshot(s).document(now));
  EXPECT_EQ(jobs::job_snapshot(b).etag(), jobs::job_snapshot(s).etag());
}

TEST(JobRecord, TheResultTravelsApartAsSentAndOnlyForSucceededJobs) {
  jobs::job_state s;
  s.id = "j";
  s.status = jobs::job_status::succeeded;
  const std::string result = R"({"pages": 3, "text":"a\"b"})";
  auto back = decode_job(encode_meta(s, {}), result);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state.result_json, result);
  EXPECT_EQ(encode_meta(s, {}).find("pages"), std::string::npos);

  s.status = jobs::job_status::running;
  back = decode_job(encode_meta(s, {}), result);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->state.result_json.empty());
  EXPECT_EQ(back->next_poll, milliseconds(0));
}

TEST(JobRecord, InvalidUtf8InAnUpstreamMessageIsReplacedNotFatal) {
  auto s = full_state();
  s.error->message = "bad \xff byte";
  auto back = decode_job(encode_meta(s, {}), "");
  ASSERT_TRUE(back);
  EXPECT_NE(back->state.error->message.find("bad "), std::string::npos);
}

TEST(JobRecord, DamagedRecordsAreAnErrorNotACrash) {
  for (std::string_view bad : {"", "{", "[]", "{\"id\":\"x\"}", R"({"id":"x","status":"weird","created":1,"updated":1,"version":1})",
                               R"({"id":"x","status":"queued","created":"no","updated":1,"version":1})",
                               R"({"id":"","status":"queued","created":1,"updated":1,"version":1})"}) {
    auto back = decode_job(bad, "");
    ASSERT_FALSE(back) << bad;
    EXPECT_EQ(back.error(), errc::store_unavailable);
  }
}

}  // namespace
}  // namespace jobrelay::store
