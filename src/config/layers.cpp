#include "layers.hpp"

#include <algorithm>

#include "jobrelay/text.hpp"
#include "jobrelay/usable_cores.hpp"
#include "key_table.hpp"
#include "suggest.hpp"

namespace jobrelay::config_detail {
namespace {

using json = nlohmann::json;

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string last_segment(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string unknown_key_message(const std::string& path) {
  std::string message = "unknown key \"" + path + "\"";
  const auto dot = path.rfind('.');
  const std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
  const std::string name = last_segment(path);

  std::vector<std::string> sibling_names;
  const auto siblings = children_of(parent);
  for (const auto& s : siblings) sibling_names.push_back(last_segment(s));
  if (auto match = closest_match(name, sibling_names))
    return message + "; did you mean \"" + join_path(parent, *match) + "\"?";

  // The right name in the wrong section: "threads" at the top level.
  for (const auto& key : known_keys())
    if (last_segment(key.path) == name) return message + "; did you mean \"" + key.path + "\"?";
  return message;
}

void walk(const json& object, const std::string& prefix, config& cfg, const env_lookup& env,
          error_list& errors) {
  for (const auto& [key, value] : object.items()) {
    const std::string path = join_path(prefix, key);
    if (const key_spec* spec = find_key(path)) {
      if (auto e = spec->apply(cfg, value, env); !e.empty()) errors.push_back(path + ": " + e);
    } else if (is_section(path)) {
      if (value.is_object())
        walk(value, path, cfg, env, errors);
      else
        errors.push_back(path + ": expected an object, got " + shown(value));
    } else {
      errors.push_back(unknown_key_message(path));
    }
  }
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// Environment values are text; this turns one into the JSON value the key's
// setter expects. What cannot be read as the right type is passed on as a
// string, so the setter's message says what was expected. Returns false (and
// sets `why`) only where the text itself is malformed JSON.
bool env_to_json(value_kind kind, const std::string& text, json& out, std::string& why) {
  const std::string t = trim(text);
  switch (kind) {
    case value_kind::integer:
    case value_kind::number: {
      json parsed = json::parse(t, nullptr, false);
      out = !parsed.is_discarded() && parsed.is_number() ? parsed : json(text);
      return true;
    }
    case value_kind::boolean: {
      const std::string l = to_lower_ascii(t);
      if (l == "true" || l == "1")
        out = true;
      else if (l == "false" || l == "0")
        out = false;
      else
        out = text;
      return true;
    }
    case value_kind::string:
      out = text;
      return true;
    case value_kind::string_list: {
      if (!t.empty() && t.front() == '[') {
        out = json::parse(t, nullptr, false);
        if (out.is_discarded()) {
          why = "expected a JSON array or a comma-separated list, got malformed JSON";
          return false;
        }
        return true;
      }
      // Empty text is the empty list. Otherwise every item counts, empty ones
      // too, so the key's check refuses them: "," dropped to no items would
      // have turned auth.api_keys off without a word.
      out = json::array();
      if (t.empty()) return true;
      std::size_t start = 0;
      while (start <= t.size()) {
        auto comma = t.find(',', start);
        if (comma == std::string::npos) comma = t.size();
        out.push_back(trim(t.substr(start, comma - start)));
        start = comma + 1;
      }
      return true;
    }
    case value_kind::string_map:
      out = json::parse(t, nullptr, false);
      if (out.is_discarded()) {
        why = "expected a JSON object, got malformed JSON";
        return false;
      }
      return true;
  }
  return false;
}

}  // namespace

void apply_document(const json& doc, config& cfg, const env_lookup& env, error_list& errors) {
  walk(doc, "", cfg, env, errors);
}

void apply_environment(config& cfg, const env_lookup& env, error_list& errors) {
  if (!env) return;
  for (const auto& key : known_keys()) {
    const std::string name = env_name(key.path);
    const auto text = env(name);
    if (!text) continue;
    json value;
    std::string why;
    if (!env_to_json(key.kind, *text, value, why)) {
      errors.push_back(name + " (" + key.path + "): " + why);
      continue;
    }
    if (auto e = key.apply(cfg, value, env); !e.empty())
      errors.push_back(name + " (" + key.path + "): " + e);
  }
}

void apply_flag(const std::string& flag, const std::string& key_path, const std::string& value,
                config& cfg, const env_lookup& env, error_list& errors) {
  const key_spec* spec = find_key(key_path);
  if (!spec) {
    errors.push_back(flag + ": internal error, no key " + key_path);
    return;
  }
  if (auto e = spec->apply(cfg, json(value), env); !e.empty())
    errors.push_back(flag + " (" + key_path + "): " + e);
}

void finish(config& cfg, error_list& errors) {
  if (cfg.server.threads == 0) cfg.server.threads = std::min(usable_cores(), 1024u);

  const auto& p = cfg.polling;
  if (p.upstream_max_ms < p.upstream_initial_ms)
    errors.push_back("polling.upstream_max_ms: expected >= polling.upstream_initial_ms (" +
                     std::to_string(p.upstream_initial_ms) + "), got " +
                     std::to_string(p.upstream_max_ms));
  if (p.client_min_retry_after_seconds > p.client_max_retry_after_seconds)
    errors.push_back(
        "polling.client_min_retry_after_seconds: expected <= "
        "polling.client_max_retry_after_seconds (" +
        std::to_string(p.client_max_retry_after_seconds) + "), got " +
        std::to_string(p.client_min_retry_after_seconds));

  const auto check_rate = [&](const char* name, const rate_spec& spec) {
    // A token a thousand seconds is the slowest refill the headers (whole
    // seconds) and the bucket arithmetic carry; 1e-300 never refilled and
    // said Retry-After: 1.
    if (spec.rate_per_second > 0 && spec.rate_per_second < 0.001)
      errors.push_back(std::string("rate_limit.") + name +
                       ".rate_per_second: expected 0 (off) or at least 0.001, got " +
                       std::to_string(spec.rate_per_second));
    if (spec.enabled() && spec.burst < 1)
      errors.push_back(std::string("rate_limit.") + name +
                       ".burst: expected an integer >= 1 when rate_per_second > 0, got " +
                       std::to_string(static_cast<std::uint64_t>(spec.burst)));
  };
  check_rate("submit", cfg.rate_limit.submit);
  check_rate("poll", cfg.rate_limit.poll);

  // A random per-process key would make one replica's event-stream links
  // fail on every other replica: refuse rather than break them silently.
  if (cfg.store.backend == "redis" && !cfg.auth.api_keys.empty() && cfg.auth.link_secret.empty())
    errors.push_back(
        "auth.link_secret: expected a secret shared by every replica when store.backend is \"redis\" "
        "and auth.api_keys is set (links.events tokens must open streams on any replica)");
}

void check_unknown_env_names(const std::vector<std::string>& names, error_list& errors) {
  std::vector<std::string> known;
  for (const auto& key : known_keys()) known.push_back(env_name(key.path));
  for (const auto& name : names) {
    if (name.rfind("JOBRELAY_", 0) != 0) continue;
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string message = "unknown environment variable " + name;
    if (auto match = closest_match(name, known)) message += "; did you mean " + *match + "?";
    errors.push_back(message);
  }
}

std::string join_errors(const error_list& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += e;
  }
  return out;
}

}  // namespace jobrelay::config_detail
