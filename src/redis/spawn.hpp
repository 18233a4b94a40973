// Starts a background coroutine of the Redis client. An exception escaping a
// coroutine spawned with `detached` would be rethrown out of io_context::run
// and end the process; here it is logged instead (only resource exhaustion
// can throw inside, and Redis being gone is never worth a crash).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <string>

namespace jobrelay::redis::detail {

inline void spawn(const boost::asio::any_io_executor& strand, boost::asio::awaitable<void> work,
                  std::string what) {
  boost::asio::co_spawn(strand, std::move(work), [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& failure) {
      spdlog::error("{}: stopped unexpectedly: {}", what, failure.what());
    } catch (...) {
      spdlog::error("{}: stopped unexpectedly", what);
    }
  });
}

}  // namespace jobrelay::redis::detail
