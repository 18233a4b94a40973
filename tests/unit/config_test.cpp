#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "jobrelay/config.hpp"

using namespace jobrelay;

namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

config parse_ok(const std::string& text, std::map<std::string, std::string> env = {}) {
  auto r = parse_config_text(text, env_of(env));
  if (auto* e = std::get_if<config_error>(&r)) ADD_FAILURE() << e->message;
  return std::get<config>(r);
}

std::string parse_error(const std::string& text, std::map<std::string, std::string> env = {}) {
  auto r = parse_config_text(text, env_of(env));
  if (std::holds_alternative<config>(r)) {
    ADD_FAILURE() << "expected an error for " << text;
    return {};
  }
  return std::get<config_error>(r).message;
}

std::string source_dir() {
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/tests/"));
}

}  // namespace

TEST(Config, EmptyObjectGivesTheDefaultsOfApiMd) {
  auto cfg = parse_ok("{}");
  EXPECT_EQ(cfg.server.listen, "0.0.0.0:8080");
  EXPECT_GE(cfg.server.threads, 1u);
  EXPECT_EQ(cfg.upstream.base_url, "http://127.0.0.1:9000");
  EXPECT_EQ(cfg.upstream.max_retries, 5u);
  EXPECT_DOUBLE_EQ(cfg.polling.upstream_backoff, 1.5);
  EXPECT_EQ(cfg.jobs.result_ttl_seconds, 3600u);
  EXPECT_EQ(cfg.limits.max_jobs, 100000u);
  EXPECT_DOUBLE_EQ(cfg.rate_limit.submit.rate_per_second, 1);
  EXPECT_DOUBLE_EQ(cfg.rate_limit.poll.burst, 20);
  EXPECT_EQ(cfg.store.backend, "memory");
  EXPECT_EQ(cfg.log.level, "info");
}

TEST(Config, NestedKeysAreRead) {
  auto cfg = parse_ok(R"({"server":{"cors":{"allowed_origins":["https://app.example"]},
                          "trusted_proxies":["10.0.0.0/8","::1"]},
                          "upstream":{"tls":{"verify":false}},
                          "rate_limit":{"submit":{"rate_per_second":0}}})");
  EXPECT_EQ(cfg.server.cors_allowed_origins, std::vector<std::string>{"https://app.example"});
  EXPECT_EQ(cfg.server.trusted_proxies.size(), 2u);
  EXPECT_FALSE(cfg.upstream.tls_verify);
  EXPECT_FALSE(cfg.rate_limit.submit.enabled());
}

TEST(Config, UnknownKeysAreNamedWithASuggestion) {
  EXPECT_EQ(parse_error(R"({"server":{"listn":"x:1"}})"),
            "config: unknown key \"server.listn\" (did you mean \"server.listen\"?)");
  EXPECT_NE(parse_error(R"({"upstream":{"tls":{"verfy":true}}})").find("\"upstream.tls.verfy\""),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"sever":{}})").find("did you mean \"server\""), std::string::npos);
  EXPECT_NE(parse_error(R"({"zzzzzzzz":1})").find("unknown key \"zzzzzzzz\""), std::string::npos);
}

TEST(Config, InvalidValuesNameTheKeyAndWhatWasExpected) {
  auto e = parse_error(R"({"server":{"threads":"abc"}})");
  EXPECT_NE(e.find("server.threads"), std::string::npos) << e;
  EXPECT_NE(e.find("integer"), std::string::npos) << e;
  EXPECT_NE(parse_error(R"({"server":{"threads":0}})").find("server.threads"), std::string::npos);
  EXPECT_NE(parse_error(R"({"server":{"listen":"nope"}})").find("server.listen"), std::string::npos);
  EXPECT_NE(parse_error(R"({"server":{"trusted_proxies":["10.0.0.0/99"]}})").find("CIDR"), std::string::npos);
  EXPECT_NE(parse_error(R"({"upstream":{"base_url":"ftp://x"}})").find("upstream.base_url"), std::string::npos);
  EXPECT_NE(parse_error(R"({"polling":{"upstream_backoff":0.5}})").find("polling.upstream_backoff"), std::string::npos);
  EXPECT_NE(parse_error(R"({"log":{"level":"loud"}})").find("log.level"), std::string::npos);
  EXPECT_NE(parse_error(R"({"store":{"backend":"mongo"}})").find("store.backend"), std::string::npos);
  EXPECT_NE(parse_error(R"({"limits":{"max_jobs":-1}})").find("limits.max_jobs"), std::string::npos);
  EXPECT_NE(parse_error(R"({"server":"x"})").find("server: expected an object"), std::string::npos);
  EXPECT_NE(parse_error(R"({"polling":{"client_min_retry_after_seconds":20}})")
                .find("client_min_retry_after_seconds"), std::string::npos);
  EXPECT_NE(parse_error(R"({"rate_limit":{"poll":{"rate_per_second":5,"burst":0}}})")
                .find("rate_limit.poll.burst"), std::string::npos);
}

TEST(Config, NotJsonOrNotAnObject) {
  EXPECT_NE(parse_error("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error("[1]").find("JSON object"), std::string::npos);
}

TEST(Config, EnvironmentOverridesTheFileByKeyType) {
  auto cfg = parse_ok(R"({"upstream":{"base_url":"http://file:1"}})",
                      {{"JOBRELAY_UPSTREAM__BASE_URL", "https://env:2"},
                       {"JOBRELAY_SERVER__THREADS", "3"},
                       {"JOBRELAY_UPSTREAM__TLS__VERIFY", "false"},
                       {"JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND", "0"},
                       {"JOBRELAY_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.0/16"},
                       {"JOBRELAY_SERVER__CORS__ALLOWED_ORIGINS", R"(["http://a"])"}});
  EXPECT_EQ(cfg.upstream.base_url, "https://env:2");
  EXPECT_EQ(cfg.server.threads, 3u);
  EXPECT_FALSE(cfg.upstream.tls_verify);
  EXPECT_FALSE(cfg.rate_limit.submit.enabled());
  EXPECT_EQ(cfg.server.trusted_proxies.size(), 2u);
  EXPECT_EQ(cfg.server.cors_allowed_origins.front(), "http://a");
  auto e = parse_error("{}", {{"JOBRELAY_SERVER__THREADS", "many"}});
  EXPECT_NE(e.find("JOBRELAY_SERVER__THREADS"), std::string::npos) << e;
  EXPECT_NE(e.find("server.threads"), std::string::npos) << e;
}

TEST(Config, UpstreamHeadersExpandEnvironmentVariables) {
  auto cfg = parse_ok(R"({"upstream":{"headers":{"Api-Key":"${ANALYZER_KEY}","X-Static":"v"}}})",
                      {{"ANALYZER_KEY", "s3cret"}});
  EXPECT_EQ(cfg.upstream.headers.at("Api-Key"), "s3cret");
  EXPECT_EQ(cfg.upstream.headers.at("X-Static"), "v");
  auto e = parse_error(R"({"upstream":{"headers":{"Api-Key":"${MISSING}"}}})");
  EXPECT_NE(e.find("upstream.headers"), std::string::npos) << e;
  EXPECT_NE(e.find("MISSING"), std::string::npos) << e;
}

TEST(Config, FlagsBeatEnvironmentBeatsFile) {
  const std::string path = "/tmp/jobrelay-config-test.json";
  std::ofstream(path) << R"({"server":{"listen":"127.0.0.1:1"},"upstream":{"base_url":"http://file:1"}})";
  auto r = load_startup_options({"--config", path, "--listen", "127.0.0.1:3"},
                                env_of({{"JOBRELAY_SERVER__LISTEN", "127.0.0.1:2"},
                                        {"JOBRELAY_UPSTREAM__BASE_URL", "http://env:2"}}));
  ASSERT_TRUE(std::holds_alternative<startup_options>(r)) << std::get<config_error>(r).message;
  const auto& o = std::get<startup_options>(r);
  EXPECT_EQ(o.cfg.server.listen, "127.0.0.1:3");
  EXPECT_EQ(o.cfg.upstream.base_url, "http://env:2");
  EXPECT_EQ(o.config_path, path);
  auto u = load_startup_options({"--config=" + path, "--upstream=https://flag:3"}, env_of({}));
  EXPECT_EQ(std::get<startup_options>(u).cfg.upstream.base_url, "https://flag:3");
}

TEST(Config, BadFlagsAndMissingFilesAreErrors) {
  auto missing = load_startup_options({"--config", "/nonexistent/x.json"}, env_of({}));
  EXPECT_NE(std::get<config_error>(missing).message.find("/nonexistent/x.json"), std::string::npos);
  auto flag = load_startup_options({"--lisen", "x"}, env_of({}));
  EXPECT_NE(std::get<config_error>(flag).message.find("--lisen"), std::string::npos);
  auto no_value = load_startup_options({"--listen"}, env_of({}));
  EXPECT_NE(std::get<config_error>(no_value).message.find("--listen"), std::string::npos);
  auto bad_listen = load_startup_options({"--listen", "nope"}, env_of({}));
  EXPECT_NE(std::get<config_error>(bad_listen).message.find("--listen"), std::string::npos);
  auto help = load_startup_options({"--help"}, env_of({}));
  EXPECT_TRUE(std::get<startup_options>(help).help);
  EXPECT_NE(usage_text().find("--upstream"), std::string::npos);
  const std::string bad = "/tmp/jobrelay-config-bad.json";
  std::ofstream(bad) << "{\n  \"server\": {\n    \"listen\": 1,\n}";
  auto parse = load_startup_options({"--config", bad}, env_of({}));
  EXPECT_NE(std::get<config_error>(parse).message.find(bad), std::string::npos);
}

TEST(Config, UnknownJobrelayEnvironmentVariablesAreErrors) {
  setenv("JOBRELAY_UPSTREAM__BASEURL", "http://typo", 1);
  auto r = load_startup_options({"--config", source_dir() + "/config/jobrelay.json"}, process_env());
  unsetenv("JOBRELAY_UPSTREAM__BASEURL");
  ASSERT_TRUE(std::holds_alternative<config_error>(r));
  EXPECT_NE(std::get<config_error>(r).message.find("JOBRELAY_UPSTREAM__BASEURL"), std::string::npos);
}

TEST(Config, TheShippedExampleLoadsAndNamesEveryKey) {
  const std::string path = source_dir() + "/config/jobrelay.json";
  auto r = load_startup_options({"--config", path}, env_of({}));
  ASSERT_TRUE(std::holds_alternative<startup_options>(r)) << std::get<config_error>(r).message;
  std::ifstream file(path);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::ifstream doc_file(source_dir() + "/config/README.md");
  const std::string doc((std::istreambuf_iterator<char>(doc_file)), std::istreambuf_iterator<char>());
  for (const auto& key : config_key_paths()) {
    const auto leaf = key.substr(key.rfind('.') + 1);
    // The example leaves server.threads out: its default is the machine's core count.
    if (key != "server.threads")
      EXPECT_NE(text.find("\"" + leaf + "\""), std::string::npos) << key << " missing from the example";
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key << " missing from config/README.md";
  }
}
