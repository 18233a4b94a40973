// The typed configuration of jobrelay (API.md "Configuration"): loaded from a
// JSON file, overridden by JOBRELAY_* environment variables and flags, and
// validated once at start-up. Everything else reads these plain structs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <variant>
#include <string>
#include <vector>

namespace jobrelay {

struct rate_spec {
  double rate_per_second = 0;  // 0 turns the limit off
  double burst = 0;
  bool enabled() const { return rate_per_second > 0; }
};

struct config {
  struct server_section {
    std::string listen = "0.0.0.0:8080";
    std::string public_url;  // empty: absolute URLs from the request's Host
    unsigned threads = 0;    // 0 in the file is not allowed; default = cores
    std::vector<std::string> trusted_proxies;  // CIDRs
    std::vector<std::string> cors_allowed_origins;
    unsigned drain_seconds = 10;
    // After SIGTERM, keep accepting this long (readyz 503, Connection: close)
    // before the listener closes, so a load balancer's health check takes the
    // replica out while it still answers.
    unsigned drain_delay_ms = 0;
    unsigned header_timeout_ms = 10000;
    unsigned idle_timeout_ms = 60000;
    unsigned max_connections = 10000;
    // Bytes of answers waiting for slow readers, over all connections.
    std::uint64_t max_pending_write_bytes = 268435456;
    // Not a config key: the 15 s keep-alive of event streams (API.md), a
    // field only so that tests need not wait 15 s.
    unsigned sse_keepalive_ms = 15000;
  } server;

  struct upstream_section {
    std::string base_url = "http://127.0.0.1:9000";
    std::string submit_path = "/analyze";
    // Values have ${VAR} already replaced from the environment.
    std::map<std::string, std::string> headers;
    unsigned connect_timeout_ms = 3000;
    unsigned request_timeout_ms = 10000;
    unsigned max_retries = 5;
    unsigned max_connections = 64;
    // Back-pressure: POST /analyze is held (then refused 503) while this many
    // accepted jobs wait for the upstream to answer their submit. 0: no bound.
    unsigned max_pending_submits = 1000;
    // How long POST /analyze is held for room under that bound before it
    // is refused; 0: refused at once.
    unsigned admission_wait_ms = 2000;
    std::uint64_t max_response_bytes = 8388608;
    bool tls_verify = true;
    std::string tls_ca_file;  // empty: the system store
  } upstream;

  struct polling_section {
    unsigned upstream_initial_ms = 1000;
    double upstream_backoff = 1.5;
    unsigned upstream_max_ms = 10000;
    unsigned client_min_retry_after_seconds = 1;
    unsigned client_max_retry_after_seconds = 10;
    unsigned max_wait_seconds = 30;
  } polling;

  struct jobs_section {
    unsigned max_job_duration_seconds = 300;
    unsigned result_ttl_seconds = 3600;
  } jobs;

  struct limits_section {
    std::uint64_t max_jobs = 100000;
    std::uint64_t max_cache_bytes = 1073741824;
    std::uint64_t max_body_bytes = 1048576;
  } limits;

  struct rate_limit_section {
    rate_spec submit{1, 5};
    rate_spec poll{10, 20};
    std::string backend = "local";
  } rate_limit;

  struct auth_section {
    std::vector<std::string> api_keys;
    std::string link_secret;
  } auth;

  struct store_section {
    std::string backend = "memory";
    std::string redis_url = "redis://127.0.0.1:6379/0";
    // Not in API.md: how long a replica's lease on a job lasts unless
    // renewed; a dead replica's jobs are taken over within about 1.5x this.
    unsigned lease_ms = 10000;
  } store;

  struct log_section {
    std::string level = "info";
    std::string format = "text";
    bool access = true;  // one info line per request
  } log;
};

// What the command line asked for.
struct startup_options {
  config cfg;
  bool help = false;
  bool version = false;
  std::string config_path;  // the file that was read, empty when none
};

// Reads an environment variable; injectable so tests need no setenv.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;
env_lookup process_env();

struct config_error {
  std::string message;  // names the offending key, flag or file
};

// Parses flags (--config, --listen, --upstream, --help), reads the file
// (default config/jobrelay.json; a missing default file is fine, a missing
// named one is not), applies JOBRELAY_A__B overrides, validates.
// On failure returns the message to print; never throws.
std::variant<startup_options, config_error> load_startup_options(
    const std::vector<std::string>& args, const env_lookup& env);

// Same, from JSON text only (no flags, no file): for tests and tools.
std::variant<config, config_error> parse_config_text(const std::string& json_text,
                                                     const env_lookup& env);

std::string usage_text();

}  // namespace jobrelay
