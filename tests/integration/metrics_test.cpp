// GET /metrics read the way Prometheus reads it: parsed line by line, not
// compared as text.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "fake_upstream.hpp"
#include "jobrelay/metrics/registry.hpp"
#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;

namespace {

struct exposition {
  std::map<std::string, std::string> types;              // family -> type
  std::map<std::string, double> samples;                 // "name{labels}" -> value
  std::vector<std::string> errors;
};

// The text format 0.0.4: # HELP / # TYPE lines, then samples
// `name{label="value",...} number`, label values escaped.
exposition parse(const std::string& text) {
  exposition e;
  static const std::regex sample_re(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$)");
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      if (e.types.count(name)) e.errors.push_back("TYPE twice: " + name);
      e.types[name] = type;
      current = name;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, sample_re)) {
      e.errors.push_back("bad line: " + line);
      continue;
    }
    const std::string name = m[1];
    if (name.rfind(current, 0) != 0) e.errors.push_back("sample outside its family: " + line);
    e.samples[name + m[2].str()] = m[7] == "+Inf" ? INFINITY : std::stod(m[7]);
  }
  return e;
}

double value(const exposition& e, const std::string& key) {
  auto it = e.samples.find(key);
  return it == e.samples.end() ? -1 : it->second;
}

}  // namespace

TEST(Metrics, ExpositionParsesAndCountersMove) {
  fake_upstream up([](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"succeeded","result":1})");
  });
  auto cfg = test_config(up.base_url());
  cfg.rate_limit.submit = {1, 1};
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 429u);
  svc.wait_until_terminal(nlohmann::json::parse(posted.body)["id"]);
  http_get(svc.port(), "/nothing");

  auto first = http_get(svc.port(), "/metrics");
  ASSERT_EQ(first.status, 200u);
  EXPECT_EQ(first.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto e = parse(first.body);
  EXPECT_TRUE(e.errors.empty()) << e.errors.front();
  EXPECT_EQ(e.types["jobrelay_http_requests_total"], "counter");
  EXPECT_EQ(e.types["jobrelay_http_request_duration_seconds"], "histogram");
  EXPECT_EQ(e.types["jobrelay_jobs"], "gauge");
  EXPECT_EQ(value(e, R"(jobrelay_http_requests_total{route="/analyze",code="202"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_http_requests_total{route="/analyze",code="429"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_http_requests_total{route="unmatched",code="404"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_rate_limited_total{limit="submit"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_jobs{status="succeeded"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_upstream_calls_total{call="submit",outcome="ok"})"), 1);
  EXPECT_GE(value(e, R"(jobrelay_upstream_calls_total{call="poll",outcome="ok"})"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_job_duration_seconds_count{status="succeeded"})"), 1);
  EXPECT_GE(value(e, "jobrelay_open_connections"), 1);
  EXPECT_EQ(value(e, R"(jobrelay_held_requests{kind="long_poll"})"), 0);
  EXPECT_EQ(value(e, "jobrelay_upstream_pending_submits"), 0);
  EXPECT_GT(value(e, "jobrelay_cache_bytes"), 0);
  // Histogram buckets are cumulative and end at _count.
  const std::string h = R"(jobrelay_http_request_duration_seconds_bucket{route="/analyze",le=)";
  double previous = 0;
  for (auto le : {"\"0.0005\"", "\"0.001\"", "\"0.01\"", "\"0.1\"", "\"1\"", "\"30\"", "\"+Inf\""}) {
    const double v = value(e, h + le + "}");
    EXPECT_GE(v, previous) << le;
    previous = v;
  }
  EXPECT_EQ(previous, value(e, R"(jobrelay_http_request_duration_seconds_count{route="/analyze"})"));

  // Counters never go backwards between scrapes.
  auto again = parse(http_get(svc.port(), "/metrics").body);
  for (const auto& [key, v] : e.samples)
    if (key.find("_total") != std::string::npos || key.find("_count") != std::string::npos)
      EXPECT_GE(value(again, key), v) << key;
  EXPECT_GT(value(again, R"(jobrelay_http_requests_total{route="/metrics",code="200"})"), 0);
}

TEST(Metrics, LabelValuesAreEscaped) {
  metrics::registry r;
  r.counters("odd_total", "odd \\ help\nline", {"v"}).with({"a\"b\\c\nd"}).inc(3);
  const auto text = r.expose();
  EXPECT_NE(text.find(R"(odd_total{v="a\"b\\c\nd"} 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP odd_total odd \\\\ help\\nline"), std::string::npos) << text;
  auto e = parse(text);
  EXPECT_TRUE(e.errors.empty());
}
