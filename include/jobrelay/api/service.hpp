// The routes of jobrelay wired to the services they call. Each resource's
// handlers live in their own file (analyze.cpp, results.cpp, ops.cpp); this
// is the one place that knows them all.
#pragma once

#include <atomic>
#include <chrono>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/http/router.hpp"

namespace jobrelay::jobs {
class engine;
}
namespace jobrelay::store {
class results_store;
}

namespace jobrelay::api {

class client_gate;

struct service {
  const config& cfg;
  jobs::engine& engine;
  store::results_store& store;
  client_gate& gate;
  const clock& clk;
  steady_time started_at;
  std::atomic<bool> draining{false};
};

void add_analyze_routes(http::router& r, service& s);
void add_results_routes(http::router& r, service& s);
void add_ops_routes(http::router& r, service& s);

inline http::router make_router(service& s) {
  http::router r;
  add_analyze_routes(r, s);
  add_results_routes(r, s);
  add_ops_routes(r, s);
  return r;
}

}  // namespace jobrelay::api
