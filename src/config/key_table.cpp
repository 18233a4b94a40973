#include "key_table.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "value_checks.hpp"

namespace jobrelay::config_detail {
namespace {

using json = nlohmann::json;

// Lets the table name a field once: FIELD(server.threads) is a function from
// config to that member.
#define FIELD(member)       \
  [](config & c) -> auto& { \
    return c.member;        \
  }

std::optional<std::uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) return std::nullopt;  // negative
  if (v.is_number_float()) {
    // 1e6 is a fine way to write a byte count.
    const double d = v.get<double>();
    if (std::isfinite(d) && d >= 0 && d < 18446744073709551616.0 && std::floor(d) == d)
      return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

std::string integer_expectation(std::uint64_t min, std::uint64_t max, std::uint64_t type_max) {
  if (max >= type_max) return "expected an integer >= " + std::to_string(min);
  return "expected an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

template <class Field>
key_spec integer_key(std::string path, Field field, std::uint64_t min,
                     std::optional<std::uint64_t> max = std::nullopt) {
  using T = std::remove_reference_t<decltype(field(std::declval<config&>()))>;
  constexpr std::uint64_t type_max = std::is_integral_v<T>
                                         ? static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                                         : std::uint64_t{1} << 53;  // exact in a double
  const std::uint64_t upper = std::min(max.value_or(type_max), type_max);
  return {std::move(path), value_kind::integer,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            const auto n = as_unsigned(v);
            if (!n || *n < min || *n > upper)
              return integer_expectation(min, upper, type_max) + ", got " + shown(v);
            field(c) = static_cast<T>(*n);
            return {};
          }};
}

template <class Field>
key_spec number_key(std::string path, Field field, double min) {
  return {std::move(path), value_kind::number,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < min) {
              json shown_min = min;
              return "expected a number >= " + shown_min.dump() + ", got " + shown(v);
            }
            field(c) = v.get<double>();
            return {};
          }};
}

template <class Field>
key_spec boolean_key(std::string path, Field field) {
  return {std::move(path), value_kind::boolean,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_boolean()) return "expected true or false, got " + shown(v);
            field(c) = v.get<bool>();
            return {};
          }};
}

using string_check = std::string (*)(std::string&);

std::string accept_any(std::string&) {
  return {};
}

// `secret`: the value is never echoed, so a typo in a key does not end up
// in the logs.
template <class Field>
key_spec string_key(std::string path, Field field, string_check check = accept_any,
                    bool secret = false) {
  return {std::move(path), value_kind::string,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_string())
              return "expected a string, got " + (secret ? "a non-string" : shown(v));
            std::string s = v.get<std::string>();
            if (auto e = check(s); !e.empty()) return secret ? e : e + ", got " + shown(v);
            field(c) = std::move(s);
            return {};
          }};
}

template <class Field>
key_spec choice_key(std::string path, Field field, std::vector<std::string> choices) {
  return {std::move(path), value_kind::string,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            if (v.is_string()) {
              for (const auto& choice : choices) {
                if (v.get<std::string>() == choice) {
                  field(c) = choice;
                  return {};
                }
              }
            }
            std::string list;
            for (std::size_t i = 0; i < choices.size(); ++i)
              list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
            return "expected " + list + ", got " + shown(v);
          }};
}

template <class Field>
key_spec list_key(std::string path, Field field, string_check check = accept_any,
                  bool secret = false) {
  return {std::move(path), value_kind::string_list,
          [=](config& c, const json& v, const env_lookup&) -> std::string {
            if (!v.is_array()) return "expected an array of strings, got " + shown(v);
            std::vector<std::string> items;
            for (std::size_t i = 0; i < v.size(); ++i) {
              const std::string at = "item " + std::to_string(i) + ": ";
              if (!v[i].is_string())
                return at + "expected a string, got " + (secret ? "a non-string" : shown(v[i]));
              std::string s = v[i].get<std::string>();
              if (auto e = check(s); !e.empty())
                return at + (secret ? e : e + ", got " + shown(v[i]));
              items.push_back(std::move(s));
            }
            field(c) = std::move(items);
            return {};
          }};
}

// Header values usually hold secrets ("Bearer ${ANALYZER_KEY}"), so they
// are never echoed; names are.
key_spec headers_key(std::string path) {
  return {std::move(path), value_kind::string_map,
          [](config& c, const json& v, const env_lookup& env) -> std::string {
            if (!v.is_object())
              return "expected an object of header names to strings, got " + shown(v);
            std::map<std::string, std::string> headers;
            for (const auto& [name, raw] : v.items()) {
              if (auto e = check_header_name(name); !e.empty()) return e;
              if (!raw.is_string()) return "\"" + name + "\": expected a string";
              std::string value = raw.get<std::string>();
              if (auto e = expand_env_refs(value, env); !e.empty()) return "\"" + name + "\": " + e;
              if (auto e = check_header_value(value); !e.empty()) return "\"" + name + "\": " + e;
              headers[name] = std::move(value);
            }
            c.upstream.headers = std::move(headers);
            return {};
          }};
}

std::vector<key_spec> build_table() {
  constexpr bool secret = true;
  return {
      string_key("server.listen", FIELD(server.listen), check_listen),
      string_key("server.public_url", FIELD(server.public_url), check_public_url),
      // One thread per core is the most that pays; 100000 took over 13 s to
      // start, on a machine with two.
      integer_key("server.threads", FIELD(server.threads), 1, 1024),
      list_key("server.trusted_proxies", FIELD(server.trusted_proxies), check_trusted_proxy),
      list_key("server.cors.allowed_origins", FIELD(server.cors_allowed_origins), check_origin),
      integer_key("server.drain_seconds", FIELD(server.drain_seconds), 0),
      integer_key("server.drain_delay_ms", FIELD(server.drain_delay_ms), 0),
      integer_key("server.header_timeout_ms", FIELD(server.header_timeout_ms), 1),
      integer_key("server.idle_timeout_ms", FIELD(server.idle_timeout_ms), 1),
      integer_key("server.max_connections", FIELD(server.max_connections), 1),
      integer_key("server.max_pending_write_bytes", FIELD(server.max_pending_write_bytes), 0),

      string_key("upstream.base_url", FIELD(upstream.base_url), check_http_base_url),
      string_key("upstream.submit_path", FIELD(upstream.submit_path), check_submit_path),
      headers_key("upstream.headers"),
      integer_key("upstream.connect_timeout_ms", FIELD(upstream.connect_timeout_ms), 1),
      integer_key("upstream.request_timeout_ms", FIELD(upstream.request_timeout_ms), 1),
      integer_key("upstream.max_retries", FIELD(upstream.max_retries), 0, 100),
      integer_key("upstream.max_connections", FIELD(upstream.max_connections), 1),
      integer_key("upstream.max_pending_submits", FIELD(upstream.max_pending_submits), 0),
      integer_key("upstream.admission_wait_ms", FIELD(upstream.admission_wait_ms), 0, 60000),
      integer_key("upstream.max_response_bytes", FIELD(upstream.max_response_bytes), 1),
      boolean_key("upstream.tls.verify", FIELD(upstream.tls_verify)),
      string_key("upstream.tls.ca_file", FIELD(upstream.tls_ca_file)),

      integer_key("polling.upstream_initial_ms", FIELD(polling.upstream_initial_ms), 1),
      number_key("polling.upstream_backoff", FIELD(polling.upstream_backoff), 1.0),
      integer_key("polling.upstream_max_ms", FIELD(polling.upstream_max_ms), 1),
      integer_key("polling.client_min_retry_after_seconds",
                  FIELD(polling.client_min_retry_after_seconds), 1),
      integer_key("polling.client_max_retry_after_seconds",
                  FIELD(polling.client_max_retry_after_seconds), 1),
      integer_key("polling.max_wait_seconds", FIELD(polling.max_wait_seconds), 0),

      integer_key("jobs.max_job_duration_seconds", FIELD(jobs.max_job_duration_seconds), 1),
      integer_key("jobs.result_ttl_seconds", FIELD(jobs.result_ttl_seconds), 1),

      integer_key("limits.max_jobs", FIELD(limits.max_jobs), 1),
      integer_key("limits.max_cache_bytes", FIELD(limits.max_cache_bytes), 1),
      integer_key("limits.max_body_bytes", FIELD(limits.max_body_bytes), 1),

      number_key("rate_limit.submit.rate_per_second", FIELD(rate_limit.submit.rate_per_second), 0),
      // Whole tokens: the burst is what RateLimit-Policy advertises as q=.
      integer_key("rate_limit.submit.burst", FIELD(rate_limit.submit.burst), 0, 1'000'000'000),
      number_key("rate_limit.poll.rate_per_second", FIELD(rate_limit.poll.rate_per_second), 0),
      integer_key("rate_limit.poll.burst", FIELD(rate_limit.poll.burst), 0, 1'000'000'000),
      // redis is accepted with either store.backend: the buckets live in
      // store.redis_url's Redis, which then need not hold the jobs too.
      choice_key("rate_limit.backend", FIELD(rate_limit.backend), {"local", "redis"}),

      list_key("auth.api_keys", FIELD(auth.api_keys), check_api_key, secret),
      string_key("auth.link_secret", FIELD(auth.link_secret), accept_any, secret),

      choice_key("store.backend", FIELD(store.backend), {"memory", "redis"}),
      // Secret: the URL may carry Redis' password.
      string_key("store.redis_url", FIELD(store.redis_url), check_redis_url, secret),
      integer_key("store.lease_ms", FIELD(store.lease_ms), 100),

      choice_key("log.level", FIELD(log.level),
                 {"trace", "debug", "info", "warn", "error", "critical", "off"}),
      choice_key("log.format", FIELD(log.format), {"text", "json"}),
      boolean_key("log.access", FIELD(log.access)),
  };
}

#undef FIELD

}  // namespace

const std::vector<key_spec>& known_keys() {
  static const std::vector<key_spec> table = build_table();
  return table;
}

const key_spec* find_key(std::string_view path) {
  for (const auto& key : known_keys())
    if (key.path == path) return &key;
  return nullptr;
}

bool is_section(std::string_view path) {
  for (const auto& key : known_keys()) {
    const std::string_view p = key.path;
    if (p.size() > path.size() && p.substr(0, path.size()) == path && p[path.size()] == '.')
      return true;
  }
  return false;
}

std::vector<std::string> children_of(std::string_view section) {
  std::vector<std::string> out;
  const std::size_t start = section.empty() ? 0 : section.size() + 1;
  for (const auto& key : known_keys()) {
    const std::string_view p = key.path;
    if (!section.empty() && !(p.size() > section.size() && p.substr(0, section.size()) == section &&
                              p[section.size()] == '.'))
      continue;
    const auto dot = p.find('.', start);
    std::string child(p.substr(0, dot));
    if (std::find(out.begin(), out.end(), child) == out.end()) out.push_back(std::move(child));
  }
  return out;
}

std::string env_name(std::string_view path) {
  std::string name = "JOBRELAY_";
  for (char c : path) {
    if (c == '.')
      name += "__";
    else
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t max_length = 60;
  if (text.size() > max_length) text = text.substr(0, max_length) + "...";
  return text;
}

}  // namespace jobrelay::config_detail
