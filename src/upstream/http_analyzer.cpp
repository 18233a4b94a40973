#include "jobrelay/upstream/http_analyzer.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <nlohmann/json.hpp>

#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/json_guard.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/upstream/simple_url.hpp"
#include "jobrelay/url_authority.hpp"

namespace jobrelay::upstream {
namespace {

using outcome = attempt::outcome;

bool is_transient_status(unsigned s) { return s == 408 || s == 429 || (s >= 500 && s <= 599); }

bool is_transient_error(const boost::system::error_code& ec) {
  return ec == errc::upstream_connect_failed || ec == errc::upstream_timeout ||
         ec == errc::upstream_closed || ec == errc::upstream_resolve_failed ||
         ec == errc::upstream_tls_failed;
}

attempt from_transport_error(const boost::system::error_code& ec, std::string_view what) {
  attempt a;
  a.kind = is_transient_error(ec) ? outcome::transient : outcome::protocol;
  a.detail = std::string(what) + ": " + ec.message();
  return a;
}

attempt transient_status(const http_reply& reply, std::string_view what,
                         std::chrono::milliseconds cap) {
  attempt a;
  a.kind = outcome::transient;
  a.detail = std::string(what) + " answered " + std::to_string(reply.status);
  a.retry_after = jobs::parse_retry_after(reply.header("Retry-After"), cap);
  return a;
}

attempt protocol_error(std::string detail) {
  attempt a;
  a.kind = outcome::protocol;
  a.detail = std::move(detail);
  return a;
}

// {"status": <code>, "body": <JSON body, or its text when not JSON, cut at 4 KiB>}
std::string rejected_upstream_json(const http_reply& reply) {
  nlohmann::json j;
  j["status"] = reply.status;
  auto body = parse_untrusted_json(reply.body);
  if (body && reply.body.size() <= 4096) {
    j["body"] = std::move(*body);
  } else {
    j["body"] = reply.body.substr(0, 4096);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Host names compare case-insensitively.
detail::origin origin_for_headers(detail::origin o) {
  o.host = to_lower_ascii(std::move(o.host));
  return o;
}

bool is_redirect(unsigned s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

// Boost.URL's resolve rewrites a path it copies: dot segments go, and every
// %XX is upper-cased or decoded when the byte may stand in a path (even %2F,
// which becomes '/'). A path with neither is copied as written.
bool resolve_keeps_path(std::string_view path) {
  if (path.find('%') != std::string_view::npos) return false;
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos;) {
    const std::size_t next = path.find('/', slash + 1);
    const std::string_view segment = path.substr(slash + 1, next - slash - 1);
    if (segment == "." || segment == "..") return false;
    slash = next;
  }
  return true;
}

}  // namespace

std::optional<std::string> resolve_simple_operation_url(std::string_view base,
                                                        std::string_view reference) {
  // Boost.URL refuses to resolve against a base it cannot parse, so the base
  // must be one known to parse even when the reference replaces all of it.
  const auto simple_base = detail::split_simple_url(base);
  if (!simple_base) return std::nullopt;
  if (reference.starts_with('/') && !reference.starts_with("//")) {
    const auto relative = detail::split_simple_path_query(reference);
    if (!relative || !resolve_keeps_path(relative->path)) return std::nullopt;
    std::string out;
    out.reserve(simple_base->origin.size() + reference.size());
    out.append(simple_base->origin).append(reference);
    return out;
  }
  const auto absolute = detail::split_simple_url(reference);
  if (!absolute || !resolve_keeps_path(absolute->path)) return std::nullopt;
  return std::string(reference);
}

result<std::string> resolve_operation_url(std::string_view base, std::string_view reference) {
  if (auto simple = resolve_simple_operation_url(base, reference)) return std::move(*simple);
  return resolve_operation_url_generic(base, reference);
}

result<std::string> resolve_operation_url_generic(std::string_view base,
                                                  std::string_view reference) {
  if (reference.empty()) return errc::upstream_protocol;
  auto base_url = boost::urls::parse_uri(base);
  auto ref = boost::urls::parse_uri_reference(reference);
  if (!base_url || !ref) return errc::upstream_protocol;
  boost::urls::url out;
  if (auto r = boost::urls::resolve(*base_url, *ref, out); !r) return errc::upstream_protocol;
  const auto scheme = out.scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
    return errc::upstream_protocol;
  if (out.encoded_host().empty() || !authority_read_whole(out)) return errc::upstream_protocol;
  out.remove_fragment();
  return std::string(out.buffer());
}

http_analyzer::http_analyzer(http_client& client, http_analyzer_options options)
    : client_(client), options_(std::move(options)) {
  std::string base = options_.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  submit_url_ = base + options_.submit_path;
  if (auto t = detail::parse_target(submit_url_)) headers_origin_ = origin_for_headers(t->where);
}

http_call http_analyzer::make_call(std::string method, std::string url, std::string body,
                                   time_point not_after) const {
  http_call call;
  call.not_after = not_after;
  call.method = std::move(method);
  call.url = std::move(url);
  call.body = std::move(body);
  if (!options_.headers.empty() && headers_origin_) {
    // As curl drops credentials on a redirect to another host: the
    // configured headers go to the base URL's origin only.
    const auto to = detail::parse_target(call.url);
    if (to && origin_for_headers(to->where) == *headers_origin_)
      for (const auto& [name, value] : options_.headers) call.headers.emplace_back(name, value);
  }
  return call;
}

// The coroutines below only send and hand the reply to a plain function:
// everything a coroutine holds (locals, temporaries of awaited expressions)
// is in its frame, and Asio recycles frames only up to 1,020 bytes.
boost::asio::awaitable<attempt> http_analyzer::submit(std::string body, time_point not_after) {
  auto reply = co_await client_.send(make_call("POST", submit_url_, std::move(body), not_after));
  co_return read_submit_reply(reply);
}

attempt http_analyzer::read_submit_reply(result<http_reply>& reply) const {
  if (!reply) return from_transport_error(reply.error(), "submit");
  const unsigned status = reply->status;
  if (is_transient_status(status))
    return transient_status(*reply, "submit", options_.max_retry_after);

  if (status >= 400 && status <= 499) {
    attempt a;
    a.kind = outcome::rejected;
    a.detail = "the upstream rejected the request with " + std::to_string(status);
    a.upstream_json = rejected_upstream_json(*reply);
    return a;
  }

  std::string location = reply->header("Operation-Location");
  if (location.empty()) location = reply->header("Location");
  attempt a;
  a.retry_after = jobs::parse_retry_after(reply->header("Retry-After"), options_.max_retry_after);

  if (status == 200) {
    auto doc = parse_status_document(reply->body);
    if (!doc) return protocol_error("submit answered 200 without a valid status document");
    const bool terminal = doc->status == upstream_status::succeeded ||
                          doc->status == upstream_status::failed ||
                          doc->status == upstream_status::canceled;
    if (terminal || location.empty()) {
      if (!terminal)
        return protocol_error("submit answered 200 with a non-final status and no operation URL");
      a.kind = outcome::status;
      a.document = std::move(*doc);
      return a;
    }
  } else if (status != 201 && status != 202) {
    return protocol_error("submit answered " + std::to_string(status));
  }

  if (location.empty())
    return protocol_error("submit answered " + std::to_string(status) +
                          " without Operation-Location or Location");
  auto op = resolve_operation_url(submit_url_, location);
  if (!op) return protocol_error("operation URL is not an http(s) URL: " + location.substr(0, 200));
  a.kind = outcome::accepted;
  a.operation_url = std::move(*op);
  return a;
}

boost::asio::awaitable<attempt> http_analyzer::poll(std::string operation_url, time_point not_after) {
  std::string url = std::move(operation_url);
  for (unsigned hop = 0;; ++hop) {
    auto reply = co_await client_.send(make_call("GET", url, {}, not_after));
    std::optional<attempt> answer = read_poll_reply(reply, url, hop);
    if (answer) co_return std::move(*answer);
  }
}

std::optional<attempt> http_analyzer::read_poll_reply(result<http_reply>& reply, std::string& url,
                                                      unsigned hop) const {
  if (!reply) return from_transport_error(reply.error(), "poll");
  const unsigned status = reply->status;
  if (is_transient_status(status))
    return transient_status(*reply, "poll", options_.max_retry_after);

  if (is_redirect(status)) {
    if (hop >= options_.max_redirects) return protocol_error("poll redirected too many times");
    auto next = resolve_operation_url(url, reply->header("Location"));
    if (!next) return protocol_error("poll redirected to a non-http(s) URL");
    url = std::move(*next);
    return std::nullopt;  // asked again there
  }
  if (status != 200 && status != 201 && status != 202)
    return protocol_error("poll answered " + std::to_string(status));

  attempt a;
  a.retry_after = jobs::parse_retry_after(reply->header("Retry-After"), options_.max_retry_after);
  if (status == 202 && reply->body.empty()) {
    a.kind = outcome::no_news;
    return a;
  }
  auto doc = parse_owned_status_document(std::move(reply->body));
  if (!doc) return protocol_error("poll answer is not a valid status document");
  a.kind = outcome::status;
  a.document = std::move(*doc);
  return a;
}

boost::asio::awaitable<void> http_analyzer::cancel(std::string operation_url) {
  // Best effort: an upstream without DELETE simply keeps working.
  (void)co_await client_.send(make_call("DELETE", std::move(operation_url), {}));
}

}  // namespace jobrelay::upstream
