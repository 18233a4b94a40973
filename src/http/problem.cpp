#include "jobrelay/http/problem.hpp"

#include <nlohmann/json.hpp>

namespace jobrelay::http {

response problem_response(status code, std::string_view type_slug, std::string_view title,
                          std::string_view detail) {
  nlohmann::json doc = {
      {"type", "urn:jobrelay:problem:" + std::string(type_slug)},
      {"title", std::string(title)},
      {"status", static_cast<unsigned>(code)},
      {"detail", std::string(detail)},
  };
  response res{code, 11};
  res.set(field::content_type, "application/problem+json");
  res.set(field::cache_control, "no-store");
  // Details may quote client input; never let invalid UTF-8 throw here.
  res.body() = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

response problem_with_retry(status code, std::string_view type_slug, std::string_view title,
                            std::string_view detail, unsigned retry_after_seconds) {
  auto res = problem_response(code, type_slug, title, detail);
  res.set(field::retry_after, std::to_string(retry_after_seconds < 1 ? 1 : retry_after_seconds));
  return res;
}

}  // namespace jobrelay::http
