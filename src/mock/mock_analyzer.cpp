#include "jobrelay/mock/mock_analyzer.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <system_error>

#include "jobrelay/api/public_url.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/json_guard.hpp"

namespace jobrelay::mock {
namespace {

http::response json_answer(http::status code, std::string body) {
  http::response res{code, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

// Content types by extension; anything else is not served, so the route cannot
// become a way to read arbitrary files that happen to sit in the directory.
std::string_view static_content_type(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript";
  if (ends_with(".css")) return "text/css";
  return {};
}

// One path segment of plain characters, not starting with a dot: this rules
// out "..", hidden files and every percent-encoded trick at once (the router
// hands over the raw segment, undecoded).
bool plain_file_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

mock_analyzer::mock_analyzer(mock_options options, const clock& clock)
    : options_(options), clock_(clock), rng_(options.seed) {}

void mock_analyzer::add_routes(http::router& r) {
  using boost::asio::awaitable;
  r.add(http::verb::post, "/analyze", [this](http::request_context& ctx) -> awaitable<http::response> {
    co_return submit(ctx.req);
  });
  r.add(http::verb::get, "/operations/{id}", [this](http::request_context& ctx) -> awaitable<http::response> {
    co_return status(ctx.param);
  });
  r.add(http::verb::delete_, "/operations/{id}", [this](http::request_context& ctx) -> awaitable<http::response> {
    co_return cancel(ctx.param);
  });
  r.add(http::verb::get, "/stats", [this](http::request_context&) -> awaitable<http::response> {
    co_return stats();
  });
  if (!options_.static_dir.empty()) {
    r.add(http::verb::get, "/web/{file}", [this](http::request_context& ctx) -> awaitable<http::response> {
      co_return static_file(ctx.param);
    });
  }
}

http::response mock_analyzer::submit(const http::request& req) {
  auto body = parse_untrusted_json(req.body());
  if (!body || !body->is_object())
    return http::problem_response(http::status::bad_request, "invalid-body", "Bad Request",
                                  "the analysis request must be a JSON object");
  std::string id;
  {
    std::lock_guard lock(mutex_);
    id = std::to_string(next_id_++);
    const bool fails = std::uniform_real_distribution<double>(0, 1)(rng_) < options_.failure_rate;
    operations_.emplace(id, operation{clock_.now(), fails, false, req.body()});
  }
  ++submits_;
  const auto base = api::public_base_url(req, false, "");
  http::response res = json_answer(http::status::accepted, R"({"status":"notStarted"})");
  res.set("Operation-Location", (base ? *base : std::string()) + "/operations/" + id);
  return res;
}

http::response mock_analyzer::status(std::string_view id) {
  ++polls_;
  operation op;
  {
    std::lock_guard lock(mutex_);
    auto it = operations_.find(std::string(id));
    if (it == operations_.end()) {
      ++unknown_;
      return http::problem_response(http::status::not_found, "not-found", "Not Found",
                                    "unknown operation");
    }
    op = it->second;
  }
  const auto age = clock_.now() - op.started;
  const double fraction =
      options_.duration.count() == 0
          ? 1.0
          : std::chrono::duration<double>(age) / std::chrono::duration<double>(options_.duration);
  nlohmann::json doc;
  if (op.canceled) {
    doc = {{"status", "canceled"}};
  } else if (fraction < 1.0) {
    doc = {{"status", fraction < 0.05 ? "notStarted" : "running"},
           {"percentCompleted", static_cast<int>(fraction * 100)}};
  } else if (op.fails) {
    doc = {{"status", "failed"},
           {"percentCompleted", 100},
           {"error", {{"code", "AnalysisFailed"}, {"message", "mock analyzer failure"}}}};
  } else {
    auto input = nlohmann::json::parse(op.input, nullptr, false);
    doc = {{"status", "succeeded"},
           {"percentCompleted", 100},
           {"result",
            {{"summary", "mock analysis complete"},
             {"input_bytes", op.input.size()},
             {"input", input.is_discarded() ? nlohmann::json() : input}}}};
  }
  return json_answer(http::status::ok, doc.dump());
}

http::response mock_analyzer::cancel(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = operations_.find(std::string(id));
  if (it == operations_.end())
    return http::problem_response(http::status::not_found, "not-found", "Not Found",
                                  "unknown operation");
  it->second.canceled = true;
  ++cancels_;
  return http::response{http::status::no_content, 11};
}

http::response mock_analyzer::stats() const {
  nlohmann::json doc = {{"submits", submits_.load()},
                        {"polls", polls_.load()},
                        {"unknown", unknown_.load()},
                        {"cancels", cancels_.load()}};
  return json_answer(http::status::ok, doc.dump());
}

http::response mock_analyzer::static_file(std::string_view name) const {
  auto not_found = [] {
    return http::problem_response(http::status::not_found, "not-found", "Not Found",
                                  "no such file");
  };
  const auto type = static_content_type(name);
  if (!plain_file_name(name) || type.empty()) return not_found();
  const std::filesystem::path path = std::filesystem::path(options_.static_dir) / std::string(name);
  // symlink_status: a symlink is not a regular file, so links cannot point
  // the route outside the directory.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(path, ec))) return not_found();
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found();
  http::response res{http::status::ok, 11};
  res.set(http::field::content_type, type);
  // Read on every request, never cached: editing the demo needs only a reload.
  res.set(http::field::cache_control, "no-cache");
  res.body().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return res;
}

}  // namespace jobrelay::mock
