// What operators read: the start-up line with the bound address and the
// upstream, one line per job transition, a warning for upstream trouble.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "fake_upstream.hpp"
#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;

namespace {
struct captured_log {
  captured_log() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    previous = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~captured_log() { spdlog::set_default_logger(previous); }
  std::string text() {
    spdlog::default_logger()->flush();
    return out.str();
  }
  std::ostringstream out;
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
