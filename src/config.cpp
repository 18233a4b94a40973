// The configuration loader. One table lists every key: its dotted path, and a
// setter that checks the JSON value and stores it. The file walk, the
// JOBRELAY_* overrides and the unknown-key errors all come from that table.
#include "jobrelay/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "jobrelay/limit/client_identity.hpp"

extern char** environ;

namespace jobrelay {
namespace {

using json = nlohmann::json;
// Returns an error text ("expected ..., got ...") or empty when stored.
using setter = std::function<std::string(config&, const json&, const env_lookup&)>;

enum class kind { text, integer, number, boolean, list, map };

struct key_spec {
  std::string path;
  kind type;
  setter set;
};

std::string shown(const json& v) {
  auto s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

template <class Get>
key_spec text_key(std::string path, Get get,
                  std::function<std::string(const std::string&)> check = {}) {
  return {std::move(path), kind::text,
          [get, check](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_string()) return "expected a string, got " + shown(v);
            const auto& s = v.get_ref<const std::string&>();
            if (check)
              if (auto e = check(s); !e.empty()) return e;
            get(c) = s;
            return {};
          }};
}

template <class Get>
key_spec int_key(std::string path, Get get, std::uint64_t min, std::uint64_t max) {
  return {std::move(path), kind::integer,
          [get, min, max](config& c, const json& v, const env_lookup&) -> std::string {
            const std::string want = "expected an integer in [" + std::to_string(min) + ", " +
                                     std::to_string(max) + "], got ";
            if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0))
              return want + shown(v);
            const auto n = v.get<std::uint64_t>();
            if (n < min || n > max) return want + shown(v);
            get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(n);
            return {};
          }};
}

template <class Get>
key_spec number_key(std::string path, Get get, double min, double max) {
  return {std::move(path), kind::number,
          [get, min, max](config& c, const json& v, const env_lookup&) -> std::string {
            std::ostringstream want;
            want << "expected a number in [" << min << ", " << max << "], got ";
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min ||
                v.get<double>() > max)
              return want.str() + shown(v);
            get(c) = v.get<double>();
            return {};
          }};
}

template <class Get>
key_spec bool_key(std::string path, Get get) {
  return {std::move(path), kind::boolean,
          [get](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_boolean()) return "expected true or false, got " + shown(v);
            get(c) = v.get<bool>();
            return {};
          }};
}

template <class Get>
key_spec list_key(std::string path, Get get,
                  std::function<std::string(const std::string&)> check = {}) {
  return {std::move(path), kind::list,
          [get, check](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_array()) return "expected a list of strings, got " + shown(v);
            std::vector<std::string> out;
            for (const auto& item : v) {
              if (!item.is_string()) return "expected a list of strings, got " + shown(v);
              if (check)
                if (auto e = check(item.get<std::string>()); !e.empty()) return e;
              out.push_back(item.get<std::string>());
            }
            get(c) = std::move(out);
            return {};
          }};
}

std::string one_of(const std::string& s, std::initializer_list<const char*> allowed) {
  std::string names;
  for (auto a : allowed) {
    if (s == a) return {};
    names += names.empty() ? std::string("\"") + a + "\"" : std::string(", \"") + a + "\"";
  }
  return "expected one of " + names + ", got \"" + s + "\"";
}

std::string http_url(const std::string& s, bool allow_empty) {
  if (s.empty() && allow_empty) return {};
  const bool scheme_ok = s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
  const auto host_start = s.find("://") + 3;
  if (!scheme_ok || host_start >= s.size() || s[host_start] == '/' ||
      s.find_first_of(" \t\r\n") != std::string::npos)
    return "expected an http:// or https:// URL with a host, got \"" + s + "\"";
  return {};
}

std::string listen_address(const std::string& s) {
  const auto colon = s.rfind(':');
  const bool v6 = !s.empty() && s.front() == '[';
  bool ok = colon != std::string::npos && colon + 1 < s.size() && colon > 0;
  if (ok && v6) ok = s[colon - 1] == ']';
  if (ok && !v6) ok = s.find(':') == colon;
  if (ok) {
    const auto port = s.substr(colon + 1);
    ok = port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit) && std::stoul(port) <= 65535;
  }
  return ok ? std::string() : "expected host:port or [v6]:port, got \"" + s + "\"";
}

// ${VAR} expansion for upstream.headers: secrets stay out of the file.
std::string expand_env(const std::string& value, const env_lookup& env, std::string& error) {
  std::string out;
  for (std::size_t i = 0; i < value.size();) {
    if (value.compare(i, 2, "${") == 0) {
      const auto close = value.find('}', i);
      if (close == std::string::npos) {
        error = "unterminated ${ in \"" + value + "\"";
        return {};
      }
      const auto name = value.substr(i + 2, close - i - 2);
      auto v = env(name);
      if (!v) {
        error = "environment variable " + name + " is not set";
        return {};
      }
      out += *v;
      i = close + 1;
    } else {
      out += value[i++];
    }
  }
  return out;
}

key_spec headers_key() {
  return {"upstream.headers", kind::map,
          [](config& c, const json& v, const env_lookup& env) -> std::string {
            if (!v.is_object()) return "expected an object of header names to strings, got " + shown(v);
            std::map<std::string, std::string> out;
            for (const auto& [name, value] : v.items()) {
              if (!value.is_string()) return "header \"" + name + "\": expected a string";
              if (name.empty() || name.find_first_of(" :\r\n\t") != std::string::npos)
                return "invalid header name \"" + name + "\"";
              std::string error;
              auto expanded = expand_env(value.get<std::string>(), env, error);
              if (!error.empty()) return "header \"" + name + "\": " + error;
              if (expanded.find_first_of("\r\n") != std::string::npos)
                return "header \"" + name + "\": value contains a line break";
              out[name] = std::move(expanded);
            }
            c.upstream.headers = std::move(out);
            return {};
          }};
}

const std::vector<key_spec>& keys() {
  constexpr std::uint64_t u32 = 0xffffffffu, big = 1ull << 50;
  static const std::vector<key_spec> table = {
      text_key("server.listen", [](config& c) -> auto& { return c.server.listen; }, listen_address),
      text_key("server.public_url", [](config& c) -> auto& { return c.server.public_url; },
               [](const std::string& s) { return http_url(s, true); }),
      int_key("server.threads", [](config& c) -> auto& { return c.server.threads; }, 1, 1024),
      list_key("server.trusted_proxies", [](config& c) -> auto& { return c.server.trusted_proxies; },
               [](const std::string& s) {
                 return limit::cidr::parse(s) ? std::string()
                                              : "expected a CIDR or IP address, got \"" + s + "\"";
               }),
      list_key("server.cors.allowed_origins",
               [](config& c) -> auto& { return c.server.cors_allowed_origins; }),
      int_key("server.drain_seconds", [](config& c) -> auto& { return c.server.drain_seconds; }, 0, 3600),
      int_key("server.header_timeout_ms", [](config& c) -> auto& { return c.server.header_timeout_ms; }, 1, u32),
      int_key("server.idle_timeout_ms", [](config& c) -> auto& { return c.server.idle_timeout_ms; }, 1, u32),
      int_key("server.max_connections", [](config& c) -> auto& { return c.server.max_connections; }, 1, 10000000),
      text_key("upstream.base_url", [](config& c) -> auto& { return c.upstream.base_url; },
               [](const std::string& s) { return http_url(s, false); }),
      text_key("upstream.submit_path", [](config& c) -> auto& { return c.upstream.submit_path; },
               [](const std::string& s) {
                 return !s.empty() && s.front() == '/' && s.find_first_of(" \r\n\t") == std::string::npos
                            ? std::string()
                            : "expected a path starting with '/', got \"" + s + "\"";
               }),
      headers_key(),
      int_key("upstream.connect_timeout_ms", [](config& c) -> auto& { return c.upstream.connect_timeout_ms; }, 1, u32),
      int_key("upstream.request_timeout_ms", [](config& c) -> auto& { return c.upstream.request_timeout_ms; }, 1, u32),
      int_key("upstream.max_retries", [](config& c) -> auto& { return c.upstream.max_retries; }, 0, 100),
      int_key("upstream.max_connections", [](config& c) -> auto& { return c.upstream.max_connections; }, 1, 100000),
      int_key("upstream.max_response_bytes", [](config& c) -> auto& { return c.upstream.max_response_bytes; }, 1, big),
      bool_key("upstream.tls.verify", [](config& c) -> auto& { return c.upstream.tls_verify; }),
      text_key("upstream.tls.ca_file", [](config& c) -> auto& { return c.upstream.tls_ca_file; }),
      int_key("polling.upstream_initial_ms", [](config& c) -> auto& { return c.polling.upstream_initial_ms; }, 1, u32),
      number_key("polling.upstream_backoff", [](config& c) -> auto& { return c.polling.upstream_backoff; }, 1.0, 100.0),
      int_key("polling.upstream_max_ms", [](config& c) -> auto& { return c.polling.upstream_max_ms; }, 1, u32),
      int_key("polling.client_min_retry_after_seconds",
              [](config& c) -> auto& { return c.polling.client_min_retry_after_seconds; }, 1, 86400),
      int_key("polling.client_max_retry_after_seconds",
              [](config& c) -> auto& { return c.polling.client_max_retry_after_seconds; }, 1, 86400),
      int_key("polling.max_wait_seconds", [](config& c) -> auto& { return c.polling.max_wait_seconds; }, 0, 3600),
      int_key("jobs.max_job_duration_seconds", [](config& c) -> auto& { return c.jobs.max_job_duration_seconds; }, 1, 30 * 86400),
      int_key("jobs.result_ttl_seconds", [](config& c) -> auto& { return c.jobs.result_ttl_seconds; }, 1, 365 * 86400),
      int_key("limits.max_jobs", [](config& c) -> auto& { return c.limits.max_jobs; }, 1, big),
      int_key("limits.max_cache_bytes", [](config& c) -> auto& { return c.limits.max_cache_bytes; }, 1, big),
      int_key("limits.max_body_bytes", [](config& c) -> auto& { return c.limits.max_body_bytes; }, 1, big),
      number_key("rate_limit.submit.rate_per_second", [](config& c) -> auto& { return c.rate_limit.submit.rate_per_second; }, 0, 1e9),
      number_key("rate_limit.submit.burst", [](config& c) -> auto& { return c.rate_limit.submit.burst; }, 0, 1e9),
      number_key("rate_limit.poll.rate_per_second", [](config& c) -> auto& { return c.rate_limit.poll.rate_per_second; }, 0, 1e9),
      number_key("rate_limit.poll.burst", [](config& c) -> auto& { return c.rate_limit.poll.burst; }, 0, 1e9),
      text_key("rate_limit.backend", [](config& c) -> auto& { return c.rate_limit.backend; },
               [](const std::string& s) { return one_of(s, {"local", "redis"}); }),
      list_key("auth.api_keys", [](config& c) -> auto& { return c.auth.api_keys; },
               [](const std::string& s) {
                 return s.empty() ? std::string("an API key must not be empty") : std::string();
               }),
      text_key("auth.link_secret", [](config& c) -> auto& { return c.auth.link_secret; }),
      text_key("store.backend", [](config& c) -> auto& { return c.store.backend; },
               [](const std::string& s) { return one_of(s, {"memory", "redis"}); }),
      text_key("store.redis_url", [](config& c) -> auto& { return c.store.redis_url; },
               [](const std::string& s) {
                 return s.rfind("redis://", 0) == 0 || s.rfind("rediss://", 0) == 0
                            ? std::string()
                            : "expected a redis:// URL, got \"" + s + "\"";
               }),
      text_key("log.level", [](config& c) -> auto& { return c.log.level; },
               [](const std::string& s) {
                 return one_of(s, {"trace", "debug", "info", "warn", "error", "critical", "off"});
               }),
      text_key("log.format", [](config& c) -> auto& { return c.log.format; },
               [](const std::string& s) { return one_of(s, {"text", "json"}); }),
  };
  return table;
}

std::string env_name(const std::string& path) {
  std::string out = "JOBRELAY_";
  for (char ch : path) {
    if (ch == '.') out += "__";
    else out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string unknown_key(const std::string& path) {
  std::string best;
  std::size_t best_distance = 4;
  for (const auto& k : keys()) {
    // Compare with the known key cut to the same depth, so sections match too.
    const auto depth = std::count(path.begin(), path.end(), '.');
    std::string candidate = k.path;
    std::size_t pos = 0;
    for (long d = 0; d <= depth && pos != std::string::npos; ++d) pos = candidate.find('.', pos + 1);
    if (pos != std::string::npos) candidate = candidate.substr(0, pos);
    const auto d = edit_distance(path, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  std::string msg = "unknown key \"" + path + "\"";
  if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
  return msg;
}

const key_spec* find_key(const std::string& path) {
  for (const auto& k : keys())
    if (k.path == path) return &k;
  return nullptr;
}

bool is_section(const std::string& path) {
  const auto prefix = path + ".";
  return std::any_of(keys().begin(), keys().end(),
                     [&](const key_spec& k) { return k.path.rfind(prefix, 0) == 0; });
}

std::string walk(config& cfg, const json& obj, const std::string& prefix, const env_lookup& env) {
  for (const auto& [name, value] : obj.items()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (const auto* k = find_key(path)) {
      if (auto e = k->set(cfg, value, env); !e.empty()) return path + ": " + e;
    } else if (is_section(path)) {
      if (!value.is_object()) return path + ": expected an object, got " + shown(value);
      if (auto e = walk(cfg, value, path, env); !e.empty()) return e;
    } else {
      return unknown_key(path);
    }
  }
  return {};
}

// An environment value is text; read it as the key's type.
std::optional<json> env_value(kind type, const std::string& text) {
  switch (type) {
    case kind::text: return json(text);
    case kind::boolean:
      if (text == "true" || text == "1") return json(true);
      if (text == "false" || text == "0") return json(false);
      return std::nullopt;
    case kind::integer:
    case kind::number: {
      auto v = json::parse(text, nullptr, false);
      if (v.is_discarded() || !v.is_number()) return std::nullopt;
      return v;
    }
    case kind::list: {
      if (!text.empty() && text.front() == '[') {
        auto v = json::parse(text, nullptr, false);
        if (v.is_discarded()) return std::nullopt;
        return v;
      }
      json list = json::array();
      std::stringstream ss(text);
      for (std::string item; std::getline(ss, item, ',');) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) list.push_back(item);
      }
      return list;
    }
    case kind::map: {
      auto v = json::parse(text, nullptr, false);
      if (v.is_discarded()) return std::nullopt;
      return v;
    }
  }
  return std::nullopt;
}

std::string apply_env(config& cfg, const env_lookup& env) {
  for (const auto& k : keys()) {
    const auto name = env_name(k.path);
    const auto text = env(name);
    if (!text) continue;
    const auto value = env_value(k.type, *text);
    if (!value) return name + " (" + k.path + "): cannot read \"" + *text + "\" as this key's type";
    if (auto e = k.set(cfg, *value, env); !e.empty()) return name + " (" + k.path + "): " + e;
  }
  return {};
}

std::string validate(config& cfg) {
  if (cfg.server.threads == 0) cfg.server.threads = std::max(1u, std::thread::hardware_concurrency());
  while (!cfg.server.public_url.empty() && cfg.server.public_url.back() == '/')
    cfg.server.public_url.pop_back();
  if (cfg.polling.client_min_retry_after_seconds > cfg.polling.client_max_retry_after_seconds)
    return "polling.client_min_retry_after_seconds: must not exceed "
           "polling.client_max_retry_after_seconds";
  if (cfg.polling.upstream_max_ms < cfg.polling.upstream_initial_ms)
    return "polling.upstream_max_ms: must not be below polling.upstream_initial_ms";
  for (auto [name, spec] : {std::pair{"rate_limit.submit", &cfg.rate_limit.submit},
                            std::pair{"rate_limit.poll", &cfg.rate_limit.poll}})
    if (spec->rate_per_second > 0 && spec->burst < 1)
      return std::string(name) + ".burst: must be at least 1 when the rate is above 0";
  if (!cfg.upstream.tls_ca_file.empty() && !std::ifstream(cfg.upstream.tls_ca_file))
    return "upstream.tls.ca_file: cannot read \"" + cfg.upstream.tls_ca_file + "\"";
  return {};
}

std::variant<config, config_error> parse_into(config cfg, const std::string& text,
                                              const env_lookup& env, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return config_error{source + ": not valid JSON: " + e.what()};
  }
  if (!doc.is_object()) return config_error{source + ": the top level must be a JSON object"};
  if (auto e = walk(cfg, doc, "", env); !e.empty()) return config_error{source + ": " + e};
  if (auto e = apply_env(cfg, env); !e.empty()) return config_error{e};
  return cfg;
}

}  // namespace

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::variant<config, config_error> parse_config_text(const std::string& json_text,
                                                     const env_lookup& env) {
  auto parsed = parse_into(config{}, json_text, env, "config");
  if (auto* cfg = std::get_if<config>(&parsed))
    if (auto e = validate(*cfg); !e.empty()) return config_error{e};
  return parsed;
}

std::variant<startup_options, config_error> load_startup_options(
    const std::vector<std::string>& args, const env_lookup& env) {
  startup_options out;
  std::string config_path, listen, upstream;
  bool explicit_config = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value_of = [&](const std::string& flag, std::string& into) -> std::optional<config_error> {
      if (a == flag) {
        if (i + 1 >= args.size()) return config_error{flag + " needs a value"};
        into = args[++i];
      } else {
        into = a.substr(flag.size() + 1);
      }
      return std::nullopt;
    };
    auto is = [&](const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
    std::optional<config_error> err;
    if (a == "--help" || a == "-h") {
      out.help = true;
      return out;
    } else if (is("--config")) {
      err = value_of("--config", config_path);
      explicit_config = true;
    } else if (is("--listen")) {
      err = value_of("--listen", listen);
    } else if (is("--upstream")) {
      err = value_of("--upstream", upstream);
    } else {
      err = config_error{"unknown flag \"" + a + "\""};
    }
    if (err) return *err;
  }

  // A JOBRELAY_* variable that names no key is a typo that would otherwise
  // pass silently.
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("JOBRELAY_", 0) != 0) continue;
    const auto name = entry.substr(0, entry.find('='));
    if (!env(name)) continue;  // the injected lookup does not see it
    const bool known = std::any_of(keys().begin(), keys().end(),
                                   [&](const key_spec& k) { return env_name(k.path) == name; });
    if (!known) return config_error{"unknown environment variable " + name + " (no such config key)"};
  }

  if (config_path.empty()) config_path = "config/jobrelay.json";
  std::string text = "{}";
  if (std::ifstream file{config_path}) {
    std::stringstream ss;
    ss << file.rdbuf();
    text = ss.str();
    out.config_path = config_path;
  } else if (explicit_config) {
    return config_error{"cannot read config file \"" + config_path + "\""};
  }
  auto parsed = parse_into(config{}, text, env, out.config_path.empty() ? "config" : config_path);
  if (auto* e = std::get_if<config_error>(&parsed)) return *e;
  out.cfg = std::get<config>(std::move(parsed));
  // Flags beat the environment, which beats the file.
  if (!listen.empty()) {
    if (auto e = listen_address(listen); !e.empty()) return config_error{"--listen: " + e};
    out.cfg.server.listen = listen;
  }
  if (!upstream.empty()) {
    if (auto e = http_url(upstream, false); !e.empty()) return config_error{"--upstream: " + e};
    out.cfg.upstream.base_url = upstream;
  }
  if (auto e = validate(out.cfg); !e.empty()) return config_error{e};
  return out;
}

std::vector<std::string> config_key_paths() {
  std::vector<std::string> out;
  for (const auto& k : keys()) out.push_back(k.path);
  return out;
}

std::string usage_text() {
  return R"(usage: jobrelay [--config PATH] [--listen HOST:PORT] [--upstream URL] [--help]

  --config PATH      JSON config file (default config/jobrelay.json; missing default = all defaults)
  --listen HOST:PORT address to serve, e.g. 0.0.0.0:8080 or [::]:8080; port 0 picks a free one
  --upstream URL     the analyzer's base URL (upstream.base_url)
  --help             this text

Every config key can be set by an environment variable: JOBRELAY_ + the key path
in upper case with __ between levels, e.g. JOBRELAY_UPSTREAM__BASE_URL,
JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND. Precedence: flags > environment >
file > defaults. Unknown keys and invalid values stop start-up naming the key.
Keys and defaults: config/README.md.
)";
}

}  // namespace jobrelay
