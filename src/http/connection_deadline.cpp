#include "connection_deadline.hpp"

namespace jobrelay::http {

connection_deadline::connection_deadline(boost::asio::ip::tcp::socket& socket)
    : socket_(&socket), timer_(socket.get_executor()) {}

void connection_deadline::expires_at(clock::time_point when) {
  at_ = when;
  if (!armed_)
    arm(when);
  else if (when < timer_.expiry())
    timer_.cancel();  // its wake re-arms for the earlier time
}

void connection_deadline::detach() {
  socket_ = nullptr;
  at_ = clock::time_point::max();
  timer_.cancel();  // so the last wake, and this object, do not wait out a deadline
}

void connection_deadline::arm(clock::time_point when) {
  armed_ = true;
  timer_.expires_at(when);
  // The handler holds the object: the connection may end before it runs.
  timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code&) { self->on_wake(); });
}

void connection_deadline::on_wake() {
  armed_ = false;
  if (!socket_ || at_ == clock::time_point::max()) return;  // nothing is timed now
  if (at_ > clock::now()) {
    arm(at_);  // the deadline moved since the timer was armed
    return;
  }
  expired_ = true;
  boost::system::error_code ignored;
  socket_->close(ignored);
}

}  // namespace jobrelay::http
