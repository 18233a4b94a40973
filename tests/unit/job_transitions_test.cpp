#include "jobrelay/jobs/job_transitions.hpp"

#include <gtest/gtest.h>

#include "jobrelay/upstream/status_document.hpp"

using namespace jobrelay::jobs;
using jobrelay::system_time;
using jobrelay::upstream::status_document;
using jobrelay::upstream::upstream_status;
using std::chrono::seconds;

namespace {

const system_time created{seconds(1'800'000'000)};

job_state running_job() {
  job_state s;
  s.id = "j_test";
  s.status = job_status::running;
  s.created_at = created;
  s.updated_at = created;
  return s;
}

status_document doc(upstream_status status, std::optional<double> progress = std::nullopt) {
  status_document d;
  d.status = status;
  d.progress = progress;
  return d;
}

}  // namespace

TEST(ApplyDocument, APollThatBringsNothingNewChangesNothing) {
  auto s = running_job();
  const auto before = s;
  EXPECT_FALSE(apply_document(s, doc(upstream_status::running), created + seconds(5)));
  EXPECT_FALSE(apply_document(s, doc(upstream_status::not_started), created + seconds(6)));
  EXPECT_EQ(s.status, before.status);
  EXPECT_FALSE(s.progress);
  EXPECT_FALSE(s.eta_seconds);
  EXPECT_FALSE(s.finished_at);
}

TEST(ApplyDocument, AQueuedJobTheUpstreamHasIsRunningEvenWhenNotStarted) {
  auto s = running_job();
  s.status = job_status::queued;
  EXPECT_TRUE(apply_document(s, doc(upstream_status::not_started), created + seconds(1)));
  EXPECT_EQ(s.status, job_status::running);
}

TEST(ApplyDocument, TheEtaIsRecomputedOnlyWhenProgressChanges) {
  auto s = running_job();
  EXPECT_TRUE(apply_document(s, doc(upstream_status::running, 0.25), created + seconds(10)));
  ASSERT_TRUE(s.progress);
  EXPECT_DOUBLE_EQ(*s.progress, 0.25);
  ASSERT_TRUE(s.eta_seconds);
  EXPECT_EQ(*s.eta_seconds, 30);  // a quarter done in 10 s: 30 s to go
  // Same progress later: the ETA stays as it was (so does the ETag).
  EXPECT_FALSE(apply_document(s, doc(upstream_status::running, 0.25), created + seconds(40)));
  EXPECT_EQ(*s.eta_seconds, 30);
  // A running document without progress keeps the last one reported.
  EXPECT_FALSE(apply_document(s, doc(upstream_status::running), created + seconds(41)));
  EXPECT_DOUBLE_EQ(*s.progress, 0.25);
  EXPECT_TRUE(apply_document(s, doc(upstream_status::running, 0.5), created + seconds(20)));
  EXPECT_EQ(*s.eta_seconds, 20);
}

TEST(ApplyDocument, SuccessKeepsTheResultAndEndsTheJob) {
  auto s = running_job();
  auto d = doc(upstream_status::succeeded);
  d.result_json = R"({"labels":["a"]})";
  const auto now = created + seconds(90);
  EXPECT_TRUE(apply_document(s, d, now));
  EXPECT_EQ(s.status, job_status::succeeded);
  EXPECT_EQ(s.result_json, R"({"labels":["a"]})");
  EXPECT_EQ(s.finished_at, now);
  EXPECT_FALSE(s.progress);  // never reported: never invented
  EXPECT_FALSE(s.error);
}

TEST(ApplyDocument, SuccessWithoutAResultIsANullResult) {
  auto s = running_job();
  EXPECT_TRUE(apply_document(s, doc(upstream_status::succeeded), created + seconds(3)));
  EXPECT_EQ(s.result_json, "null");
}

TEST(ApplyDocument, SuccessCompletesReportedProgress) {
  auto s = running_job();
  apply_document(s, doc(upstream_status::running, 0.8), created + seconds(8));
  EXPECT_TRUE(apply_document(s, doc(upstream_status::succeeded, 0.9), created + seconds(9)));
  ASSERT_TRUE(s.progress);
  EXPECT_DOUBLE_EQ(*s.progress, 1.0);
  EXPECT_EQ(s.eta_seconds, 0);
}

TEST(ApplyDocument, FailureKeepsTheUpstreamsErrorAndMessage) {
  auto s = running_job();
  auto d = doc(upstream_status::failed);
  d.error_message = "model crashed";
  d.error_json = R"({"code":"E1","message":"model crashed"})";
  const auto now = created + seconds(12);
  EXPECT_TRUE(apply_document(s, d, now));
  EXPECT_EQ(s.status, job_status::failed);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, error_codes::upstream_failed);
  EXPECT_EQ(s.error->message, "model crashed");
  EXPECT_EQ(s.error->upstream_json, d.error_json);
  EXPECT_EQ(s.finished_at, now);
  EXPECT_TRUE(s.result_json.empty());
}

TEST(ApplyDocument, FailureAndCancelWithoutAMessageSaySoInWords) {
  auto failed = running_job();
  apply_document(failed, doc(upstream_status::failed), created + seconds(1));
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->message, "the upstream reported that the analysis failed");
  EXPECT_TRUE(failed.error->upstream_json.empty());

  auto canceled = running_job();
  EXPECT_TRUE(apply_document(canceled, doc(upstream_status::canceled), created + seconds(1)));
  EXPECT_EQ(canceled.status, job_status::failed);
  ASSERT_TRUE(canceled.error);
  EXPECT_EQ(canceled.error->code, error_codes::upstream_failed);
  EXPECT_EQ(canceled.error->message, "the upstream canceled the analysis");
}

TEST(FailJob, RecordsTheCodeMessageAndUpstreamAnswer) {
  auto s = running_job();
  s.progress = 0.5;
  const auto now = created + seconds(300);
  fail_job(s, error_codes::upstream_rejected, "the upstream answered 400", now,
           R"({"status":400,"body":"bad"})");
  EXPECT_EQ(s.status, job_status::failed);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.error->code, error_codes::upstream_rejected);
  EXPECT_EQ(s.error->message, "the upstream answered 400");
  EXPECT_EQ(s.error->upstream_json, R"({"status":400,"body":"bad"})");
  EXPECT_EQ(s.finished_at, now);

  auto timed_out = running_job();
  fail_job(timed_out, error_codes::timeout, "the job outlived max_job_duration", now);
  ASSERT_TRUE(timed_out.error);
  EXPECT_EQ(timed_out.error->code, error_codes::timeout);
  EXPECT_TRUE(timed_out.error->upstream_json.empty());
}
