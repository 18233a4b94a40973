// A test client for text/event-stream answers: sends one GET, reads the head,
// then decodes the chunked body into events as they arrive.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobrelay::testing {

struct sse_event {
  std::string id;
  std::string data;
};

class sse_client {
 public:
  sse_client(unsigned short port, std::string target,
             std::vector<std::pair<std::string, std::string>> headers = {},
             int receive_buffer_bytes = 0);  // > 0: SO_RCVBUF before connecting
  ~sse_client();

  unsigned status() const { return status_; }
  std::string header(std::string_view name) const;

  // The next event (comments and retry lines are counted, not returned);
  // nullopt when the stream ended or nothing came within `timeout`.
  std::optional<sse_event> next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the terminating chunk arrived (the stream ended cleanly).
  bool ended() const { return ended_; }
  // True when the server closed the connection (read hit EOF or reset).
  bool closed() const { return closed_; }
  int comments() const { return comments_; }
  std::optional<int> retry_ms() const { return retry_ms_; }

 private:
  bool fill(std::chrono::milliseconds timeout);  // reads more bytes; false on timeout/close
  void decode_chunks();

  struct impl;
  std::unique_ptr<impl> impl_;
  unsigned status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string raw_;   // undecoded bytes after the head
  std::string body_;  // decoded event-stream text not yet parsed
  bool chunked_ = false, ended_ = false, closed_ = false;
  int comments_ = 0;
  std::optional<int> retry_ms_;
};

}  // namespace jobrelay::testing
