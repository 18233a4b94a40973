// jobrelay-mock-analyzer: the bundled upstream for demos, smoke tests and
// benchmarks. Flags only; it is not configured like the service.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "jobrelay/http/router.hpp"
#include "jobrelay/http/server.hpp"
#include "jobrelay/mock/mock_analyzer.hpp"

namespace {

constexpr const char* usage =
    "usage: jobrelay-mock-analyzer [--listen HOST:PORT] [--duration-ms N] [--failure-rate F]\n"
    "                              [--threads N] [--seed N] [--static DIR]\n"
    "  --listen        address to serve (default 127.0.0.1:9000)\n"
    "  --duration-ms   time from submit to a final status (default 5000)\n"
    "  --failure-rate  share of operations that fail, 0..1 (default 0)\n"
    "  --threads       I/O threads (default 1)\n"
    "  --static        serve the .html/.js/.css files of DIR at GET /web/{file}\n"
    "                  (the browser demo: /web/demo.html)\n"
    "Speaks API.md's upstream protocol: POST /analyze -> 202 + Operation-Location,\n"
    "GET /operations/{id} -> status document with percentCompleted,\n"
    "DELETE /operations/{id} -> 204, GET /stats -> counters.\n";

bool parse_number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end && *end == '\0' && end != text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:9000";
  jobrelay::mock::mock_options options;
  unsigned threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "jobrelay-mock-analyzer: %s needs a value\n%s", flag.c_str(), usage);
      return 2;
    }
    const char* value = argv[++i];
    double number = 0;
    if (flag == "--listen") {
      listen = value;
    } else if (flag == "--duration-ms" && parse_number(value, number) && number >= 0) {
      options.duration = std::chrono::milliseconds(static_cast<long long>(number));
    } else if (flag == "--failure-rate" && parse_number(value, number) && number >= 0 && number <= 1) {
      options.failure_rate = number;
    } else if (flag == "--threads" && parse_number(value, number) && number >= 1) {
      threads = static_cast<unsigned>(number);
    } else if (flag == "--static") {
      std::error_code ec;
      if (!std::filesystem::is_directory(value, ec)) {
        std::fprintf(stderr, "jobrelay-mock-analyzer: --static: not a directory: %s\n", value);
        return 2;
      }
      options.static_dir = value;
    } else if (flag == "--seed" && parse_number(value, number) && number >= 0) {
      options.seed = static_cast<std::uint64_t>(number);
    } else {
      std::fprintf(stderr, "jobrelay-mock-analyzer: bad flag or value: %s %s\n%s", flag.c_str(),
                   value, usage);
      return 2;
    }
  }

  boost::asio::io_context ioc(static_cast<int>(threads));
  jobrelay::mock::mock_analyzer mock(options, jobrelay::real_clock());
  jobrelay::http::router routes;
  mock.add_routes(routes);
  jobrelay::http::server server(ioc, {listen}, routes.as_handler());
  if (auto r = server.listen(); !r) {
    std::fprintf(stderr, "jobrelay-mock-analyzer: cannot listen on %s: %s\n", listen.c_str(),
                 r.error().message().c_str());
    return 1;
  }
  server.start();
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { ioc.stop(); });
  spdlog::info("mock analyzer on {} (duration {} ms, failure rate {})", server.local_address(),
               options.duration.count(), options.failure_rate);
  if (!options.static_dir.empty())
    spdlog::info("serving {} at http://{}/web/", options.static_dir, server.local_address());
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  spdlog::info("mock analyzer stopped after {} submits", mock.submits());
  return 0;
}
