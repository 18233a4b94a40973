// jobrelay: parse the configuration, start the service, wait for a signal.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "jobrelay/app/application.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/log.hpp"
#include "jobrelay/version.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto loaded = jobrelay::load_startup_options(args, jobrelay::process_env());
  if (auto* err = std::get_if<jobrelay::config_error>(&loaded)) {
    // Some messages name --help already.
    const bool names_help = err->message.find("--help") != std::string::npos;
    std::fprintf(stderr, "jobrelay: %s%s\n", err->message.c_str(),
                 names_help ? "" : " (see --help)");
    return 2;
  }
  auto& opts = std::get<jobrelay::startup_options>(loaded);
  if (opts.help) {
    std::fputs(jobrelay::usage_text().c_str(), stdout);
    return 0;
  }
  if (opts.version) {
    std::printf("jobrelay %s\n", std::string(jobrelay::version).c_str());
    return 0;
  }
  try {
    jobrelay::log::configure(opts.cfg.log.level, opts.cfg.log.format);
    if (!opts.config_path.empty()) spdlog::info("configuration from {}", opts.config_path);
    jobrelay::app::application app(std::move(opts.cfg));
    app.handle_signals();
    app.start();
    const bool clean = app.wait();
    spdlog::info("stopped");
    if (!clean) {
      // Coroutines still hold pointers into the application: skip its
      // destructor rather than run it under them.
      spdlog::shutdown();
      std::_Exit(0);
    }
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
