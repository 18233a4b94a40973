#include "jobrelay/http/router.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "jobrelay/http/problem.hpp"

namespace jobrelay::http {
namespace {

// Calls each(segment) for the segments of a path ("/a/b" -> "a", "b"; "/" ->
// ""), stopping early when each returns false. No allocation: it runs on
// every request.
template <typename Each>
void for_each_segment(std::string_view path, Each&& each) {
  std::size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    const auto end = path.find('/', start);
    if (!each(path.substr(start, end == std::string_view::npos ? path.npos : end - start))) return;
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

// A path longer than every pattern matches nothing, so matching a request
// needs only this many slots.
constexpr std::size_t max_segments = 8;

bool is_placeholder(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

void router::add(verb method, std::string pattern, handler h) {
  route r{method, pattern, {}, std::move(h)};
  for_each_segment(pattern, [&](std::string_view seg) {
    r.segments.emplace_back(seg);
    return true;
  });
  if (r.segments.size() > max_segments)
    throw std::invalid_argument("route pattern has more than 8 segments: " + r.pattern);
  routes_.push_back(std::move(r));
}

const router::route* router::match(std::string_view path, verb method, std::string_view& param,
                                   std::string& allow) const {
  std::array<std::string_view, max_segments + 1> segments;
  std::size_t count = 0;
  for_each_segment(path, [&](std::string_view seg) {
    segments[count++] = seg;
    return count < segments.size();
  });
  if (count > max_segments) return nullptr;
  const auto path_matches = [&](const route& r, std::string_view& candidate) {
    if (r.segments.size() != count) return false;
    for (std::size_t i = 0; i < count; ++i) {
      if (is_placeholder(r.segments[i])) {
        if (segments[i].empty()) return false;
        candidate = segments[i];
      } else if (r.segments[i] != segments[i]) {
        return false;
      }
    }
    return true;
  };
  for (const auto& r : routes_) {
    std::string_view candidate;
    if (r.method == method && path_matches(r, candidate)) {
      param = candidate;
      return &r;
    }
  }
  // RFC 9110 9.3.2: HEAD is GET without the body (the server drops it), so
  // load balancers' HEAD checks and clients' HEAD probes work wherever GET does.
  if (method == verb::head) {
    for (const auto& r : routes_) {
      std::string_view candidate;
      if (r.method == verb::get && path_matches(r, candidate)) {
        param = candidate;
        return &r;
      }
    }
  }
  // No route for this method: the Allow list of a 405 (empty: a 404). Only
  // now, so a matched request builds no string.
  for (const auto& r : routes_) {
    std::string_view ignored;
    if (!path_matches(r, ignored)) continue;
    const auto name = to_string(r.method);
    if (allow.find(name) == std::string::npos) {
      if (!allow.empty()) allow += ", ";
      allow.append(name.data(), name.size());
      if (r.method == verb::get) allow += ", HEAD";
    }
  }
  return nullptr;
}

boost::asio::awaitable<response> answer_now(response res) {
  co_return res;
}

// Not a coroutine: a matched route's own coroutine is returned, not awaited
// here (one frame less per request).
boost::asio::awaitable<response> router::dispatch(request_context& ctx) const {
  std::string allow;
  std::string_view param;
  const route* r = match(ctx.path, ctx.req.method(), param, allow);
  if (!r) {
    if (allow.empty())
      return answer_now(problem_response(status::not_found, "not-found", "Not Found",
                                         "no resource at this path"));
    auto res = problem_response(status::method_not_allowed, "method-not-allowed",
                                "Method Not Allowed", "this resource allows " + allow);
    res.set(field::allow, allow);
    return answer_now(std::move(res));
  }
  ctx.param = param;
  ctx.route = r->pattern;
  return r->h(ctx);
}

std::vector<std::string> router::patterns() const {
  std::vector<std::string> out;
  for (const auto& r : routes_)
    if (std::find(out.begin(), out.end(), r.pattern) == out.end()) out.push_back(r.pattern);
  return out;
}

}  // namespace jobrelay::http
