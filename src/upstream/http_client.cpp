#include "jobrelay/upstream/http_client.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <mutex>
#include <optional>

#include "call_lease.hpp"
#include "connection.hpp"
#include "connection_pool.hpp"
#include "jobrelay/upstream/target.hpp"
#include "request_builder.hpp"

namespace jobrelay::upstream {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using namespace detail;

namespace {

// Servers commonly drop idle keep-alive connections after 60 s or more;
// staying well below that keeps most reuses from hitting a dead socket.
constexpr std::chrono::seconds max_idle{30};
// A connection handed back less than this ago is reused without first asking
// the kernel whether the peer closed it (a recv peek, one syscall per call
// under load). Peers close idle keep-alive connections after seconds (nginx
// 75, Node 5, load balancers 60); one that went sooner fails before any
// answer, which the stale-connection retry below covers.
constexpr std::chrono::seconds peek_after_idle{1};
constexpr std::uint32_t max_header_bytes = 65536;

std::optional<ssl::context> make_tls_context(const client_options& options) {
  boost::system::error_code ec;
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1,
                      ec);
  if (options.tls_verify) {
    context.set_verify_mode(ssl::verify_peer, ec);
    if (!options.tls_ca_file.empty()) {
      context.load_verify_file(options.tls_ca_file, ec);
    } else {
      context.set_default_verify_paths(ec);
    }
    if (ec) {
      // Reported once here; every https call then fails as upstream_tls_failed.
      spdlog::error("upstream TLS trust store unusable ({}): {}",
                    options.tls_ca_file.empty() ? "system store" : options.tls_ca_file,
                    ec.message());
      return std::nullopt;
    }
  } else {
    context.set_verify_mode(ssl::verify_none, ec);
  }
  return context;
}

}  // namespace

namespace detail {

// What a call needs once it has a slot, worked out before it waits for one.
struct prepared_call {
  target where;
  steady_time deadline;
  std::string wire;
  read_limits limits;
  bool head_request = false;
};

}  // namespace detail

struct http_client::impl {
  impl(asio::any_io_executor ex, client_options opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        pool(std::make_shared<connection_pool>(options.max_connections, max_idle)) {
    if (options.tls_at_start) tls_context();
  }

  // Null when the trust store failed to load (logged once).
  ssl::context* tls_context() {
    std::call_once(tls_made, [this] { tls = make_tls_context(options); });
    return tls ? &*tls : nullptr;
  }

  asio::any_io_executor executor;
  const client_options options;
  std::once_flag tls_made;
  std::optional<ssl::context> tls;
  std::shared_ptr<connection_pool> pool;

  // Exchanges in flight, so that shutdown() can end them at once instead of
  // waiting out a hanging upstream: each connection is closed on its call's
  // own executor, where its socket's operations run (closing it from another
  // thread would race them; a cancellation signal can outlive the operation).
  struct in_flight {
    std::weak_ptr<connection> conn;
    asio::any_io_executor call_executor;
  };
  std::mutex calls_mutex;
  // Open addressing: registering a call allocates nothing (a node per call
  // with std::unordered_map, three calls per job).
  boost::unordered_flat_map<std::uint64_t, in_flight> calls;
  std::uint64_t next_call = 0;
  std::atomic<bool> aborting{false};

  static void close_on(const in_flight& call) {
    asio::post(call.call_executor, [weak = call.conn] {
      if (auto conn = weak.lock()) conn->close();
    });
  }
  void abort_calls() {
    std::lock_guard lock(calls_mutex);
    aborting = true;
    for (const auto& [id, call] : calls) close_on(call);
  }

  static asio::awaitable<result<http_reply>> run(std::shared_ptr<impl> self, http_call call);
  static asio::awaitable<result<http_reply>> run_unguarded(std::shared_ptr<impl> self,
                                                           http_call call);
  result<detail::prepared_call> prepare(const http_call& call) const;
  static bool keep_if_alive(detail::call_lease& lease);
  static asio::awaitable<boost::system::error_code> connect(std::shared_ptr<impl> self,
                                                            detail::call_lease& lease,
                                                            const detail::prepared_call& call);
  static bool worth_another_try(const detail::exchange_result& outcome, bool reused,
                                const detail::target& where);
};

asio::awaitable<result<http_reply>> http_client::impl::run(std::shared_ptr<impl> self,
                                                           http_call call) {
  boost::system::error_code failure = errc::upstream_closed;
  try {
    co_return co_await run_unguarded(std::move(self), std::move(call));
  } catch (const boost::system::system_error& e) {
    // Asio throws operation_aborted at the next co_await of a call its caller
    // cancelled; that is an answer, not an accident.
    failure = e.code();
  } catch (const std::exception& e) {
    // Only resource exhaustion gets here; the call is over either way.
    spdlog::error("upstream call failed unexpectedly: {}", e.what());
  }
  co_return failure;
}

namespace {

// Registers one exchange with the client for its duration.
class registered_call {
 public:
  registered_call(http_client::impl& client, const std::shared_ptr<connection>& conn,
                  asio::any_io_executor call_executor)
      : client_(client) {
    std::lock_guard lock(client_.calls_mutex);
    id_ = ++client_.next_call;
    auto& call = client_.calls[id_] = {conn, std::move(call_executor)};
    if (client_.aborting) http_client::impl::close_on(call);
  }
  ~registered_call() {
    std::lock_guard lock(client_.calls_mutex);
    client_.calls.erase(id_);
  }
  registered_call(const registered_call&) = delete;
  registered_call& operator=(const registered_call&) = delete;

 private:
  http_client::impl& client_;
  std::uint64_t id_ = 0;
};

// The caller gave up on the call (e.g. its own timeout won a race against it).
asio::awaitable<bool> cancelled_by_caller() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

}  // namespace

result<prepared_call> http_client::impl::prepare(const http_call& call) const {
  auto where = parse_target(call.url);
  if (!where) return where.error();
  prepared_call out;
  out.deadline =
      std::min(std::chrono::steady_clock::now() + options.request_timeout, call.not_after);
  out.wire = request_bytes(call, *where);
  out.limits = {options.max_response_bytes, max_header_bytes};
  out.head_request = call.method == "HEAD";
  out.where = std::move(*where);
  return out;
}

// The coroutines here keep to what must live across a suspension: Asio
// recycles coroutine frames only up to 1,020 bytes, and a frame holds every
// local and every temporary of an awaited expression. Connecting (rare on a
// pooled origin) has a coroutine of its own.
asio::awaitable<result<http_reply>> http_client::impl::run_unguarded(std::shared_ptr<impl> self,
                                                                     http_call call) {
  auto prepared = self->prepare(call);
  if (!prepared) co_return prepared.error();
  auto granted = co_await self->pool->acquire(prepared->where.where, prepared->deadline);
  if (!granted) co_return granted.error();
  call_lease lease(self->pool, std::move(granted->reused));
  bool reused = keep_if_alive(lease);
  const auto executor = co_await asio::this_coro::executor;
  for (;;) {
    if (!lease.conn()) {
      const boost::system::error_code failed = co_await connect(self, lease, *prepared);
      if (failed) co_return failed;
    }
    exchange_result outcome;
    {
      registered_call registered(*self, lease.conn(), executor);
      outcome = co_await lease.conn()->exchange(prepared->wire, prepared->deadline,
                                                prepared->limits, prepared->head_request);
    }
    if (outcome.reply) {
      lease.finish(outcome.reusable);
      co_return std::move(outcome.reply);
    }
    lease.drop_connection();
    if (co_await cancelled_by_caller()) co_return make_error_code(asio::error::operation_aborted);
    // Ended by shutdown(): not a stale connection, and nothing is sent again.
    if (self->aborting) co_return make_error_code(errc::shutting_down);
    if (!worth_another_try(outcome, reused, prepared->where)) co_return outcome.reply.error();
    reused = false;
  }
}

// A pooled connection idle for a while is asked first whether the peer
// closed it; if so it is dropped and the call opens a fresh one. True when
// the call goes out on a reused connection.
bool http_client::impl::keep_if_alive(call_lease& lease) {
  if (!lease.conn()) return false;
  if (std::chrono::steady_clock::now() - lease.conn()->idle_since() >= peek_after_idle &&
      !lease.conn()->looks_alive()) {
    lease.drop_connection();
    return false;
  }
  return true;
}

asio::awaitable<boost::system::error_code> http_client::impl::connect(std::shared_ptr<impl> self,
                                                                      call_lease& lease,
                                                                      const prepared_call& call) {
  const connect_settings settings{self->executor, self->options.connect_timeout,
                                  call.where.where.tls ? self->tls_context() : nullptr,
                                  self->options.tls_verify};
  auto opened = co_await open_connection(call.where.where, call.deadline, settings);
  if (!opened) {
    if (co_await cancelled_by_caller()) co_return make_error_code(asio::error::operation_aborted);
    co_return opened.error();
  }
  lease.attach(std::move(*opened));
  co_return boost::system::error_code{};
}

bool http_client::impl::worth_another_try(const exchange_result& outcome, bool reused,
                                          const target& where) {
  // A kept-alive connection the server had already given up on fails before
  // any answer. Like browsers and curl we take "nothing came back" to mean
  // that, and go once more on a fresh connection, POST included: a server
  // that read the request and then hung up unanswered may see it twice.
  if (reused && outcome.nothing_received && outcome.reply.error() != errc::upstream_timeout) {
    spdlog::debug("upstream {}: stale pooled connection ({}), retrying on a fresh one",
                  where.host_header, outcome.reply.error().message());
    return true;
  }
  return false;
}

http_client::http_client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {}

http_client::~http_client() {
  impl_->pool->shutdown();
}

asio::awaitable<result<http_reply>> http_client::send(http_call call) {
  // The call runs in the caller's coroutine, so its deadline handlers share
  // the caller's strand. Not co_spawn onto a strand of its own: in Boost 1.81
  // the cancellation co_spawn forwards can fire after the spawned call has
  // finished and its state is freed (a heap-use-after-free ASan found when a
  // job's deadline canceled a poll in flight). Not a coroutine itself: run's
  // is returned, one frame less per call.
  return impl::run(impl_, std::move(call));
}

void http_client::shutdown() {
  impl_->pool->shutdown();
  impl_->abort_calls();
}

std::size_t http_client::open_connections() const {
  return impl_->pool->open_connections();
}

std::string http_reply::header(std::string_view name) const {
  const std::string_view fields(fields_);
  for (std::size_t at = 0; at < fields.size();) {
    const std::size_t colon = fields.find(':', at);
    const std::size_t end = fields.find('\n', colon);
    if (colon == std::string_view::npos || end == std::string_view::npos) break;
    if (boost::beast::iequals(fields.substr(at, colon - at), name))
      return std::string(fields.substr(colon + 1, end - colon - 1));
    at = end + 1;
  }
  return {};
}

void http_reply::add_header(std::string_view name, std::string_view value) {
  if (fields_.empty()) fields_.reserve(256);
  fields_ += name;
  fields_ += ':';
  fields_ += value;
  fields_ += '\n';
}

}  // namespace jobrelay::upstream
