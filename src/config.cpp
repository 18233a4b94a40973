#include "jobrelay/config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/json_text.hpp"
#include "config/key_table.hpp"
#include "config/layers.hpp"

extern char** environ;

namespace jobrelay {
namespace {

using json = nlohmann::json;
namespace detail = config_detail;

constexpr const char* default_config_path = "config/jobrelay.json";

// A named type rather than a lambda so load_startup_options can tell the
// real environment (which it may scan for stray JOBRELAY_* names) from an
// injected lookup (which cannot be enumerated).
struct process_environment {
  std::optional<std::string> operator()(const std::string& name) const {
    if (const char* value = std::getenv(name.c_str())) return std::string(value);
    return std::nullopt;
  }
};

std::vector<std::string> process_env_names() {
  std::vector<std::string> names;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text = *entry;
    names.emplace_back(text.substr(0, text.find('=')));
  }
  return names;
}

struct parsed_args {
  std::string config_path;
  bool config_given = false;
  std::optional<std::string> listen;
  std::optional<std::string> upstream;
  bool help = false;
  bool version = false;
};

std::variant<parsed_args, config_error> parse_args(const std::vector<std::string>& args) {
  parsed_args out;
  out.config_path = default_config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--version") {
      out.version = true;
      continue;
    }
    // "--flag=value" and "--flag value" are both accepted.
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    std::optional<std::string>* target = nullptr;
    std::optional<std::string> config_value;
    if (name == "--config")
      target = &config_value;
    else if (name == "--listen")
      target = &out.listen;
    else if (name == "--upstream")
      target = &out.upstream;
    else
      return config_error{"unknown option \"" + arg + "\" (see --help)"};
    if (!value) {
      if (i + 1 >= args.size()) return config_error{name + " needs a value (see --help)"};
      value = args[++i];
    }
    *target = *value;
    if (config_value) {
      out.config_path = *config_value;
      out.config_given = true;
    }
  }
  return out;
}

// The file's text, or nullopt when the default file is simply absent.
std::variant<std::optional<std::string>, config_error> read_config_file(const parsed_args& args) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(args.config_path, ec);
  if (!fs::exists(status)) {
    if (!args.config_given) return std::optional<std::string>{};
    return config_error{"config file \"" + args.config_path + "\": does not exist"};
  }
  if (!fs::is_regular_file(status))
    return config_error{"config file \"" + args.config_path + "\": not a regular file"};
  std::ifstream in(args.config_path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad())
    return config_error{"config file \"" + args.config_path + "\": cannot be read (" +
                        std::strerror(errno) + ")"};
  return std::optional<std::string>{text.str()};
}

}  // namespace

env_lookup process_env() {
  return process_environment{};
}

std::variant<config, config_error> parse_config_text(const std::string& json_text,
                                                     const env_lookup& env) {
  try {
    auto doc = detail::parse_config_document(json_text);
    if (auto* message = std::get_if<std::string>(&doc)) return config_error{*message};
    config cfg;
    detail::error_list errors;
    detail::apply_document(std::get<json>(doc), cfg, env, errors);
    detail::apply_environment(cfg, env, errors);
    if (errors.empty()) detail::finish(cfg, errors);
    if (!errors.empty()) return config_error{detail::join_errors(errors)};
    return cfg;
  } catch (const std::exception& e) {
    // Only allocation failures get here; the contract is: never throw.
    return config_error{std::string("configuration: ") + e.what()};
  }
}

std::variant<startup_options, config_error> load_startup_options(
    const std::vector<std::string>& args, const env_lookup& env) {
  try {
    auto parsed = parse_args(args);
    if (auto* e = std::get_if<config_error>(&parsed)) return *e;
    const parsed_args& a = std::get<parsed_args>(parsed);

    startup_options out;
    if (a.help || a.version) {
      out.help = a.help;
      out.version = a.version;
      return out;
    }

    auto file = read_config_file(a);
    if (auto* e = std::get_if<config_error>(&file)) return *e;
    const auto& text = std::get<std::optional<std::string>>(file);

    json doc = json::object();
    if (text) {
      auto parsed_doc = detail::parse_config_document(*text);
      if (auto* message = std::get_if<std::string>(&parsed_doc))
        return config_error{"config file \"" + a.config_path + "\": " + *message};
      doc = std::move(std::get<json>(parsed_doc));
      out.config_path = a.config_path;
    }

    detail::error_list errors;
    if (env.target<process_environment>())
      detail::check_unknown_env_names(process_env_names(), errors);
    detail::error_list file_errors;
    detail::apply_document(doc, out.cfg, env, file_errors);
    for (auto& e : file_errors) errors.push_back(a.config_path + ": " + e);
    detail::apply_environment(out.cfg, env, errors);
    if (a.listen) detail::apply_flag("--listen", "server.listen", *a.listen, out.cfg, env, errors);
    if (a.upstream)
      detail::apply_flag("--upstream", "upstream.base_url", *a.upstream, out.cfg, env, errors);
    if (errors.empty()) detail::finish(out.cfg, errors);

    // Checked here, not in parse_config_text, because it touches the disk.
    const std::string& ca_file = out.cfg.upstream.tls_ca_file;
    std::error_code ec;
    if (!ca_file.empty() && !std::filesystem::is_regular_file(ca_file, ec))
      errors.push_back("upstream.tls.ca_file: \"" + ca_file + "\" is not a readable file");

    if (!errors.empty()) return config_error{detail::join_errors(errors)};
    return out;
  } catch (const std::exception& e) {
    return config_error{std::string("configuration: ") + e.what()};
  }
}

std::string usage_text() {
  std::string text =
      "Usage: jobrelay [options]\n"
      "\n"
      "An asynchronous job-status gateway: POST /analyze, then poll GET /results/{id}.\n"
      "\n"
      "Options:\n"
      "  --config PATH     JSON configuration file (default: config/jobrelay.json;\n"
      "                    a missing default file means all defaults)\n"
      "  --listen ADDR     server.listen, e.g. 0.0.0.0:8080 or [::]:8080\n"
      "  --upstream URL    upstream.base_url, e.g. http://127.0.0.1:9000\n"
      "  --version         print the version and exit\n"
      "  -h, --help        show this text\n"
      "\n"
      "Precedence: defaults < file < environment < options.\n"
      "Every key can be set by an environment variable: JOBRELAY_ and the key path\n"
      "upper-cased with __ between levels. Lists take a JSON array or a comma-separated\n"
      "list, upstream.headers a JSON object, booleans true/false/1/0.\n"
      "Unknown keys and unknown JOBRELAY_* variables stop start-up.\n"
      "See config/README.md for what each key means and its default.\n"
      "\n"
      "Keys and their environment variables:\n";
  for (const auto& key : detail::known_keys()) {
    std::string line = "  " + key.path;
    line.resize(std::max<std::size_t>(line.size() + 1, 42), ' ');
    text += line + detail::env_name(key.path) + "\n";
  }
  return text;
}

}  // namespace jobrelay
