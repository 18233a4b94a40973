// GET /results/{id}/events: Server-Sent Events (API.md). Unnamed events carry
// the job document (so EventSource.onmessage gets them), `id:` is the ETag
// without quotes, a comment keeps idle streams open, and the stream ends
// after the terminal event. Only the latest state is ever sent: a slow reader
// gets fewer events, never a growing queue, and one that stops reading is
// dropped at the write deadline.
#include <boost/asio/awaitable.hpp>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/job_access.hpp"
#include "jobrelay/api/job_response.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/jobs/change_feed.hpp"
#include "jobrelay/store/results_store.hpp"

namespace jobrelay::api {
namespace {

std::string event_id(const jobs::job_snapshot& job) {
  const auto& tag = job.etag();
  return tag.size() >= 2 ? tag.substr(1, tag.size() - 2) : tag;
}

boost::asio::awaitable<void> stream_job(service& s, std::string id, std::string last_sent,
                                        admission admitted, http::stream_sink& out) {
  gauge_hold held(s.event_streams);
  auto subscription = co_await s.feed.subscribe(id);
  const auto retry_ms = 1000 * std::max(2u, s.cfg.polling.client_min_retry_after_seconds);
  std::string frame = "retry: " + std::to_string(retry_ms) + "\n\n";
  for (;;) {
    auto job = co_await s.store.find(id);
    if (!job || !visible_to(**job, admitted)) {
      co_await out.write(frame);
      co_return;  // deleted or expired: nothing more will come
    }
    if (const auto eid = event_id(**job); eid != last_sent) {
      frame += "id: " + eid +
               "\ndata: " + (*job)->document(s.clk.wall_now(), std::nullopt, true, s.link_prefix) +
               "\n\n";
      last_sent = eid;
    }
    if (!frame.empty() && !co_await out.write(frame)) co_return;  // gone or too slow
    frame.clear();
    if ((*job)->terminal() || s.feed.closed()) co_return;
    const bool changed = co_await subscription.wait(std::chrono::steady_clock::now() + s.sse_keepalive);
    if (!changed) frame = ": keep-alive\n\n";
  }
}

boost::asio::awaitable<http::response> events(service& s, http::request_context& ctx) {
  auto admitted = co_await s.gate.admit(ctx, limit_class::poll, ctx.param);
  ctx.client = admitted.client_id;
  if (admitted.rejection) co_return std::move(*admitted.rejection);
  auto found = co_await find_visible_job(s, ctx.param, admitted);
  if (auto* problem = std::get_if<http::response>(&found)) {
    admitted.decorate(*problem);
    co_return std::move(*problem);
  }
  const auto& job = *std::get<jobs::snapshot_ptr>(found);
  const auto last_event = ctx.req["Last-Event-ID"];
  const std::string last_event_id(last_event.data(), last_event.size());
  if (job.terminal() && last_event_id == event_id(job)) {
    // The client saw the end already: 204 stops EventSource's reconnects for good.
    http::response done{http::status::no_content, 11};
    admitted.decorate(done);
    co_return done;
  }
  http::response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Accel-Buffering", "no");  // proxies must not hold events back
  admitted.decorate(res);
  ctx.stream = [&s, id = job.id(), last_event_id, admitted](http::stream_sink& out) {
    return stream_job(s, id, last_event_id, admitted, out);
  };
  co_return res;
}

}  // namespace

void add_events_routes(http::router& r, service& s) {
  r.add(http::verb::get, "/results/{id}/events",
        [&s](http::request_context& ctx) { return events(s, ctx); });
}

}  // namespace jobrelay::api
