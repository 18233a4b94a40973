#include "jobrelay/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using jobrelay::config;
using jobrelay::config_error;
using jobrelay::env_lookup;
using jobrelay::startup_options;

env_lookup env_of(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

config parse_ok(const std::string& json, const env_lookup& env = env_of()) {
  auto r = jobrelay::parse_config_text(json, env);
  if (auto* e = std::get_if<config_error>(&r)) ADD_FAILURE() << "unexpected error: " << e->message;
  return std::holds_alternative<config>(r) ? std::get<config>(r) : config{};
}

std::string parse_error(const std::string& json, const env_lookup& env = env_of()) {
  auto r = jobrelay::parse_config_text(json, env);
  if (!std::holds_alternative<config_error>(r)) {
    ADD_FAILURE() << "expected an error for " << json;
    return {};
  }
  return std::get<config_error>(r).message;
}

startup_options load_ok(const std::vector<std::string>& args, const env_lookup& env = env_of()) {
  auto r = jobrelay::load_startup_options(args, env);
  if (auto* e = std::get_if<config_error>(&r)) ADD_FAILURE() << "unexpected error: " << e->message;
  return std::holds_alternative<startup_options>(r) ? std::get<startup_options>(r)
                                                    : startup_options{};
}

std::string load_error(const std::vector<std::string>& args, const env_lookup& env = env_of()) {
  auto r = jobrelay::load_startup_options(args, env);
  if (!std::holds_alternative<config_error>(r)) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return std::get<config_error>(r).message;
}

// A directory of its own per test, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("jobrelay-config-test-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The default config path is relative to the working directory.
class scoped_cwd {
 public:
  explicit scoped_cwd(const fs::path& p) : old_(fs::current_path()) { fs::current_path(p); }
  ~scoped_cwd() { fs::current_path(old_); }

 private:
  fs::path old_;
};

fs::path source_dir() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(Config, EmptyObjectGivesEveryDefault) {
  const config c = parse_ok("{}");
  const config defaults;
  EXPECT_EQ(c.server.listen, "0.0.0.0:8080");
  EXPECT_EQ(c.server.public_url, "");
  EXPECT_GE(c.server.threads, 1u);
  EXPECT_TRUE(c.server.trusted_proxies.empty());
  EXPECT_EQ(c.server.drain_seconds, 10u);
  EXPECT_EQ(c.server.drain_delay_ms, 0u);
  EXPECT_EQ(c.upstream.base_url, "http://127.0.0.1:9000");
  EXPECT_EQ(c.upstream.max_response_bytes, 8388608u);
  EXPECT_EQ(c.upstream.max_pending_submits, 1000u);
  EXPECT_EQ(c.upstream.admission_wait_ms, 2000u);
  EXPECT_TRUE(c.upstream.tls_verify);
  EXPECT_DOUBLE_EQ(c.polling.upstream_backoff, 1.5);
  EXPECT_EQ(c.limits.max_cache_bytes, defaults.limits.max_cache_bytes);
  EXPECT_DOUBLE_EQ(c.rate_limit.submit.rate_per_second, 1);
  EXPECT_DOUBLE_EQ(c.rate_limit.submit.burst, 5);
  EXPECT_DOUBLE_EQ(c.rate_limit.poll.rate_per_second, 10);
  EXPECT_DOUBLE_EQ(c.rate_limit.poll.burst, 20);
  EXPECT_EQ(c.store.backend, "memory");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "text");
  EXPECT_TRUE(c.log.access);
}

TEST(Config, DrainDelayAndAccessLogKeysComeFromTheEnvironment) {
  const config c = parse_ok("{}", env_of({{"JOBRELAY_SERVER__DRAIN_DELAY_MS", "3000"},
                                   {"JOBRELAY_LOG__ACCESS", "false"},
                                   {"JOBRELAY_LOG__FORMAT", "json"}}));
  EXPECT_EQ(c.server.drain_delay_ms, 3000u);
  EXPECT_FALSE(c.log.access);
  EXPECT_EQ(c.log.format, "json");
}

TEST(Config, NestedKeysReachTheirFields) {
  const config c = parse_ok(R"({
    "server": {"listen": "[::]:0", "threads": 3, "cors": {"allowed_origins": ["https://App.example.com", "*"]},
               "trusted_proxies": ["10.0.0.0/8", "::1"], "public_url": "https://api.example.com/"},
    "upstream": {"base_url": "https://analyzer.internal:8443/v1/", "tls": {"verify": false, "ca_file": "/x.pem"}},
    "rate_limit": {"submit": {"burst": 9}, "poll": {"rate_per_second": 0}, "backend": "redis"},
    "limits": {"max_body_bytes": 1e6}
  })");
  EXPECT_EQ(c.server.listen, "[::]:0");
  EXPECT_EQ(c.server.threads, 3u);
  EXPECT_EQ(c.server.cors_allowed_origins,
            (std::vector<std::string>{"https://app.example.com", "*"}));
  EXPECT_EQ(c.server.trusted_proxies.size(), 2u);
  EXPECT_EQ(c.server.public_url, "https://api.example.com");
  EXPECT_EQ(c.upstream.base_url, "https://analyzer.internal:8443/v1");
  EXPECT_FALSE(c.upstream.tls_verify);
  EXPECT_EQ(c.upstream.tls_ca_file, "/x.pem");
  EXPECT_DOUBLE_EQ(c.rate_limit.submit.burst, 9);
  EXPECT_DOUBLE_EQ(c.rate_limit.submit.rate_per_second, 1)
      << "a sibling left out keeps its default";
  EXPECT_FALSE(c.rate_limit.poll.enabled());
  EXPECT_EQ(c.rate_limit.backend, "redis");
  EXPECT_EQ(c.limits.max_body_bytes, 1000000u);
}

struct bad_value {
  const char* json;
  const char* expected;  // a fragment of the message
};

class ConfigBadValue : public testing::TestWithParam<bad_value> {};

TEST_P(ConfigBadValue, MessageNamesTheKeyAndWhatWasExpected) {
  EXPECT_NE(parse_error(GetParam().json).find(GetParam().expected), std::string::npos)
      << "message: " << parse_error(GetParam().json);
}

INSTANTIATE_TEST_SUITE_P(
    EachKind, ConfigBadValue,
    testing::Values(
        bad_value{R"({"server": {"threads": "abc"}})",
                  R"(server.threads: expected an integer between 1 and 1024, got "abc")"},
        bad_value{R"({"server": {"threads": 0}})",
                  "server.threads: expected an integer between 1 and 1024, got 0"},
        bad_value{R"({"server": {"threads": 2.5}})", "server.threads: expected an integer"},
        bad_value{R"({"server": {"idle_timeout_ms": -5}})",
                  "server.idle_timeout_ms: expected an integer >= 1, got -5"},
        bad_value{R"({"server": {"listen": "8080"}})", "server.listen: expected host:port"},
        bad_value{R"({"server": {"listen": ":::8080"}})", "server.listen:"},
        bad_value{R"({"server": {"listen": "0.0.0.0:70000"}})",
                  "server.listen: expected host:port or [ipv6]:port: port"},
        bad_value{R"({"server": {"listen": "example.com:80"}})", "server.listen:"},
        bad_value{R"({"server": {"public_url": "ftp://x"}})",
                  "server.public_url: expected an http:// or https:// URL"},
        bad_value{R"({"server": {"cors": {"allowed_origins": ["https://a.example/"]}}})",
                  "server.cors.allowed_origins: item 0:"},
        bad_value{R"({"server": {"cors": {"allowed_origins": "*"}}})",
                  "server.cors.allowed_origins: expected an array of strings"},
        bad_value{R"({"server": {"cors": 1}})", "server.cors: expected an object"},
        bad_value{R"({"upstream": {"base_url": "127.0.0.1:9000"}})",
                  "upstream.base_url: expected an http:// or https:// URL"},
        bad_value{R"({"upstream": {"base_url": "http://"}})", "upstream.base_url:"},
        bad_value{R"({"upstream": {"max_retries": 101}})",
                  "upstream.max_retries: expected an integer between 0 and 100, got 101"},
        bad_value{R"({"upstream": {"admission_wait_ms": 60001}})",
                  "upstream.admission_wait_ms: expected an integer between 0 and 60000, got 60001"},
        bad_value{R"({"upstream": {"tls": {"verify": "yes"}}})",
                  R"(upstream.tls.verify: expected true or false, got "yes")"},
        bad_value{R"({"upstream": {"submit_path": "analyze"}})", "upstream.submit_path:"},
        bad_value{R"({"upstream": {"headers": {"X-Key": 5}}})",
                  "upstream.headers: \"X-Key\": expected a string"},
        bad_value{R"({"upstream": {"headers": {"Bad Name": "v"}}})",
                  "upstream.headers: \"Bad Name\" is not a valid header name"},
        bad_value{R"({"polling": {"upstream_backoff": 0.5}})",
                  "polling.upstream_backoff: expected a number >= 1.0, got 0.5"},
        bad_value{R"({"polling": {"upstream_initial_ms": 5000, "upstream_max_ms": 1000}})",
                  "polling.upstream_max_ms: expected >= polling.upstream_initial_ms"},
        bad_value{R"({"polling": {"client_min_retry_after_seconds": 20}})",
                  "polling.client_min_retry_after_seconds: expected <="},
        bad_value{R"({"polling": {"client_min_retry_after_seconds": 0}})",
                  "polling.client_min_retry_after_seconds: expected an integer >= 1"},
        bad_value{R"({"rate_limit": {"submit": {"rate_per_second": -1}}})",
                  "rate_limit.submit.rate_per_second: expected a number >= 0"},
        bad_value{R"({"rate_limit": {"poll": {"burst": 0}}})",
                  "rate_limit.poll.burst: expected an integer >= 1 when rate_per_second > 0"},
        bad_value{R"({"rate_limit": {"backend": "memcached"}})",
                  R"(rate_limit.backend: expected local or redis, got "memcached")"},
        bad_value{R"({"store": {"backend": "disk"}})", "store.backend: expected memory or redis"},
        bad_value{R"({"store": {"redis_url": "http://x"}})",
                  "store.redis_url: unknown scheme 'http' (expected redis:// or rediss://)"},
        bad_value{R"({"upstream": {"base_url": "http://127.0.0.1.evil.example"}})",
                  "upstream.base_url: expected an http:// or https:// URL (the host or port is "
                  "malformed)"},
        bad_value{R"({"store": {"redis_url": "redis://127.0.0.1.evil:6379/0"}})",
                  "store.redis_url: malformed host or port"},
        bad_value{R"({"store": {"redis_url": "redis://alice@redis:6379"}})",
                  "store.redis_url: a user without a password"},
        bad_value{R"({"log": {"level": "verbose"}})",
                  "log.level: expected trace, debug, info, warn, error, critical or off"},
        bad_value{R"({"log": {"format": "xml"}})", "log.format: expected text or json"},
        bad_value{R"({"limits": {"max_jobs": 0}})", "limits.max_jobs: expected an integer >= 1"},
        bad_value{R"({"jobs": {"result_ttl_seconds": null}})",
                  "jobs.result_ttl_seconds: expected an integer >= 1, got null"}));

// README and config/README document redis://user:password@host; the client
// sends AUTH from it (redis_client_test), so the configuration must let it
// through, unchanged: a password is case-sensitive.
TEST(Config, RedisUrlKeepsItsCredentials) {
  const std::string url = "redis://Alice:S3cret%2FPw@Redis.example:6380/2";
  const config c = parse_ok(R"({"store": {"backend": "redis", "redis_url": ")" + url + R"("}})");
  EXPECT_EQ(c.store.redis_url, url);
  const config from_env =
      parse_ok("{}", env_of({{"JOBRELAY_STORE__BACKEND", "redis"},
                             {"JOBRELAY_STORE__REDIS_URL", "rediss://:OnlyAPassword@10.0.0.5"}}));
  EXPECT_EQ(from_env.store.redis_url, "rediss://:OnlyAPassword@10.0.0.5");
}

TEST(Config, ARefusedRedisUrlDoesNotShowItsPassword) {
  const std::string message =
      parse_error(R"({"store": {"redis_url": "redis://alice:Hunter2Pw@redis:99999/0"}})");
  EXPECT_NE(message.find("store.redis_url: bad port '99999'"), std::string::npos) << message;
  EXPECT_EQ(message.find("Hunter2Pw"), std::string::npos) << message;
}

TEST(Config, ARateTooSmallToRefillIsAnError) {
  EXPECT_NE(parse_error(R"({"rate_limit": {"submit": {"rate_per_second": 1e-300}}})")
                .find("rate_limit.submit.rate_per_second: expected 0 (off) or at least 0.001"),
            std::string::npos);
  EXPECT_NO_THROW(parse_ok(R"({"rate_limit": {"poll": {"rate_per_second": 0.001}}})"));
}

TEST(Config, ZeroRateNeedsNoBurst) {
  const config c = parse_ok(R"({"rate_limit": {"submit": {"rate_per_second": 0, "burst": 0}}})");
  EXPECT_FALSE(c.rate_limit.submit.enabled());
}

TEST(Config, PortZeroAndIpv6ListenAreAccepted) {
  EXPECT_EQ(parse_ok(R"({"server": {"listen": "127.0.0.1:0"}})").server.listen, "127.0.0.1:0");
  EXPECT_EQ(parse_ok(R"({"server": {"listen": "[::1]:8080"}})").server.listen, "[::1]:8080");
}

TEST(Config, EveryErrorInADocumentIsReported) {
  const std::string m =
      parse_error(R"({"server": {"threads": 0, "listn": "x"}, "log": {"level": "loud"}})");
  EXPECT_NE(m.find("server.threads"), std::string::npos) << m;
  EXPECT_NE(m.find("server.listn"), std::string::npos) << m;
  EXPECT_NE(m.find("log.level"), std::string::npos) << m;
}

TEST(Config, UnknownKeyIsNamedWithASuggestion) {
  EXPECT_EQ(parse_error(R"({"server": {"listn": "0.0.0.0:1"}})"),
            R"(unknown key "server.listn"; did you mean "server.listen"?)");
  EXPECT_EQ(parse_error(R"({"upstrem": {}})"),
            R"(unknown key "upstrem"; did you mean "upstream"?)");
  EXPECT_EQ(parse_error(R"({"threads": 4})"),
            R"(unknown key "threads"; did you mean "server.threads"?)");
  EXPECT_EQ(parse_error(R"({"colour": "blue"})"), R"(unknown key "colour")");
}

TEST(Config, NestedUnknownKeyIsNamedByItsFullPath) {
  EXPECT_EQ(parse_error(R"({"rate_limit": {"submit": {"brust": 3}}})"),
            R"(unknown key "rate_limit.submit.brust"; did you mean "rate_limit.submit.burst"?)");
  EXPECT_EQ(parse_error(R"({"upstream": {"tls": {"verify": true, "cafile": "x"}}})"),
            R"(unknown key "upstream.tls.cafile"; did you mean "upstream.tls.ca_file"?)");
  // A leaf is not a section: nothing may hide below it.
  EXPECT_NE(parse_error(R"({"server": {"listen": {"port": 1}}})")
                .find("server.listen: expected a string"),
            std::string::npos);
}

TEST(Config, DuplicateKeyIsRefused) {
  EXPECT_EQ(parse_error(R"({"server": {"threads": 2, "threads": 3}})"),
            R"(duplicate key "server.threads")");
}

TEST(Config, BadCidrNamesTheKeyAndTheEntry) {
  const std::string m =
      parse_error(R"({"server": {"trusted_proxies": ["10.0.0.0/8", "10.0.0.0/33"]}})");
  EXPECT_NE(m.find("server.trusted_proxies: item 1:"), std::string::npos) << m;
  EXPECT_NE(m.find("10.0.0.0/33"), std::string::npos) << m;
  EXPECT_NE(parse_error(R"({"server": {"trusted_proxies": ["proxy.local"]}})")
                .find("server.trusted_proxies"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"server": {"trusted_proxies": ["10.1.2.3/8"]}})")
                .find("did you mean 10.0.0.0/8?"),
            std::string::npos);
  EXPECT_EQ(parse_ok(R"({"server": {"trusted_proxies": ["fd00::/8", "192.168.1.1"]}})")
                .server.trusted_proxies.size(),
            2u);
}

TEST(Config, HeaderValuesExpandEnvironmentReferences) {
  const config c = parse_ok(
      R"({"upstream": {"headers": {"Authorization": "Bearer ${ANALYZER_KEY}", "X-Plain": "$5"}}})",
      env_of({{"ANALYZER_KEY", "s3cret"}}));
  EXPECT_EQ(c.upstream.headers.at("Authorization"), "Bearer s3cret");
  EXPECT_EQ(c.upstream.headers.at("X-Plain"), "$5");
}

TEST(Config, MissingHeaderVariableNamesTheKeyAndTheVariable) {
  const std::string m =
      parse_error(R"({"upstream": {"headers": {"Authorization": "Bearer ${ANALYZER_KEY}"}}})");
  EXPECT_NE(m.find("upstream.headers"), std::string::npos) << m;
  EXPECT_NE(m.find("ANALYZER_KEY"), std::string::npos) << m;
}

TEST(Config, HeaderValuesCannotInjectLines) {
  const std::string m = parse_error(R"({"upstream": {"headers": {"X-A": "${V}"}}})",
                                    env_of({{"V", "a\r\nX-Evil: 1"}}));
  EXPECT_NE(m.find("upstream.headers: \"X-A\": contains control characters"), std::string::npos)
      << m;
  EXPECT_EQ(m.find("Evil"), std::string::npos) << "header values may be secrets and are not echoed";
}

TEST(Config, SecretsAreNotEchoedInMessages) {
  const std::string m = parse_error(R"({"auth": {"api_keys": ["good", "has space-hunter2"]}})");
  EXPECT_NE(m.find("auth.api_keys: item 1"), std::string::npos) << m;
  EXPECT_EQ(m.find("hunter2"), std::string::npos) << m;
}

TEST(Config, EnvironmentOverridesTheFile) {
  const config c = parse_ok(
      R"({"upstream": {"base_url": "http://file:1"}, "server": {"threads": 2}})",
      env_of({{"JOBRELAY_UPSTREAM__BASE_URL", "http://env:2"},
              {"JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND", "2.5"},
              {"JOBRELAY_UPSTREAM__TLS__VERIFY", "0"},
              {"JOBRELAY_SERVER__CORS__ALLOWED_ORIGINS", "https://a.example, https://b.example"},
              {"JOBRELAY_SERVER__TRUSTED_PROXIES", R"(["10.0.0.0/8"])"},
              {"JOBRELAY_UPSTREAM__HEADERS", R"({"X-Key": "${K}"})"},
              {"K", "v"}}));
  EXPECT_EQ(c.upstream.base_url, "http://env:2");
  EXPECT_EQ(c.server.threads, 2u) << "keys without an override keep the file's value";
  EXPECT_DOUBLE_EQ(c.rate_limit.submit.rate_per_second, 2.5);
  EXPECT_FALSE(c.upstream.tls_verify);
  EXPECT_EQ(c.server.cors_allowed_origins,
            (std::vector<std::string>{"https://a.example", "https://b.example"}));
  EXPECT_EQ(c.server.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(c.upstream.headers.at("X-Key"), "v");
}

TEST(Config, EmptyEnvironmentListClearsTheList) {
  const config c =
      parse_ok(R"({"auth": {"api_keys": ["k1"]}})", env_of({{"JOBRELAY_AUTH__API_KEYS", ""}}));
  EXPECT_TRUE(c.auth.api_keys.empty());
}

// "," (or "k1,,k2", "k1,") is a typo, not a list without keys: dropped
// items would have switched auth off without a word.
TEST(Config, AnEmptyItemInAnEnvironmentListIsAnError) {
  for (const char* text : {",", "k1,,k2", "k1, "}) {
    const auto m = parse_error("{}", env_of({{"JOBRELAY_AUTH__API_KEYS", text}}));
    EXPECT_NE(m.find("JOBRELAY_AUTH__API_KEYS (auth.api_keys): item "), std::string::npos)
        << text << ": " << m;
  }
  EXPECT_NE(parse_error("{}", env_of({{"JOBRELAY_SERVER__TRUSTED_PROXIES", "10.0.0.0/8,"}}))
                .find("server.trusted_proxies"),
            std::string::npos);
  const config c = parse_ok("{}", env_of({{"JOBRELAY_AUTH__API_KEYS", " k1 , k2 "}}));
  EXPECT_EQ(c.auth.api_keys, (std::vector<std::string>{"k1", "k2"}));
}

TEST(Config, InvalidEnvironmentValueNamesTheVariableAndTheKey) {
  EXPECT_EQ(
      parse_error("{}", env_of({{"JOBRELAY_SERVER__THREADS", "abc"}})),
      R"(JOBRELAY_SERVER__THREADS (server.threads): expected an integer between 1 and 1024, got "abc")");
  EXPECT_NE(parse_error("{}", env_of({{"JOBRELAY_UPSTREAM__TLS__VERIFY", "maybe"}}))
                .find("JOBRELAY_UPSTREAM__TLS__VERIFY (upstream.tls.verify)"),
            std::string::npos);
  EXPECT_NE(parse_error("{}", env_of({{"JOBRELAY_UPSTREAM__HEADERS", "X-Key: v"}}))
                .find("JOBRELAY_UPSTREAM__HEADERS (upstream.headers): expected a JSON object"),
            std::string::npos);
}

TEST(Config, InvalidJsonNamesLineAndColumn) {
  const std::string m = parse_error("{\n  \"server\": {\n    \"threads\": 4,\n  }\n}");
  EXPECT_NE(m.find("invalid JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("line 4, column 3"), std::string::npos) << m;
}

// nlohmann's parser recurses: a file nested a million deep used to take
// gigabytes and minutes before start-up said anything.
TEST(Config, ADeeplyNestedFileIsRefusedAtOnce) {
  const std::size_t depth = 1'000'000;
  const std::string deep = "{\"x\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const auto m = parse_error(deep);
  EXPECT_NE(m.find("invalid JSON: nested deeper than 16 levels"), std::string::npos) << m;
  EXPECT_NE(parse_error(R"({"server": {"threads": 100000}})")
                .find("server.threads: expected an integer between 1 and 1024"),
            std::string::npos)
      << parse_error(R"({"server": {"threads": 100000}})");
}

TEST(Config, TopLevelMustBeAnObject) {
  EXPECT_EQ(parse_error("[1, 2]"), "the configuration must be a JSON object, got an array");
  EXPECT_EQ(parse_error("\"x\""), "the configuration must be a JSON object, got a string");
}

TEST(Config, ShippedExampleFileLoads) {
  const fs::path path = source_dir() / "config" / "jobrelay.json";
  const startup_options o = load_ok({"--config", path.string()});
  EXPECT_EQ(o.config_path, path.string());
  EXPECT_EQ(o.cfg.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(o.cfg.upstream.base_url, "http://127.0.0.1:9000");
  EXPECT_DOUBLE_EQ(o.cfg.rate_limit.poll.burst, 20);
}

// The key list in --help comes from the loader's own table; the shipped
// example and the README must not drift from it.
std::vector<std::pair<std::string, std::string>> keys_from_usage() {
  std::vector<std::pair<std::string, std::string>> keys;
  std::istringstream lines(jobrelay::usage_text());
  std::string line;
  bool in_list = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Keys and their environment variables:", 0) == 0) {
      in_list = true;
      continue;
    }
    std::istringstream words(line);
    std::string key, env;
    if (in_list && words >> key >> env) keys.emplace_back(key, env);
  }
  return keys;
}

TEST(Config, ShippedExampleAndReadmeCoverEveryKey) {
  const auto keys = keys_from_usage();
  ASSERT_GT(keys.size(), 30u);
  std::ifstream json_file(source_dir() / "config" / "jobrelay.json");
  const auto example = nlohmann::json::parse(json_file);
  std::ifstream readme_file(source_dir() / "config" / "README.md");
  const std::string readme{std::istreambuf_iterator<char>(readme_file), {}};
  for (const auto& [key, env] : keys) {
    EXPECT_NE(readme.find("| `" + key + "` |"), std::string::npos) << key << " missing from README";
    EXPECT_NE(readme.find("`" + env + "`"), std::string::npos) << env << " missing from README";
    if (key == "server.threads") continue;  // its default depends on the machine
    std::string pointer = "/" + key;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    EXPECT_TRUE(example.contains(nlohmann::json::json_pointer(pointer)))
        << key << " missing from config/jobrelay.json";
  }
}

TEST(StartupOptions, FlagsBeatEnvironmentWhichBeatsTheFile) {
  temp_dir dir;
  const std::string path = dir.write(
      "c.json",
      R"({"server": {"listen": "127.0.0.1:1"}, "upstream": {"base_url": "http://file"}})");
  const auto env = env_of(
      {{"JOBRELAY_SERVER__LISTEN", "127.0.0.1:2"}, {"JOBRELAY_UPSTREAM__BASE_URL", "http://env"}});

  const startup_options from_env = load_ok({"--config", path}, env);
  EXPECT_EQ(from_env.cfg.server.listen, "127.0.0.1:2");
  EXPECT_EQ(from_env.cfg.upstream.base_url, "http://env");

  const startup_options from_flags =
      load_ok({"--config=" + path, "--listen", "127.0.0.1:3", "--upstream=https://flag"}, env);
  EXPECT_EQ(from_flags.cfg.server.listen, "127.0.0.1:3");
  EXPECT_EQ(from_flags.cfg.upstream.base_url, "https://flag");
  EXPECT_EQ(from_flags.config_path, path);
}

TEST(StartupOptions, BadFlagValueNamesTheFlag) {
  temp_dir dir;
  const std::string path = dir.write("c.json", "{}");
  EXPECT_NE(load_error({"--config", path, "--listen", "nowhere"}).find("--listen (server.listen):"),
            std::string::npos);
}

TEST(StartupOptions, UnknownOrIncompleteFlagsAreErrors) {
  EXPECT_NE(load_error({"--lissten", "x"}).find("unknown option \"--lissten\""), std::string::npos);
  EXPECT_NE(load_error({"stray"}).find("unknown option"), std::string::npos);
  EXPECT_NE(load_error({"--listen"}).find("--listen needs a value"), std::string::npos);
}

TEST(StartupOptions, HelpNeedsNothingElse) {
  const startup_options o = load_ok({"-h", "--config", "/does/not/exist.json"});
  EXPECT_TRUE(o.help);
  EXPECT_NE(jobrelay::usage_text().find("--config"), std::string::npos);
  EXPECT_NE(jobrelay::usage_text().find("JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND"),
            std::string::npos);
}

TEST(StartupOptions, VersionNeedsNothingElse) {
  const startup_options o = load_ok({"--version", "--config", "/does/not/exist.json"});
  EXPECT_TRUE(o.version);
  EXPECT_FALSE(o.help);
  EXPECT_NE(jobrelay::usage_text().find("--version"), std::string::npos);
}

TEST(StartupOptions, NamedFileMustExist) {
  EXPECT_EQ(load_error({"--config", "/does/not/exist.json"}),
            R"(config file "/does/not/exist.json": does not exist)");
}

TEST(StartupOptions, FileErrorsNameTheFile) {
  temp_dir dir;
  const std::string bad_json = dir.write("bad.json", "{\n\"server\": }");
  const std::string m = load_error({"--config", bad_json});
  EXPECT_NE(m.find("config file \"" + bad_json + "\": invalid JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("line 2"), std::string::npos) << m;

  const std::string bad_key = dir.write("key.json", R"({"server": {"threads": 0}})");
  EXPECT_NE(load_error({"--config", bad_key}).find(bad_key + ": server.threads:"),
            std::string::npos);
}

TEST(StartupOptions, MissingDefaultFileMeansDefaults) {
  temp_dir dir;
  scoped_cwd cwd(dir.path());
  const startup_options o = load_ok({});
  EXPECT_EQ(o.config_path, "");
  EXPECT_EQ(o.cfg.server.listen, "0.0.0.0:8080");
}

TEST(StartupOptions, DefaultFileIsReadWhenPresent) {
  temp_dir dir;
  dir.write("config/jobrelay.json", R"({"server": {"listen": "127.0.0.1:4"}})");
  scoped_cwd cwd(dir.path());
  const startup_options o = load_ok({});
  EXPECT_EQ(o.config_path, "config/jobrelay.json");
  EXPECT_EQ(o.cfg.server.listen, "127.0.0.1:4");
}

TEST(StartupOptions, CaFileMustExist) {
  temp_dir dir;
  const std::string path =
      dir.write("c.json", R"({"upstream": {"tls": {"ca_file": "/no/such/ca.pem"}}})");
  EXPECT_NE(load_error({"--config", path}).find("upstream.tls.ca_file"), std::string::npos);
}

// The real environment can be listed, so a misspelt variable is caught; this
// test is the one place that touches it.
TEST(StartupOptions, UnknownJobrelayVariableInTheProcessEnvironmentIsAnError) {
  temp_dir dir;
  const std::string path = dir.write("c.json", "{}");
  ASSERT_EQ(::setenv("JOBRELAY_SERVER__LISTN", "127.0.0.1:1", 1), 0);
  auto r = jobrelay::load_startup_options({"--config", path}, jobrelay::process_env());
  ::unsetenv("JOBRELAY_SERVER__LISTN");
  ASSERT_TRUE(std::holds_alternative<config_error>(r));
  EXPECT_NE(
      std::get<config_error>(r).message.find("unknown environment variable JOBRELAY_SERVER__LISTN; "
                                             "did you mean JOBRELAY_SERVER__LISTEN?"),
      std::string::npos)
      << std::get<config_error>(r).message;
}

TEST(StartupOptions, ProcessEnvReadsTheEnvironment) {
  ASSERT_EQ(::setenv("JOBRELAY_TEST_PROBE_VAR", "x", 1), 0);
  EXPECT_EQ(jobrelay::process_env()("JOBRELAY_TEST_PROBE_VAR"), "x");
  ::unsetenv("JOBRELAY_TEST_PROBE_VAR");
  EXPECT_EQ(jobrelay::process_env()("JOBRELAY_TEST_PROBE_VAR"), std::nullopt);
}

}  // namespace
