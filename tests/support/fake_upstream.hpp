// The job-level view of scripted_upstream for protocol tests: answers built
// as "this status, this body", request counts by method and path. All the
// socket work is scripted_upstream's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scripted_upstream.hpp"

namespace jobrelay::testing {

struct tls_material;
using fake_request = recorded_request;

struct fake_action {
  enum class kind { respond, hang, close, garbage, partial } what = kind::respond;
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static fake_action json(unsigned status, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    return {kind::respond, status, std::move(headers), std::move(body)};
  }
  static fake_action hang() { return {kind::hang}; }
  static fake_action close() { return {kind::close}; }
  static fake_action garbage() { return {kind::garbage}; }
  // A head promising 1000 bytes, then 10 of them, then nothing more.
  static fake_action partial() { return {kind::partial}; }

  upstream_action to_action() const;
};

class fake_upstream {
 public:
  using handler = std::function<fake_action(const fake_request&)>;

  explicit fake_upstream(handler h, const tls_material* tls = nullptr);

  unsigned short port() const { return server_->port(); }
  std::string base_url() const { return server_->base_url(); }
  void set_handler(handler h);

  std::vector<fake_request> requests() const { return server_->requests(); }
  // Requests whose method matches and whose target starts with the prefix.
  std::size_t count(std::string_view method, std::string_view target_prefix = "") const;
  std::size_t connections() const { return server_->accepted_connections(); }

 private:
  static upstream_handler adapt(handler h);
  std::unique_ptr<scripted_upstream> server_;
};

}  // namespace jobrelay::testing
