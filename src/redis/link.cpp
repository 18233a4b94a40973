#include "link.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "jobrelay/redis/resp.hpp"

namespace jobrelay::redis::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "Redis closed the connection";
  }
  return ec.message();
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Ends an open() that outlives connect_timeout by closing the link, which
// every step (resolve, connect, handshake, read) honours alike.
struct open_deadline {
  bool done = false;
  bool fired = false;
};

}  // namespace

namespace {

// A TLS client context as options ask; null (and `why`) when unusable.
std::shared_ptr<ssl::context> make_tls_context(const client_options& options, std::string& why) {
  boost::system::error_code ec;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  if (!options.tls_verify) {
    context->set_verify_mode(ssl::verify_none, ec);
    return context;
  }
  context->set_verify_mode(ssl::verify_peer, ec);
  if (options.tls_ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(options.tls_ca_file, ec);
  }
  if (ec) {
    why = "TLS trust store unusable (" +
          (options.tls_ca_file.empty() ? std::string("system store") : options.tls_ca_file) +
          "): " + ec.message();
    return nullptr;
  }
  return context;
}

}  // namespace

std::shared_ptr<const link_settings> make_link_settings(endpoint where, client_options options,
                                                        std::string_view what) {
  auto settings = std::make_shared<link_settings>();
  settings->name = std::string(what) + " " + where.host + ":" + where.port;
  if (where.tls) {
    settings->tls = make_tls_context(options, settings->tls_problem);
    if (!settings->tls) spdlog::error("{}: {}", settings->name, settings->tls_problem);
  }
  settings->where = std::move(where);
  settings->options = std::move(options);
  return settings;
}

link::link(const asio::any_io_executor& strand, std::shared_ptr<const link_settings> settings)
    : strand_(strand),
      settings_(std::move(settings)),
      resolver_(strand),
      reader_(settings_->options.max_reply_bytes) {
  if (settings_->where.tls && settings_->tls) {
    tls_.emplace(strand, *settings_->tls);
  } else {
    plain_.emplace(strand);
  }
}

tcp::socket& link::socket() {
  if (tls_) return tls_->next_layer();
  return *plain_;
}

void link::close() noexcept {
  closed_ = true;
  resolver_.cancel();
  boost::system::error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

asio::awaitable<bool> link::open(std::string& why, const std::vector<command>& then) {
  if (closed_) {
    why = "closed";
    co_return false;
  }
  auto deadline = std::make_shared<open_deadline>();
  asio::steady_timer timer(strand_, settings_->options.connect_timeout);
  timer.async_wait([self = shared_from_this(), deadline](const boost::system::error_code& ec) {
    // A handler already queued when open() finished must not close the link.
    if (ec || deadline->done) return;
    deadline->fired = true;
    self->close();
  });

  bool ok = co_await connect(why);
  if (ok) ok = co_await greet(why, then);
  deadline->done = true;
  timer.cancel();
  if (deadline->fired) {
    why = "no answer within connect_timeout (" +
          std::to_string(settings_->options.connect_timeout.count()) + " ms)";
    co_return false;
  }
  co_return ok;
}

asio::awaitable<bool> link::connect(std::string& why) {
  const endpoint& where = settings_->where;
  if (where.tls && !settings_->tls) {
    why = settings_->tls_problem;
    co_return false;
  }
  auto [resolve_ec, endpoints] =
      co_await resolver_.async_resolve(where.host, where.port, use_tuple);
  if (resolve_ec) {
    why = "cannot resolve " + where.host + ": " + resolve_ec.message();
    co_return false;
  }
  // async_connect opens the socket anew: a close() that came during the
  // resolve would be undone.
  if (closed_) {
    why = "closed";
    co_return false;
  }
  auto [connect_ec, peer] = co_await asio::async_connect(socket(), endpoints, use_tuple);
  if (connect_ec) {
    why = "connect: " + describe(connect_ec);
    co_return false;
  }
  boost::system::error_code ignored;
  socket().set_option(tcp::no_delay(true), ignored);
  if (!tls_) co_return true;

  // SNI carries names only; RFC 6066 forbids literal addresses there.
  if (!is_ip_literal(where.host) &&
      SSL_set_tlsext_host_name(tls_->native_handle(), where.host.c_str()) != 1) {
    why = "TLS: cannot set the server name";
    co_return false;
  }
  if (settings_->options.tls_verify) {
    tls_->set_verify_mode(ssl::verify_peer);
    tls_->set_verify_callback(ssl::host_name_verification(where.host));
  }
  auto [handshake_ec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
  if (handshake_ec) {
    why = "TLS handshake failed: " + handshake_ec.message();
    co_return false;
  }
  co_return true;
}

namespace {

// The greeting's commands, each with a label for the log. Built outside the
// coroutine: GCC 12 mishandles braced lists of temporaries in coroutines.
struct greeting {
  std::vector<command> commands;
  std::vector<std::string> labels;
};

greeting greeting_for(const endpoint& where, const std::vector<command>& then) {
  greeting out;
  if (!where.password.empty()) {
    command auth{"AUTH"};
    if (!where.user.empty()) auth.push_back(where.user);
    auth.push_back(where.password);
    out.commands.push_back(std::move(auth));
    out.labels.push_back("AUTH");
  }
  if (where.db != 0) {
    out.commands.push_back({"SELECT", std::to_string(where.db)});
    out.labels.push_back("SELECT " + std::to_string(where.db));
  }
  // Connecting proves little (a stopped server's kernel still accepts); an
  // answer proves the server works.
  out.commands.push_back({"PING"});
  out.labels.push_back("PING");
  for (const auto& cmd : then) {
    out.commands.push_back(cmd);
    out.labels.push_back(cmd.empty() ? std::string() : cmd.front());
  }
  return out;
}

}  // namespace

asio::awaitable<bool> link::greet(std::string& why, const std::vector<command>& then) {
  const greeting hello = greeting_for(settings_->where, then);
  const bool sent = co_await send(encode_commands(hello.commands), why);
  if (!sent) co_return false;
  for (const auto& label : hello.labels) {
    std::optional<reply> answer = reader_.next();
    while (!answer) {
      if (reader_.failed()) {
        why = reader_.why();
        co_return false;
      }
      const bool got = co_await receive(why);
      if (!got) co_return false;
      answer = reader_.next();
    }
    if (answer->is_error()) {
      why = label + " refused: " + answer->str;
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> link::send(const std::string& bytes, std::string& why) {
  boost::system::error_code ec;
  if (tls_) {
    auto [write_ec, written] = co_await asio::async_write(*tls_, asio::buffer(bytes), use_tuple);
    ec = write_ec;
  } else {
    auto [write_ec, written] = co_await asio::async_write(*plain_, asio::buffer(bytes), use_tuple);
    ec = write_ec;
  }
  if (ec) {
    why = describe(ec);
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> link::receive(std::string& why) {
  boost::system::error_code ec;
  std::size_t size = 0;
  if (tls_) {
    auto [read_ec, n] = co_await tls_->async_read_some(asio::buffer(buffer_), use_tuple);
    ec = read_ec;
    size = n;
  } else {
    auto [read_ec, n] = co_await plain_->async_read_some(asio::buffer(buffer_), use_tuple);
    ec = read_ec;
    size = n;
  }
  if (ec) {
    why = describe(ec);
    co_return false;
  }
  if (!reader_.feed(buffer_.data(), size)) {
    why = reader_.why();
    co_return false;
  }
  co_return true;
}

}  // namespace jobrelay::redis::detail
