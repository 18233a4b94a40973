// What operators read: the start-up line with the bound address and the
// upstream, one line per job transition, a warning for upstream trouble.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <iostream>
#include <mutex>
#include <thread>
#include <sstream>
#include <vector>

#include "jobrelay/log.hpp"

#include "fake_upstream.hpp"
#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;

namespace {
// Lines kept in memory; read under the sink's own lock while threads log.
class memory_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    text_.append(line.data(), line.size());
  }
  void flush_() override {}
  std::string text_;
};

struct captured_log {
  captured_log() : sink(std::make_shared<memory_sink>()) {
    previous = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~captured_log() { spdlog::set_default_logger(previous); }
  std::string text() { return sink->text(); }
  // An access line is written after the answer's last byte, so a client can
  // read the answer before the line exists: wait for it.
  std::string text_once_it_has(const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string t = text();
    while (t.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      t = text();
    }
    return t;
  }
  std::shared_ptr<memory_sink> sink;
  std::shared_ptr<spdlog::logger> previous;
};
}  // namespace

TEST(Logging, StartUpLineJobTransitionsAndUpstreamWarnings) {
  captured_log log;
  int polls = 0;
  fake_upstream up([&](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/7"}});
    if (++polls == 1) return fake_action::json(503, "busy");
    return fake_action::json(200, R"({"status":"succeeded","result":1})");
  });
  auto cfg = test_config(up.base_url());
  cfg.log.level = "info";
  {
    running_service svc(cfg);
    auto posted = http_post(svc.port(), "/analyze", "{}");
    const std::string id = nlohmann::json::parse(posted.body)["id"];
    EXPECT_EQ(svc.wait_until_terminal(id).status, 200u);
    const auto text = log.text();
    EXPECT_NE(text.find("listening on 127.0.0.1:" + std::to_string(svc.port()) + " (upstream " +
                        up.base_url()),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("job " + id + ": queued"), std::string::npos) << text;
    EXPECT_NE(text.find("job " + id + ": running (operation " + up.base_url() + "/ops/7)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("job " + id + ": running -> succeeded"), std::string::npos) << text;
    EXPECT_NE(text.find("[warning] job " + id + ": upstream poll failed (poll answered 503)"),
              std::string::npos)
        << text;
  }
}

// --- access log, X-Request-Id, JSON lines ---------------------------------

namespace {

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) found.push_back(line);
  return found;
}

// The service at log level info with its lines captured, before the mock.
struct logged_service {
  explicit logged_service(bool access_log = true) : svc(config_for(mock, access_log)) {}
  static config config_for(const running_mock& mock, bool access_log) {
    auto cfg = test_config(mock.base_url());
    cfg.log.level = "info";
    cfg.log.access = access_log;
    return cfg;
  }
  unsigned short port() const { return svc.port(); }
  captured_log log;
  running_mock mock{mock::mock_options{}};
  running_service svc;
};

bool is_hex32(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST(Logging, AccessLinePerAnswerCarriesTheRequestIdTheClientSent) {
  logged_service svc;

  const auto health = http_get(svc.port(), "/stats", {{"X-Request-Id", "trace-4711:abc"}});
  EXPECT_EQ(health.header("X-Request-Id"), "trace-4711:abc");
  // Health checks and scrapes succeed every few seconds forever: not at info.
  http_get(svc.port(), "/healthz", {{"X-Request-Id", "routine-1"}});
  http_get(svc.port(), "/readyz", {{"X-Request-Id", "routine-2"}});
  http_get(svc.port(), "/metrics", {{"X-Request-Id", "routine-3"}});
  const auto missing = http_get(svc.port(), "/results/nope", {{"X-Request-Id", "trace-404"}});
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.header("X-Request-Id"), "trace-404");

  const auto posted = http_post(svc.port(), "/analyze", R"({"document":"x"})",
                                {{"Content-Type", "application/json"}, {"X-Request-Id", "submit-1"}});
  ASSERT_EQ(posted.status, 202u);
  const std::string id = nlohmann::json::parse(posted.body)["id"];

  const auto text = svc.log.text_once_it_has("POST /analyze 202");
  const auto health_lines = lines_with(text, "request_id=trace-4711:abc");
  ASSERT_EQ(health_lines.size(), 1u) << text;
  const auto& line = health_lines[0];
  EXPECT_NE(line.find("[info] GET /stats 200 method=GET path=/stats route=/stats status=200 bytes="),
            std::string::npos) << line;
  EXPECT_EQ(text.find("routine-"), std::string::npos) << text;
  EXPECT_NE(line.find(" client=127.0.0.1 "), std::string::npos) << line;
  EXPECT_NE(line.find(" duration_ms="), std::string::npos) << line;

  const auto not_found = lines_with(text, "request_id=trace-404");
  ASSERT_EQ(not_found.size(), 1u) << text;
  EXPECT_NE(not_found[0].find("GET /results/nope 404"), std::string::npos) << not_found[0];

  // The POST's id reaches the engine's line about the job it created.
  const auto submit_lines = lines_with(text, "request_id=submit-1");
  ASSERT_EQ(submit_lines.size(), 2u) << text;
  EXPECT_NE(text.find("job " + id + ": queued job_id=" + id + " request_id=submit-1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("POST /analyze 202"), std::string::npos) << text;
}

TEST(Logging, AnInsaneRequestIdIsReplacedNotEchoed) {
  logged_service svc;

  const auto none = http_get(svc.port(), "/healthz");
  EXPECT_TRUE(is_hex32(none.header("X-Request-Id"))) << none.header("X-Request-Id");
  const auto second = http_get(svc.port(), "/healthz");
  EXPECT_NE(second.header("X-Request-Id"), none.header("X-Request-Id"));

  for (const std::string bad : {std::string("has space"), std::string("quote\"d"), std::string(129, 'a'),
                                std::string("semi;colon")}) {
    const auto r = http_get(svc.port(), "/healthz", {{"X-Request-Id", bad}});
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(is_hex32(r.header("X-Request-Id"))) << bad << " -> " << r.header("X-Request-Id");
  }
  const auto text = svc.log.text();
  EXPECT_EQ(text.find("has space"), std::string::npos) << text;
  EXPECT_EQ(text.find("quote"), std::string::npos) << text;
}

TEST(Logging, AnswersMadeBeforeRoutingAreLoggedWithAnIdToo) {
  logged_service svc;
  // Content-Length with Transfer-Encoding: refused before any route runs.
  const auto answer = raw_exchange(svc.port(),
                                   "POST /analyze HTTP/1.1\r\nHost: x\r\nX-Request-Id: smuggle-1\r\n"
                                   "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  const auto text = svc.log.text_once_it_has(" 400 ");
  EXPECT_NE(answer.find("X-Request-Id: "), std::string::npos) << answer;
  const auto lines = lines_with(text, " 400 ");
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_NE(lines[0].find("client=127.0.0.1"), std::string::npos) << lines[0];
}

TEST(Logging, AccessLogOffWritesNoRequestLines) {
  logged_service svc(false);
  const auto r = http_get(svc.port(), "/healthz", {{"X-Request-Id", "quiet-1"}});
  EXPECT_EQ(r.header("X-Request-Id"), "quiet-1");  // still echoed
  http_get(svc.port(), "/results/nope");
  svc.svc.stop_and_wait();  // every line that would be written is written
  EXPECT_EQ(svc.log.text().find("GET /results/nope"), std::string::npos) << svc.log.text();
}

TEST(Logging, JsonFormatIsOneObjectALineWithDocumentedFields) {
  auto sink = std::make_shared<memory_sink>();
  const auto previous = spdlog::default_logger();
  jobrelay::log::configure_sink(sink, "info", "json");
  struct restore_text {
    std::shared_ptr<spdlog::logger> previous;
    ~restore_text() {
      jobrelay::log::configure_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cerr), "warn",
                                    "text");
      spdlog::set_default_logger(previous);
    }
  } restore{previous};

  int polls = 0;
  fake_upstream up([&](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    if (++polls == 1) return fake_action::json(503, "busy \"quoted\"\nnext line");
    return fake_action::json(200, R"({"status":"succeeded","result":1})");
  });
  auto cfg = test_config(up.base_url());
  cfg.log.level = "info";
  std::string id;
  {
    running_service svc(cfg);
    const auto posted = http_post(svc.port(), "/analyze", "{}",
                                  {{"Content-Type", "application/json"}, {"X-Request-Id", "json-1"}});
    id = nlohmann::json::parse(posted.body)["id"];
    EXPECT_EQ(svc.wait_until_terminal(id).status, 200u);
  }
  const auto text = sink->text();
  std::istringstream in(text);
  int lines = 0, access = 0;
  bool queued = false;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j["ts"].is_string()) << line;
    EXPECT_EQ(j["ts"].get<std::string>().size(), 24u) << line;  // 2026-11-23T10:00:00.123Z
    EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z') << line;
    ASSERT_TRUE(j["level"].is_string()) << line;
    ASSERT_TRUE(j["msg"].is_string()) << line;
    if (j.contains("status")) {
      ++access;
      EXPECT_TRUE(j["status"].is_number_unsigned()) << line;
      EXPECT_TRUE(j["bytes"].is_number_unsigned()) << line;
      EXPECT_TRUE(j["duration_ms"].is_number()) << line;
      EXPECT_EQ(j["client"], "127.0.0.1") << line;
      EXPECT_TRUE(j["request_id"].is_string()) << line;
      EXPECT_TRUE(j["method"].is_string()) << line;
      EXPECT_TRUE(j["path"].is_string()) << line;
      EXPECT_TRUE(j["route"].is_string()) << line;
    }
    if (j.value("job_id", "") == id && j.value("request_id", "") == "json-1") queued = true;
  }
  EXPECT_GE(lines, 5) << text;
  EXPECT_GE(access, 2) << text;  // the POST and at least one poll
  EXPECT_TRUE(queued) << text;
  EXPECT_EQ(text.find("\x1b["), std::string::npos) << "no colour codes in JSON";
}
