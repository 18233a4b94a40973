// One connection of the client's pool, kept open for as long as the client
// runs. Everything it does runs on its own strand: callers hand it encoded
// commands from any thread (submit), a writer sends all that queued up in one
// write, a reader hands replies to the calls in the order they were sent, and
// a watchdog ends the connection when the oldest call has waited longer than
// command_timeout. A connection quiet for ping_interval sends a PING of its own,
// so that a dead peer is found even when no caller uses it. When the connection ends, every call on
// it fails, and it reconnects after a backoff; meanwhile submit() fails at once.
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backoff.hpp"
#include "link.hpp"
#include "outage_log.hpp"

namespace jobrelay::redis::detail {

// What a call is told: its replies in order, or why there are none.
using reply_handler =
    boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<reply>)>;

class pipelined_connection : public std::enable_shared_from_this<pipelined_connection> {
 public:
  // `on_up` runs on the connection's strand each time it comes up.
  pipelined_connection(const boost::asio::any_io_executor& executor,
                       std::shared_ptr<const link_settings> settings, std::string name,
                       std::function<void()> on_up);

  void start();
  // Ends the connection for good; calls pending and later fail (shutting_down).
  void stop();

  bool up() const { return up_.load(std::memory_order_acquire); }

  // `wire`: `replies` encoded commands. `handler` runs on `caller` (its
  // associated executor), posted, never inline: with the replies, or with
  // store_unavailable (the connection is down or went down before they all
  // came) or shutting_down. (Not the handler's any_completion_executor: that
  // one cannot promise not to run the handler inside this strand.)
  void submit(std::string wire, std::size_t replies, reply_handler handler,
              const boost::asio::any_io_executor& caller);

  const boost::asio::any_io_executor& executor() const { return strand_; }

 private:
  struct call;
  struct session;

  boost::asio::awaitable<void> supervise();
  boost::asio::awaitable<void> read_replies(std::shared_ptr<session> s);
  boost::asio::awaitable<void> write_queued(std::shared_ptr<session> s);
  boost::asio::awaitable<void> watch_deadlines(std::shared_ptr<session> s);
  boost::asio::awaitable<void> pause(std::chrono::milliseconds how_long);

  void enqueue(call c);
  // Closes `s` and fails its calls with `code`; logs `why` unless stopping.
  void end_session(session& s, const std::string& why, errc code);
  static void complete(call& c, boost::system::error_code ec);

  boost::asio::any_io_executor strand_;
  std::shared_ptr<const link_settings> settings_;
  std::string name_;
  std::function<void()> on_up_;

  // Strand only.
  std::shared_ptr<session> session_;  // null while down
  std::shared_ptr<link> opening_;     // the link being opened, for stop()
  boost::asio::steady_timer pause_;
  backoff backoff_;
  outage_log log_;
  bool stopping_ = false;

  std::atomic<bool> up_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace jobrelay::redis::detail
