// A call's hold on one pool slot and the connection using it. However the call
// ends (an error, an exception, its coroutine destroyed unfinished) the slot
// goes back; only finish() can return the connection for reuse.
#pragma once

#include <memory>

#include "connection_pool.hpp"

namespace jobrelay::upstream::detail {

class call_lease {
 public:
  call_lease(std::shared_ptr<connection_pool> pool, std::shared_ptr<connection> conn)
      : pool_(std::move(pool)), conn_(std::move(conn)) {}
  ~call_lease() {
    if (pool_) pool_->release(std::move(conn_), false);
  }
  call_lease(const call_lease&) = delete;
  call_lease& operator=(const call_lease&) = delete;

  const std::shared_ptr<connection>& conn() const { return conn_; }
  void attach(std::shared_ptr<connection> conn) { conn_ = std::move(conn); }

  // Closes the connection but keeps the slot, for a fresh connection.
  void drop_connection() {
    if (conn_) conn_->close();
    conn_.reset();
  }

  void finish(bool reusable) {
    auto pool = std::move(pool_);
    pool->release(std::move(conn_), reusable);
  }

 private:
  std::shared_ptr<connection_pool> pool_;
  std::shared_ptr<connection> conn_;
};

}  // namespace jobrelay::upstream::detail
