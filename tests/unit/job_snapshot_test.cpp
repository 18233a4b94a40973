#include "jobrelay/jobs/job_snapshot.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

using namespace jobrelay;
using namespace jobrelay::jobs;
using namespace std::chrono;

namespace {
job_state running_state(system_time created) {
  job_state s;
  s.id = "j_AAAAAAAAAAAAAAAAAAAAAA";
  s.status = job_status::running;
  s.created_at = s.updated_at = created;
  s.version = 3;
  return s;
}
}  // namespace

TEST(JobSnapshot, DocumentHasTheApiShapeAndElapsedMovesWithTime) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.progress = 0.42;
  s.eta_seconds = 7;
  job_snapshot snap(s);
  auto doc = nlohmann::json::parse(snap.document(t0 + milliseconds(5120)));
  EXPECT_EQ(doc["id"], s.id);
  EXPECT_EQ(doc["status"], "running");
  EXPECT_EQ(doc["created_at"], "2027-01-15T08:00:00.000Z");
  EXPECT_DOUBLE_EQ(doc["elapsed_seconds"].get<double>(), 5.12);
  EXPECT_DOUBLE_EQ(doc["progress"].get<double>(), 0.42);
  EXPECT_EQ(doc["eta_seconds"], 7);
  EXPECT_FALSE(doc.contains("result"));
  EXPECT_FALSE(doc.contains("error"));
  EXPECT_EQ(doc["links"]["self"], "/results/" + s.id);
  EXPECT_EQ(doc["links"]["events"], "/results/" + s.id + "/events");
  auto later = nlohmann::json::parse(snap.document(t0 + seconds(9)));
  EXPECT_DOUBLE_EQ(later["elapsed_seconds"].get<double>(), 9.0);
  EXPECT_EQ(snap.etag(), "\"3\"");
}

// Behind a public_url with a path (https://api.example.com/jobrelay), the
// links must carry it, or a client resolving them against the public origin
// misses the proxy's prefix. Everything else in the document stays as cached.
TEST(JobSnapshot, LinksCarryTheLinkPrefix) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.events_token = "tok";
  s.error = job_error{"upstream_failed", "x", ""};
  job_snapshot snap(s);
  const auto plain = nlohmann::json::parse(snap.document(t0));
  auto prefixed = nlohmann::json::parse(snap.document(t0, std::nullopt, true, "/jobrelay"));
  EXPECT_EQ(prefixed["links"]["self"], "/jobrelay/results/" + s.id);
  EXPECT_EQ(prefixed["links"]["events"], "/jobrelay/results/" + s.id + "/events?token=tok");
  EXPECT_EQ(plain["links"]["self"], "/results/" + s.id);
  prefixed["links"] = plain["links"];
  EXPECT_EQ(prefixed, plain);
  std::string into;
  snap.document_into(into, t0, true, false, "/p");
  EXPECT_EQ(nlohmann::json::parse(into)["links"]["self"], "/p/results/" + s.id);
  EXPECT_EQ(nlohmann::json::parse(into)["reused"], true);
}

TEST(JobSnapshot, ElapsedSecondsAreWrittenAsMillisecondsWithTrailingZerosTrimmed) {
  const system_time t0{seconds(1'800'000'000)};
  job_snapshot snap(running_state(t0));
  const auto text_at = [&](system_time::duration after) {
    const auto doc = snap.document(t0 + after);
    const auto from = doc.find("\"elapsed_seconds\":") + 18;
    return doc.substr(from, doc.find(',', from) - from);
  };
  EXPECT_EQ(text_at(milliseconds(0)), "0");
  EXPECT_EQ(text_at(milliseconds(5)), "0.005");
  EXPECT_EQ(text_at(milliseconds(50)), "0.05");
  EXPECT_EQ(text_at(milliseconds(1010)), "1.01");
  EXPECT_EQ(text_at(milliseconds(1900)), "1.9");
  EXPECT_EQ(text_at(milliseconds(9000)), "9");
  EXPECT_EQ(text_at(milliseconds(123456)), "123.456");
  EXPECT_EQ(text_at(microseconds(1999999)), "1.999");  // floored, never rounded up
  EXPECT_EQ(text_at(milliseconds(-20)), "0");           // a clock step back
}

TEST(JobSnapshot, TerminalDocumentFreezesElapsedAndCarriesResultUnchanged) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.status = job_status::succeeded;
  s.finished_at = t0 + seconds(4);
  s.result_json = R"({"pages":[1,2],"text":"h\u00e9"})";
  job_snapshot snap(s);
  auto doc = nlohmann::json::parse(snap.document(t0 + hours(1), /*reused=*/true));
  EXPECT_DOUBLE_EQ(doc["elapsed_seconds"].get<double>(), 4.0);
  EXPECT_EQ(doc["result"], nlohmann::json::parse(s.result_json));
  EXPECT_EQ(doc["reused"], true);
  auto without = nlohmann::json::parse(snap.document(t0, std::nullopt, /*with_result=*/false));
  EXPECT_FALSE(without.contains("result"));
  // Held once: in the cached document, not again in the state.
  EXPECT_EQ(snap.result_json(), s.result_json);
  EXPECT_TRUE(snap.state().result_json.empty());
  // Its storage too, not only its text (an emptied string keeps its capacity).
  s.result_json = "[" + std::string(2000, '1') + "]";
  job_snapshot big(s);
  EXPECT_LT(big.state().result_json.capacity(), 64u);
}

TEST(JobSnapshot, FailedDocumentCarriesErrorWithUpstreamObject) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.status = job_status::failed;
  s.finished_at = t0;
  s.error = job_error{"upstream_failed", "bad \"pdf\"", R"({"code":"X"})"};
  auto doc = nlohmann::json::parse(job_snapshot(s).document(t0));
  EXPECT_EQ(doc["error"]["code"], "upstream_failed");
  EXPECT_EQ(doc["error"]["message"], "bad \"pdf\"");
  EXPECT_EQ(doc["error"]["upstream"]["code"], "X");
}

// An error message can quote what a peer sent (a Location header cut at 200
// bytes, possibly mid-character): the document stays valid JSON.
TEST(JobSnapshot, AnErrorMessageWithBytesThatAreNotUtf8StillMakesAValidDocument) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.status = job_status::failed;
  s.finished_at = t0;
  s.error =
      job_error{"upstream_protocol", "operation URL is not an http(s) URL: ftp://x/\xe2\x82", ""};
  const std::string text = job_snapshot(s).document(t0);
  ASSERT_TRUE(nlohmann::json::accept(text)) << text;
  EXPECT_EQ(nlohmann::json::parse(text)["error"]["message"],
            "operation URL is not an http(s) URL: ftp://x/\xef\xbf\xbd\xef\xbf\xbd");
}

// Kept from the second request on: a document fetched once holds no copy.
TEST(JobSnapshot, AnEncodingIsKeptFromItsSecondRequestOn) {
  job_snapshot snap(running_state(system_time{seconds(1'800'000'000)}));
  int made = 0;
  const auto make = [&] { return "gzip-" + std::to_string(++made); };
  EXPECT_EQ(snap.encoded(make), "gzip-1");
  EXPECT_EQ(snap.encoded(make), "gzip-2");
  EXPECT_EQ(snap.encoded(make), "gzip-2");
  EXPECT_EQ(snap.encoded(make), "gzip-2");
  EXPECT_EQ(made, 2);
}

TEST(JobSnapshot, ThreadsRacingToEncodeLeaveOneKeptEncoding) {
  job_snapshot snap(running_state(system_time{seconds(1'800'000'000)}));
  std::vector<std::thread> threads;
  std::vector<std::string> seen(8);
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = snap.encoded([i] { return std::to_string(i); }); });
  for (auto& t : threads) t.join();
  // Each got an encoding; from now on every request gets the one kept.
  const auto kept = snap.encoded([] { return std::string("late"); });
  EXPECT_NE(kept, "late");
  EXPECT_NE(std::find(seen.begin(), seen.end(), kept), seen.end());
  EXPECT_EQ(snap.encoded([] { return std::string("later"); }), kept);
}

// A publisher may hand the result apart from the state: the document is the
// same as with the result in the state, and the state keeps no copy.
TEST(JobSnapshot, AResultGivenApartMakesTheSameDocument) {
  const system_time t0{seconds(1'800'000'000)};
  auto s = running_state(t0);
  s.status = job_status::succeeded;
  s.finished_at = t0;
  s.result_json = R"({"score":0.9,"text":"long enough not to fit in a short string"})";
  const job_snapshot whole(s);
  auto without = s;
  without.result_json = "\"ignored\"";
  const job_snapshot apart(without, s.result_json);
  EXPECT_EQ(apart.document(t0), whole.document(t0));
  EXPECT_EQ(apart.result_json(), s.result_json);
  EXPECT_TRUE(apart.state().result_json.empty());
  EXPECT_TRUE(whole.state().result_json.empty());
  EXPECT_NE(whole.document(t0).find(R"("result":{"score":0.9,)"), std::string::npos);
}

// A reused buffer: what it held before is replaced, not appended to.
TEST(JobSnapshot, DocumentIntoReplacesWhatTheBufferHeld) {
  const system_time t0{seconds(1'800'000'000)};
  const job_snapshot snap(running_state(t0));
  std::string buffer(5000, 'x');
  snap.document_into(buffer, t0 + seconds(2));
  EXPECT_EQ(buffer, snap.document(t0 + seconds(2)));
  snap.document_into(buffer, t0, true);
  EXPECT_EQ(buffer, snap.document(t0, true));
}
