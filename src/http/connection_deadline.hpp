// The deadline of a server connection's current socket operation, kept as a
// time point that is cheap to move, watched by one lazily armed timer.
//
// Beast's tcp_stream arms a timer for every read and write and cancels it
// when the operation completes: a timer-queue insert, a cancel and a posted
// "aborted" completion per operation, a measured tenth of the CPU of a small
// keep-alive request (bench/README.md). Here moving the deadline only writes
// a time point; the timer wakes when the earliest deadline it was armed for
// comes, and then either closes the socket (the deadline passed) or sleeps
// again until the current one. A busy keep-alive connection wakes it about
// once per idle timeout instead of twice per request.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace jobrelay::http {

class connection_deadline : public std::enable_shared_from_this<connection_deadline> {
 public:
  using clock = std::chrono::steady_clock;

  // The timer runs on the socket's executor (the connection's strand or context): every
  // member is touched from there only.
  explicit connection_deadline(boost::asio::ip::tcp::socket& socket);

  // The operation about to start must end within `limit`, or the socket is
  // closed (its pending operations end with operation_aborted).
  void expires_after(clock::duration limit) { expires_at(clock::now() + limit); }
  // Likewise, by a time fixed earlier: the reads of one request head share
  // one deadline, so a client trickling bytes cannot stretch it.
  void expires_at(clock::time_point when);
  // No operation is pending whose time is bounded (a handler is working, a
  // long poll waits on a job): nothing is closed until the next expires_after.
  void clear() { at_ = clock::time_point::max(); }
  // The socket was closed because a deadline passed.
  bool expired() const { return expired_; }
  // The connection is done with the socket, which may go away now; the
  // timer's last wake finds nothing to do.
  void detach();

 private:
  void arm(clock::time_point when);
  void on_wake();

  boost::asio::ip::tcp::socket* socket_;
  boost::asio::steady_timer timer_;
  clock::time_point at_ = clock::time_point::max();
  bool armed_ = false;
  bool expired_ = false;
};

}  // namespace jobrelay::http
