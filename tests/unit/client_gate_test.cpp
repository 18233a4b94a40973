// admit_now: the client gate's decision without a coroutine, for limits kept
// per replica (the Redis-backed path is covered by the SharedRateLimit suite).
#include "jobrelay/api/client_gate.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"

using namespace jobrelay;

namespace {

std::string header(const api::admission& a, std::string_view name) {
  for (const auto& [n, v] : a.headers)
    if (n == name) return v;
  return {};
}

}  // namespace

TEST(ClientGate, AdmitNowDecidesLocalLimitsAtOnceWithTheirHeadersAndRefusals) {
  config cfg;
  cfg.rate_limit.poll = {1, 1};  // one request, then 429
  manual_clock clock;
  api::client_gate gate(cfg, clock);
  http::request req{http::verb::get, "/results/x", 11};
  http::request_context ctx{req, boost::asio::ip::make_address("192.0.2.7"), "/results/x", {}};

  auto first = gate.admit_now(ctx, api::limit_class::poll);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->rejection.has_value());
  EXPECT_EQ(first->client_id, "192.0.2.7");
  EXPECT_FALSE(header(*first, "RateLimit").empty());

  auto second = gate.admit_now(ctx, api::limit_class::poll);
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->rejection.has_value());
  EXPECT_EQ(second->rejection->result_int(), 429u);
  EXPECT_EQ(gate.rejections(api::limit_class::poll), 1u);

  clock.advance(std::chrono::seconds(1));  // the bucket refills
  auto third = gate.admit_now(ctx, api::limit_class::poll);
  ASSERT_TRUE(third.has_value());
  EXPECT_FALSE(third->rejection.has_value());
}
