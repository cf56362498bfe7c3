// ExoCom as services meet it: a real exocom process, real WebSocket clients over TCP.
#include <gtest/gtest.h>

#include <signal.h>

#include <ctime>
#include <regex>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.hpp"
#include "support/bus.hpp"
#include "support/processes.hpp"
#include "support/test_support.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {

// web sends users.create; users (a generic store) knows it as mongo.create.
const std::string kRoutes = R"({
  "web": {"receives": ["users.created", "message unauthorized"], "sends": ["users.create", "users.list", "ping pong"]},
  "users": {"receives": ["mongo.create", "mongo.list"], "sends": ["mongo.created", "mongo.listed"],
            "translations": [{"public": "users.create", "internal": "mongo.create"},
                             {"public": "users.created", "internal": "mongo.created"},
                             {"public": "users.list", "internal": "mongo.list"},
                             {"public": "users.listed", "internal": "mongo.listed"}]},
  "dashboard": {"receives": ["users.create", "ping pong"], "sends": []},
  "logger": {"receives": ["users.create"], "sends": []}
})";

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

// A connection registered as `role`, on the node the bus gives it; returns once every node knows
// it (in a cluster, nodes learn of instances on the others from their announcements).
WsClient registered(Bus& bus, std::string_view role, std::string_view options = "{}") {
  std::string line = "'" + std::string(role) + "' registered";
  size_t before = bus.output().count(line);
  auto c = WsClient::connect(bus.port(bus.node_for(role)));
  c.register_as(role, options);
  for (int i = 0; i < 500 && bus.output().count(line) <= before; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GT(bus.output().count(line), before) << "'" << role << "' did not register";
  EXPECT_TRUE(bus.wait_known(role, before + 1));
  return c;
}

// The next message arrives at one of two connections: that one.
WsClient* receiver_of_next(WsClient& a, WsClient& b) {
  for (int i = 0; i < 100; ++i) {
    if (auto m = a.receive(25ms)) {
      a.pending.insert(a.pending.begin(), *m);
      return &a;
    }
    if (auto m = b.receive(25ms)) {
      b.pending.insert(b.pending.begin(), *m);
      return &b;
    }
  }
  return nullptr;
}

std::string kind_name(const ::testing::TestParamInfo<BusKind>& info) { return to_string(info.param); }

// When ExoCom forwarded the message: RFC 3339 with nanoseconds, within a few seconds of now.
void expect_recent_timestamp(const std::string& ts) {
  std::smatch m;
  ASSERT_TRUE(std::regex_match(ts, m, std::regex(R"((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})Z)"))) << ts;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::nanoseconds(std::stoll(m[7]));
  auto off = std::chrono::system_clock::now() - at;
  EXPECT_LT(std::chrono::abs(off), 5s) << ts;
}

// Under the security adapter: a marked users.create, authorized, is the next thing users gets.
void expect_authorized_marker_next(WsClient& web, WsClient& security, WsClient& users) {
  std::string marker = send_marker(web, "web", "users.create");
  auto ask = security.receive_named("authorize message");
  ASSERT_TRUE(ask);
  security.send_message("message authorized", "security", "{}", str(*ask, "activityId"));
  EXPECT_TRUE(next_is_marker(users, marker));
}

}  // namespace

// Every scenario of these suites runs on one ExoCom and on a cluster of three nodes, senders and
// receivers on different nodes (instantiated at the end of the file).
class Routing : public ::testing::TestWithParam<BusKind> {};
class ExocomHttp : public ::testing::TestWithParam<BusKind> {};
class ExocomInstances : public ::testing::TestWithParam<BusKind> {};
class ExocomBuffer : public ::testing::TestWithParam<BusKind> {};
class ExocomSecurity : public ::testing::TestWithParam<BusKind> {};
class ExocomLog : public ::testing::TestWithParam<BusKind> {};

// --- broadcasting and translation -------------------------------------------------------------

TEST_P(Routing, DeliversToEveryReceivingRoleWithTranslation) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  auto dashboard = registered(bus, "dashboard");
  std::string aid = new_uuid();
  web.send_message("users.create", "web", R"({"name":"Jean-Luc"})", aid);
  auto got = users.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "name"), "mongo.create");
  EXPECT_EQ(str(*got, "activityId"), aid);
  EXPECT_EQ(str(*got, "sender"), "web");
  EXPECT_EQ(json::serialize(got->at("payload")), R"({"name":"Jean-Luc"})");
  expect_recent_timestamp(str(*got, "timestamp"));
  auto seen = dashboard.receive_json();
  ASSERT_TRUE(seen);
  EXPECT_EQ(str(*seen, "name"), "users.create");
  EXPECT_NE(bus.output().wait_for("web  --[ users.create ]-[ mongo.create ]->  users"), std::string::npos);
  EXPECT_NE(bus.output().wait_for("web  --[ users.create ]->  dashboard"), std::string::npos);
}

TEST_P(Routing, RepliesAreTranslatedBackAndCarryResponseTime) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  std::string aid = new_uuid();
  web.send_message("users.create", "web", R"({"name":"Jean-Luc"})", aid);
  ASSERT_TRUE(users.receive_json());
  users.send_message("mongo.created", "users", R"({"name":"Jean-Luc","id":"1"})", aid);
  auto reply = web.receive_json();
  ASSERT_TRUE(reply);
  EXPECT_EQ(str(*reply, "name"), "users.created");
  EXPECT_EQ(str(*reply, "activityId"), aid);
  EXPECT_EQ(str(*reply, "sender"), "users");
  ASSERT_TRUE(reply->contains("responseTime"));
  EXPECT_GT(reply->at("responseTime").to_number<int64_t>(), 0);
  EXPECT_NE(bus.output().wait_for("users  --[ mongo.created ]-[ users.created ]->  web  ( "), std::string::npos);
}

TEST_P(Routing, NamesWithWhitespace) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_message("ping pong", "web");
  auto got = dashboard.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "name"), "ping pong");
}

TEST_P(Routing, ForwardsAuthSecurityFlagAndUnknownFields) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_text(R"({"name":"ping pong","sender":"web","id":"1","activityId":"a1","auth":{"sessionId":"s-1"},)"
                R"("isSecurity":true,"responseTo":"0","custom":[1,2]})");
  auto got = dashboard.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(got->at("auth")), R"({"sessionId":"s-1"})");
  EXPECT_EQ(got->at("isSecurity"), true);
  EXPECT_EQ(str(*got, "responseTo"), "0");
  EXPECT_EQ(json::serialize(got->at("custom")), "[1,2]");
  EXPECT_EQ(str(*got, "id"), "1");
}

TEST_P(Routing, AcceptsGoStyleEnvelopes) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_text(R"({"activityId":"4f","auth":null,"id":"9a","isSecurity":false,"name":"ping pong","payload":null,)"
                R"("responseTime":0,"sender":"web","timestamp":"0001-01-01T00:00:00Z"})");
  auto got = dashboard.receive_json();
  ASSERT_TRUE(got);
  expect_recent_timestamp(str(*got, "timestamp"));
  EXPECT_FALSE(got->contains("responseTime"));
}

TEST_P(Routing, MessagesWithoutIdGetOne) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_text(R"({"name":"ping pong","sender":"web"})");
  auto got = dashboard.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "id").size(), 36u);
}

TEST_P(Routing, RefusesWhatASenderMayNotSend) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web", R"({"errors":true})");
  auto users = registered(bus, "users");
  web.send_message("mongo.create", "web");
  auto err = web.receive_named("exocom.error");
  ASSERT_TRUE(err);
  auto& payload = err->at("payload").get_object();
  EXPECT_EQ(str(payload, "code"), "not-allowed");
  EXPECT_EQ(str(payload, "name"), "mongo.create");
  EXPECT_NE(bus.output().wait_for("Warning: Service 'web' is not allowed to broadcast the message 'mongo.create'"),
            std::string::npos);
  EXPECT_TRUE(next_is_marker(users, send_marker(web, "web", "users.create")));
}

TEST_P(Routing, RefusesAMessageNobodyReceives) {
  Bus bus(GetParam(), R"({"web":{"sends":["nobody.listens"]}})");
  auto web = registered(bus, "web", R"({"errors":true})");
  web.send_message("nobody.listens", "web");
  auto err = web.receive_named("exocom.error");
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").get_object(), "code"), "no-receivers");
  EXPECT_NE(bus.output().wait_for("Warning: No receivers for message 'nobody.listens' registered"), std::string::npos);
}

TEST_P(Routing, OldClientsGetNoFeedbackMessages) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  web.send_message("mongo.create", "web");
  // users receives what web sends next, so ExoCom has refused the first by then; users' answer
  // is the next thing web may see.
  web.send_message("users.create", "web");
  auto create = users.receive_json();
  ASSERT_TRUE(create);
  users.send_message("mongo.created", "users", "{}", str(*create, "activityId"));
  EXPECT_TRUE(next_is_marker(web, str(*create, "activityId")));
}

TEST_P(Routing, AcknowledgesRegistrationWhenAsked) {
  Bus bus(GetParam(), kRoutes);
  auto web = WsClient::connect(bus.port());
  web.register_as("web", R"({"ack":true})");
  auto ack = web.receive_json();
  ASSERT_TRUE(ack);
  EXPECT_EQ(str(*ack, "name"), "exocom.registered");
  EXPECT_EQ(str(ack->at("payload").get_object(), "role"), "web");
}

TEST_P(Routing, NamespaceTranslationOfTheOlderFormat) {
  Bus bus(GetParam(), R"([{"role":"web","receives":["users.listed"],"sends":["users.list"]},
                 {"role":"users","receives":["mongo.list"],"sends":["mongo.listed"],"namespace":"mongo"}])",
             {}, {});
  // SERVICE_DATA holds the array here: ExoCom takes either form from either variable.
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  std::string aid = new_uuid();
  web.send_message("users.list", "web", "{}", aid);
  auto got = users.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "name"), "mongo.list");
  users.send_message("mongo.listed", "users", "[]", aid);
  auto reply = web.receive_json();
  ASSERT_TRUE(reply);
  EXPECT_EQ(str(*reply, "name"), "users.listed");
}

// --- ports and configuration -----------------------------------------------------------------

TEST(ExocomConfig, PortFromTheEnvironment) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--dev-open"};
  o.env = {{"PORT", "0"}};
  Watched w(o);
  EXPECT_NE(w.output().wait_for("ExoCom online at port "), std::string::npos);
  EXPECT_EQ(w.stop(), 0);
}

TEST(ExocomConfig, PortInUseIsAClearError) {
  Exocom first("", {"--dev-open"});
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", std::to_string(first.port()), "--dev-open"};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: port " + std::to_string(first.port()) +
                       " is already in use; stop what uses it or choose another with --port\n");
}

TEST(ExocomConfig, MissingRoutesIsAClearError) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0"};
  o.unset_env = {"SERVICE_DATA", "SERVICE_ROUTES"};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: no routing table: set SERVICE_DATA or SERVICE_ROUTES, pass --routes FILE, or use --dev-open\n");
}

TEST(ExocomConfig, InvalidRoutesNameTheProblem) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0"};
  o.env = {{"SERVICE_DATA", R"({"web":{"sends":"ping"}})"}};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: SERVICE_DATA: web.sends: expected a list of message names\n");
}

TEST(ExocomConfig, RoutesFromAFile) {
  Sandbox box;
  box.write("routes.json", kRoutes);
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0", "--routes", (box / "routes.json").string()};
  Watched w(o);
  EXPECT_NE(w.output().wait_for("ExoCom online at port "), std::string::npos);
  EXPECT_EQ(w.stop(), 0);
}

TEST(ExocomConfig, NonNumericPortIsAnError) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--dev-open"};
  o.env = {{"PORT", "eighty"}};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: PORT 'eighty' is not a port number (0-65535)\n");
}

// --- HTTP endpoints ----------------------------------------------------------------------------

TEST_P(ExocomHttp, ConfigJsonShowsClientsAndRoutes) {
  Bus bus(GetParam(), kRoutes);
  {
    auto web = registered(bus, "web");
    auto [status, body] = bus.get("/config.json");
    EXPECT_EQ(status, 200);
    auto v = json::parse(body).as_object();
    EXPECT_EQ(json::serialize(v.at("clients")), R"([{"role":"web","instances":1}])");
    EXPECT_EQ(json::serialize(v.at("routes").at("users").at("translations").at(0)),
              R"({"public":"users.create","internal":"mongo.create"})");
    web.close();
  }
  ASSERT_TRUE(bus.wait_gone("web", 0));
  auto [status, body] = bus.get("/config.json");
  EXPECT_EQ(json::serialize(json::parse(body).at("clients")), "[]");
}

TEST_P(ExocomHttp, StatusAndMetrics) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_message("ping pong", "web");
  ASSERT_TRUE(dashboard.receive_json());
  auto [s1, status] = bus.get("/status");
  EXPECT_EQ(s1, 200);
  EXPECT_EQ(json::parse(status).at("status"), "ok");
  auto [s2, metrics] = bus.get("/metrics");
  EXPECT_EQ(s2, 200);
  EXPECT_NE(metrics.find("exocom_connections{role=\"web\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("exocom_messages_received_total 1"), std::string::npos);
  EXPECT_NE(metrics.find("exocom_messages_delivered_total{role=\"dashboard\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("# TYPE exocom_response_seconds histogram"), std::string::npos);
}

TEST_P(ExocomHttp, OtherPathsAndPlainRequestsToServices) {
  Bus bus(GetParam(), kRoutes);
  EXPECT_EQ(bus.get("/zonk").first, 404);
  EXPECT_EQ(bus.get("/services").first, 426);
}

// --- instances ---------------------------------------------------------------------------------

TEST_P(ExocomInstances, RoundRobinAcrossInstances) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto d1 = registered(bus, "dashboard");
  auto d2 = registered(bus, "dashboard");
  for (int i = 0; i < 4; ++i) web.send_message("ping pong", "web");
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(d1.receive()) << i;
    EXPECT_TRUE(d2.receive()) << i;
  }
  // Two each, no more: the next two go one to each instance again.
  std::string m1 = send_marker(web, "web", "ping pong"), m2 = send_marker(web, "web", "ping pong");
  auto first = d1.receive_json();
  ASSERT_TRUE(first);
  std::string got1 = str(first->at("payload").as_object(), "marker");
  EXPECT_TRUE(got1 == m1 || got1 == m2) << json::serialize(*first);
  EXPECT_TRUE(next_is_marker(d2, got1 == m1 ? m2 : m1));
}

TEST_P(ExocomInstances, RepliesGoToTheInstanceThatAsked) {
  Bus bus(GetParam(), kRoutes);
  auto w1 = registered(bus, "web");
  auto w2 = registered(bus, "web");
  auto users = registered(bus, "users");
  for (int i = 0; i < 3; ++i) {
    std::string aid = new_uuid();
    w2.send_message("users.create", "web", "{}", aid);
    auto req = users.receive_json();
    ASSERT_TRUE(req);
    users.send_message("mongo.created", "users", "{}", aid);
    auto reply = w2.receive_json();
    ASSERT_TRUE(reply) << "reply " << i;
    EXPECT_EQ(str(*reply, "activityId"), aid);
  }
  // w1's own request and its reply: the reply is the first thing w1 receives.
  std::string mine = new_uuid();
  w1.send_message("users.create", "web", "{}", mine);
  ASSERT_TRUE(users.receive_json());
  users.send_message("mongo.created", "users", "{}", mine);
  EXPECT_TRUE(next_is_marker(w1, mine));
}

TEST_P(ExocomInstances, AnActivityStaysWithTheChosenInstance) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto d1 = registered(bus, "dashboard");
  auto d2 = registered(bus, "dashboard");
  std::string aid = new_uuid();
  web.send_message("ping pong", "web", "{}", aid);
  WsClient* chosen = receiver_of_next(d1, d2);
  ASSERT_TRUE(chosen);
  WsClient* other = chosen == &d1 ? &d2 : &d1;
  ASSERT_TRUE(chosen->receive());
  // The rest of the activity goes to the same instance; a new activity to the other, which has
  // received nothing so far.
  web.send_message("ping pong", "web", "{\"second\":true}", aid);
  web.send_message("ping pong", "web", "{\"marker\":\"same-activity\"}", aid);
  auto second = chosen->receive_json();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at("payload").at("second"), true);
  EXPECT_TRUE(next_is_marker(*chosen, "same-activity"));
  EXPECT_TRUE(next_is_marker(*other, send_marker(web, "web", "ping pong")));
}

TEST_P(ExocomInstances, DisconnectOfThePinnedInstanceFallsBack) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto d1 = registered(bus, "dashboard");
  auto d2 = registered(bus, "dashboard");
  std::string aid = new_uuid();
  web.send_message("ping pong", "web", "{}", aid);
  WsClient* chosen = receiver_of_next(d1, d2);
  ASSERT_TRUE(chosen);
  WsClient& pinned = *chosen;
  WsClient& other = chosen == &d1 ? d2 : d1;
  ASSERT_TRUE(pinned.close());
  ASSERT_TRUE(bus.wait_gone("dashboard", 1));
  web.send_message("ping pong", "web", "{}", aid);
  EXPECT_TRUE(other.receive(2s));
}

// --- buffering ---------------------------------------------------------------------------------

TEST_P(ExocomBuffer, HoldsMessagesUntilAnInstanceRegisters) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  for (int i = 0; i < 5; ++i) web.send_message("users.create", "web", "{\"n\":" + std::to_string(i) + "}");
  EXPECT_NE(bus.output().wait_for("No instance of 'users' is online; holding its messages"), std::string::npos);
  auto users = registered(bus, "users");
  for (int i = 0; i < 5; ++i) {
    auto got = users.receive_json();
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->at("payload").at("n"), i);
  }
}

TEST_P(ExocomBuffer, FullBufferRefusesWithFeedback) {
  Bus bus(GetParam(), kRoutes, {"--buffer-messages", "2"});
  auto web = registered(bus, "web", R"({"errors":true})");
  for (int i = 0; i < 3; ++i) web.send_message("ping pong", "web");
  auto err = web.receive_named("exocom.error");
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").get_object(), "code"), "buffer-full");
}

TEST_P(ExocomBuffer, HeldMessagesExpire) {
  Bus bus(GetParam(), kRoutes, {"--buffer-ttl", "1"});
  auto web = registered(bus, "web");
  web.send_message("ping pong", "web");
  EXPECT_NE(bus.output().wait_for("Dropped 1 messages for 'dashboard'", 5s), std::string::npos);
  auto dashboard = registered(bus, "dashboard");
  EXPECT_TRUE(next_is_marker(dashboard, send_marker(web, "web", "ping pong")));
}

// --- security adapter --------------------------------------------------------------------------

namespace {
const std::string kSecureRoutes = R"({
  "web": {"receives": ["message unauthorized", "users.created"], "sends": ["users.create"]},
  "users": {"receives": ["users.create", "session.get"], "sends": ["users.created", "session.details"]},
  "security": {}
})";
}

TEST_P(ExocomSecurity, AuthorizedMessagesAreDelivered) {
  Bus bus(GetParam(), kSecureRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  auto security = registered(bus, "security");
  web.send_text(R"({"name":"users.create","sender":"web","id":"1","activityId":"a1","auth":"222","payload":{"n":1}})");
  auto ask = security.receive_json();
  ASSERT_TRUE(ask);
  EXPECT_EQ(str(*ask, "name"), "authorize message");
  auto& original = ask->at("payload").get_object();
  EXPECT_EQ(str(original, "name"), "users.create");
  EXPECT_EQ(str(original, "sender"), "web");
  EXPECT_EQ(str(original, "auth"), "222");
  security.send_message("message authorized", "security", "{}", str(*ask, "activityId"));
  auto got = users.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "name"), "users.create");
  EXPECT_EQ(str(*got, "auth"), "222");
}

TEST_P(ExocomSecurity, UnauthorizedMessagesGoBackToTheSender) {
  Bus bus(GetParam(), kSecureRoutes);
  auto web = registered(bus, "web", R"({"errors":true})");
  auto users = registered(bus, "users");
  auto security = registered(bus, "security");
  web.send_message("users.create", "web", "{}", "act-1");
  auto ask = security.receive_json();
  ASSERT_TRUE(ask);
  security.send_message("message unauthorized", "security", "{}", str(*ask, "activityId"));
  auto notice = web.receive_named("message unauthorized");
  ASSERT_TRUE(notice);
  EXPECT_EQ(str(*notice, "activityId"), "act-1");
  EXPECT_EQ(str(notice->at("payload").get_object(), "name"), "users.create");
  EXPECT_NE(bus.output().wait_for("Warning: Unauthorized message 'users.create' from 'web' with activityId 'act-1'"),
            std::string::npos);
  expect_authorized_marker_next(web, security, users);
}

TEST_P(ExocomSecurity, DataRequestsAndResponses) {
  Bus bus(GetParam(), kSecureRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  auto security = registered(bus, "security");
  web.send_message("users.create", "web");
  auto ask = security.receive_json();
  ASSERT_TRUE(ask);
  std::string auth_activity = str(*ask, "activityId");
  security.send_message("security request", "security",
                        R"({"name":"session.get","id":"in-1","activityId":"inner-1","payload":{"id":7}})", auth_activity);
  auto request = users.receive_json();
  ASSERT_TRUE(request);
  EXPECT_EQ(str(*request, "name"), "session.get");
  users.send_message("session.details", "users", R"({"admin":true})", "inner-1");
  auto response = security.receive_json();
  ASSERT_TRUE(response);
  EXPECT_EQ(str(*response, "name"), "security response");
  EXPECT_EQ(str(*response, "activityId"), auth_activity);
  EXPECT_EQ(str(response->at("payload").get_object(), "name"), "session.details");
  EXPECT_EQ(response->at("isSecurity"), true);
}

TEST_P(ExocomSecurity, IsSecurityFlagDoesNotBypass) {
  Bus bus(GetParam(), kSecureRoutes);
  auto web = registered(bus, "web");
  auto users = registered(bus, "users");
  auto security = registered(bus, "security");
  web.send_text(R"({"name":"users.create","sender":"web","id":"1","activityId":"a2","isSecurity":true})");
  auto ask = security.receive_json();
  ASSERT_TRUE(ask);
  EXPECT_EQ(str(*ask, "name"), "authorize message");
  expect_authorized_marker_next(web, security, users);
}

TEST_P(ExocomSecurity, NoVerdictMeansRefused) {
  Bus bus(GetParam(), kSecureRoutes, {"--security-timeout", "300"});
  auto web = registered(bus, "web", R"({"errors":true})");
  auto users = registered(bus, "users");
  auto security = registered(bus, "security");
  web.send_message("users.create", "web");
  auto err = web.receive_named("exocom.error", 5s);
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").get_object(), "code"), "security-timeout");
  ASSERT_TRUE(security.receive_named("authorize message"));  // the question it never answered
  expect_authorized_marker_next(web, security, users);
}

TEST_P(ExocomSecurity, VerdictForAnUnknownActivityIsIgnored) {
  Bus bus(GetParam(), kSecureRoutes);
  auto web = registered(bus, "web");
  auto security = registered(bus, "security");
  security.send_message("message unauthorized", "security", "{}", "no-such-activity");
  EXPECT_NE(bus.output().wait_for("for an unknown or expired activity 'no-such-activity'; ignored"), std::string::npos);
  // Still serving.
  EXPECT_EQ(bus.get("/status").first, 200);
}

// --- logging -----------------------------------------------------------------------------------

TEST_P(ExocomLog, PayloadsWhenAsked) {
  Bus bus(GetParam(), kRoutes, {"--log-payloads"});
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_message("ping pong", "web", R"({"x":1})");
  ASSERT_TRUE(dashboard.receive());
  EXPECT_NE(bus.output().wait_for("web  --[ ping pong ]->  dashboard\n{\"x\":1}\n"), std::string::npos);
}

TEST_P(ExocomLog, QuietHidesTheTrace) {
  Bus bus(GetParam(), kRoutes, {"--quiet"});
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_message("ping pong", "web");
  ASSERT_TRUE(dashboard.receive());
  web.send_message("mongo.create", "web");
  bus.output().wait_for("Warning:");
  EXPECT_EQ(bus.output().text().find("--[ ping pong ]->"), std::string::npos);
}

TEST_P(ExocomLog, JsonFormat) {
  Bus bus(GetParam(), kRoutes, {"--log-format", "json"});
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");
  web.send_message("ping pong", "web");
  ASSERT_TRUE(dashboard.receive());
  ASSERT_NE(bus.output().wait_for("\"level\":\"trace\""), std::string::npos);
  std::string text = bus.output().text();
  size_t pos = text.find("\"level\":\"trace\"");
  size_t start = text.rfind('\n', pos) + 1;
  auto line = json::parse(text.substr(start, text.find('\n', pos) - start)).as_object();
  EXPECT_EQ(str(line, "sender"), "web");
  EXPECT_EQ(str(line, "name"), "ping pong");
  EXPECT_EQ(str(line, "receiver"), "dashboard");
}

// --- shutdown ----------------------------------------------------------------------------------

class ExocomShutdown : public ::testing::TestWithParam<BusKind> {};

// One node or a node of a cluster (docs/architecture.md, "Stopping"): close 1001, exit 0, within
// the stop bound (5 s).
TEST_P(ExocomShutdown, SigtermClosesEveryConnectionWith1001AndExits0WithinTheBound) {
  Bus bus(GetParam(), kRoutes);
  auto web = registered(bus, "web");
  auto t0 = std::chrono::steady_clock::now();
  bus.node(0).process().signal(SIGTERM);
  auto closed = web.wait_close(5s);
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->clean);
  EXPECT_EQ(closed->code, 1001);
  EXPECT_EQ(bus.node(0).process().wait(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s * kSlowdown);
}

// A receiver that reads nothing keeps its queue full: past the stop bound ExoCom closes it anyway,
// says what was left, and exits 1.
TEST(ExocomShutdown, QueuesNotDrainedWithinTheBoundAreSaidAndExit1) {
  Bus bus(BusKind::single, kRoutes, {}, {{"EXOSPHERE_STOP_TIMEOUT", "2"}});
  auto web = registered(bus, "web");
  auto dashboard = registered(bus, "dashboard");  // receives "ping pong", and never reads
  std::string payload = "{\"blob\":\"" + std::string(512 * 1024, 'x') + "\"}";
  for (int i = 0; i < 60; ++i) web.send_message("ping pong", "web", payload);  // 30 MB: beyond every socket buffer
  ASSERT_NE(bus.output().wait_for("--[ ping pong ]->", 5s), std::string::npos);
  auto t0 = std::chrono::steady_clock::now();
  bus.node(0).process().signal(SIGTERM);
  EXPECT_EQ(bus.node(0).process().wait(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s * kSlowdown);
  EXPECT_NE(bus.output().text().find("connections still had"), std::string::npos) << bus.output().text();
}

TEST(ExocomConfig, DefaultPortIs80) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--dev-open"};
  o.unset_env = {"PORT"};
  Watched w(o);
  // Either it listens on 80, or 80 is taken (or privileged) and it says so about port 80.
  w.output().wait_for("port 80", 5s);
  std::string text = w.output().text();
  EXPECT_TRUE(text.find("ExoCom online at port 80\n") != std::string::npos ||
              text.find("Error: port 80 is already in use") != std::string::npos ||
              text.find("Error: no permission to listen on port 80") != std::string::npos)
      << text;
  w.stop();
}

INSTANTIATE_TEST_SUITE_P(Bus, Routing, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomHttp, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomInstances, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomBuffer, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomSecurity, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomLog, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
INSTANTIATE_TEST_SUITE_P(Bus, ExocomShutdown, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);

// In AWS, ExoCom's log lines go to CloudWatch Logs, which turns lines in Embedded Metric Format
// into metrics: the dashboard's and the alarms' ExoCom figures.
TEST(ExocomMetrics, CloudWatchLinesCountWhatHappenedSinceTheLastOne) {
  Exocom bus(R"({"web":{"sends":["ping"]},"pinger":{"receives":["ping"]}})",
             {"--cloudwatch-metrics", "space-tweet", "--metrics-interval", "1"});
  auto web = WsClient::connect(bus.port());
  web.register_as("web");
  auto pinger = WsClient::connect(bus.port());
  pinger.register_as("pinger");
  ASSERT_NE(bus.output().wait_for("'pinger' registered"), std::string::npos);
  web.send_message("ping", "web", "{}");
  web.send_message("ping", "web", "{}");
  web.send_message("pong", "web", "{}");  // web may not send pong: refused
  ASSERT_TRUE(pinger.receive_named("ping"));
  ASSERT_TRUE(pinger.receive_named("ping"));
  size_t at = bus.output().wait_for("\"MessagesRouted\":2", 5s);
  ASSERT_NE(at, std::string::npos) << bus.output().text();
  std::string text = bus.output().text();
  size_t start = text.rfind('\n', at) + 1;
  json::object line = json::parse(text.substr(start, text.find('\n', at) - start)).as_object();
  auto& directive = line.at("_aws").at("CloudWatchMetrics").as_array().at(0).as_object();
  EXPECT_EQ(directive.at("Namespace"), "Exosphere/ExoCom");
  EXPECT_EQ(line.at("Application"), "space-tweet");
  EXPECT_EQ(line.at("MessagesRefused"), 1);
  EXPECT_EQ(line.at("MessagesHeld"), 0);
  EXPECT_GT(line.at("_aws").at("Timestamp").to_number<int64_t>(), 1'700'000'000'000);
  // The next line counts from there: nothing happened since.
  EXPECT_NE(bus.output().wait_for("\"MessagesRouted\":0", 5s, at), std::string::npos) << bus.output().text();
}
