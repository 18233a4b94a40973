#include "service_fixture.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "jobrelay/app/application.hpp"
#include "jobrelay/http/router.hpp"
#include "jobrelay/http/server.hpp"

namespace jobrelay::testing {

config test_config(const std::string& upstream_base_url) {
  config cfg;
  cfg.server.listen = "127.0.0.1:0";
  cfg.server.threads = 2;
  cfg.server.drain_seconds = 2;
  cfg.upstream.base_url = upstream_base_url;
  cfg.upstream.request_timeout_ms = 2000;
  cfg.upstream.connect_timeout_ms = 1000;
  cfg.upstream.max_retries = 2;
  cfg.polling.upstream_initial_ms = 20;
  cfg.polling.upstream_backoff = 1.5;
  cfg.polling.upstream_max_ms = 100;
  cfg.rate_limit.submit = {0, 0};
  cfg.rate_limit.poll = {0, 0};
  cfg.log.level = "warn";
  return cfg;
}

running_service::running_service(config cfg) : cfg_(std::move(cfg)) {
  spdlog::set_level(spdlog::level::from_str(cfg_.log.level));
  app_ = std::make_unique<app::application>(cfg_);
  app_->start();
  port_ = app_->local_port();
}

running_service::~running_service() { stop_and_wait(); }

void running_service::stop_and_wait() {
  if (!app_) return;
  app_->stop();
  app_->wait();
  app_.reset();
}

reply running_service::wait_for(const std::string& id,
                                const std::function<bool(const reply&)>& done,
                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  reply last;
  for (;;) {
    last = http_get(port_, "/results/" + id);
    if (done(last) || std::chrono::steady_clock::now() > deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

reply running_service::wait_until_terminal(const std::string& id,
                                           std::chrono::milliseconds timeout) {
  return wait_for(id, [](const reply& r) { return r.status != 202; }, timeout);
}

struct running_mock::impl {
  explicit impl(mock::mock_options o)
      : mock(o, real_clock()), server(ioc, {"127.0.0.1:0"}, (mock.add_routes(routes), routes.as_handler())) {
    if (!server.listen()) throw std::runtime_error("mock cannot listen");
    server.start();
    thread = std::thread([this] { ioc.run(); });
  }
  ~impl() {
    ioc.stop();
    thread.join();
  }
  boost::asio::io_context ioc;
  mock::mock_analyzer mock;
  http::router routes;
  http::server server;
  std::thread thread;
};

running_mock::running_mock(mock::mock_options options) : impl_(std::make_unique<impl>(options)) {}
running_mock::~running_mock() = default;
unsigned short running_mock::port() const { return impl_->server.local_port(); }
std::string running_mock::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }
std::uint64_t running_mock::submits() const { return impl_->mock.submits(); }

}  // namespace jobrelay::testing
