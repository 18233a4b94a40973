// A scriptable upstream for integration tests: listens on 127.0.0.1 (plain or
// TLS), records every request, and answers each one as the test's handler
// says: a response, or misbehaviour (hang, close, garbage, a body that stops
// short). Runs its own thread; stops cleanly in its destructor even with
// connections left hanging.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace jobrelay::testing {

struct tls_material;

struct fake_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;
};

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
  // Sends a head promising 1000 bytes, then 10 bytes, then nothing more.
  static fake_action partial() { return {kind::partial}; }
};

class fake_upstream {
 public:
  using handler = std::function<fake_action(const fake_request&)>;

  explicit fake_upstream(handler h, const tls_material* tls = nullptr);
  ~fake_upstream();
  fake_upstream(const fake_upstream&) = delete;
  fake_upstream& operator=(const fake_upstream&) = delete;

  unsigned short port() const;
  std::string base_url() const;  // http(s)://127.0.0.1:port
  void set_handler(handler h);

  std::vector<fake_request> requests() const;
  // Requests whose method matches and whose target starts with the prefix.
  std::size_t count(std::string_view method, std::string_view target_prefix = "") const;
  std::size_t connections() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace jobrelay::testing
