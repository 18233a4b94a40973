#include "redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace jobrelay::testing {

redis::client_options quick_redis_options() {
  redis::client_options options;
  options.connections = 2;
  options.connect_timeout = std::chrono::seconds(2);
  options.command_timeout = std::chrono::seconds(2);
  options.reconnect_min = std::chrono::milliseconds(20);
  options.reconnect_max = std::chrono::milliseconds(200);
  options.ping_interval = std::chrono::milliseconds(200);
  return options;
}

namespace {

// A port nobody listens on right now. The kernel may hand it to someone else
// before redis-server binds it; on a test machine that is rare enough.
std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

bool redis_server::available() {
  return ::access(program, X_OK) == 0;
}

std::string redis_server::missing_reason() {
  return std::string(program) +
         " is not installed (Debian package redis-server; scripts/install-deps.sh --test)";
}

redis_server::redis_server(redis_server_options options) : options_(std::move(options)) {
  port_ = free_loopback_port();
  launch();
}

redis_server::~redis_server() {
  // A stopped process is killed all the same, by child_process' SIGKILL.
  process_.reset();
}

std::string redis_server::url() const {
  return std::string(tls() ? "rediss" : "redis") + "://127.0.0.1:" + std::to_string(port_);
}

void redis_server::launch() {
  const std::string port = std::to_string(port_);
  std::vector<std::string> argv = {
      program, "--bind", "127.0.0.1", "--save",    "", "--appendonly", "no", "--daemonize",
      "no",    "--dir",  "/tmp",      "--logfile", "", "--databases",  "16"};
  if (tls()) {
    argv.insert(argv.end(),
                {"--port", "0", "--tls-port", port, "--tls-cert-file", options_.tls_cert_file,
                 "--tls-key-file", options_.tls_key_file, "--tls-ca-cert-file",
                 options_.tls_ca_file, "--tls-auth-clients", "no"});
  } else {
    argv.insert(argv.end(), {"--port", port});
  }
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  process_ = std::make_unique<child_process>(std::move(argv),
                                             std::vector<std::pair<std::string, std::string>>{});
  paused_ = false;
  if (!process_->wait_for_output("Ready to accept connections", std::chrono::seconds(10))) {
    const std::string output = process_->output();
    process_.reset();
    throw std::runtime_error("redis-server did not start on port " + port + ":\n" + output);
  }
}

void redis_server::stop() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
  process_.reset();
  paused_ = false;
}

void redis_server::restart() {
  stop();
  launch();
}

void redis_server::pause() {
  if (!process_ || paused_) return;
  process_->signal(SIGSTOP);
  paused_ = true;
}

void redis_server::resume() {
  if (!process_ || !paused_) return;
  process_->signal(SIGCONT);
  paused_ = false;
}

std::string redis_server::output() const {
  return process_ ? process_->output() : std::string();
}

}  // namespace jobrelay::testing
