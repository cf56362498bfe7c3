// What only a cluster has: nodes joining and leaving, NATS going away, routes that differ,
// packets nobody should send. (Every routing scenario also runs on a cluster: exocom_test.cpp.)
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "common/ids.hpp"
#include "support/bus.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {

const std::string kRoutes = R"({"web":{"receives":["pong"],"sends":["ping"]},"pinger":{"receives":["ping"],"sends":["pong"]}})";

WsClient registered_on(Bus& bus, size_t node, std::string_view role) {
  auto c = WsClient::connect(bus.port(node));
  c.register_as(role, R"({"ack":true,"errors":true})");
  EXPECT_TRUE(c.receive_named("exocom.registered"));
  return c;
}

}  // namespace

TEST(Cluster, RequestAndReplyCrossNodes) {
  Bus bus(BusKind::cluster, kRoutes);
  auto web = registered_on(bus, 0, "web");
  auto pinger = registered_on(bus, 1, "pinger");
  ASSERT_TRUE(bus.wait_known("pinger", 1));
  ASSERT_TRUE(bus.wait_known("web", 1));
  std::string aid = new_uuid();
  web.send_message("ping", "web", R"({"n":1})", aid);
  auto ping = pinger.receive_json();
  ASSERT_TRUE(ping) << bus.output().text();
  EXPECT_EQ(ping->at("name"), "ping");
  EXPECT_EQ(ping->at("activityId").as_string(), aid);
  pinger.send_message("pong", "pinger", R"({"n":2})", aid);
  auto pong = web.receive_named("pong");
  ASSERT_TRUE(pong) << bus.output().text();
  EXPECT_EQ(pong->at("payload").at("n"), 2);
}
