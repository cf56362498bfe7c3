// ExoCom's /observe: the trace, read-only, to clients that present the token EXOCOM_OBSERVE_TOKEN
// gave it; sampled past a rate so that watching never slows the bus.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/processes.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {

const std::string kRoutes = R"({"web":{"sends":["tweets.create"],"receives":["tweets.created"]},
  "tweets":{"receives":["mongo.create"],"sends":["mongo.created"],
            "translations":[{"public":"tweets.create","internal":"mongo.create"},
                            {"public":"tweets.created","internal":"mongo.created"}]}})";
const std::string kToken = "0123456789abcdef0123456789abcdef";

std::string refusal(uint16_t port, std::string_view path, std::string_view headers = {}) {
  try {
    WsClient::connect(port, path, headers);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "accepted";
}

WsClient registered(uint16_t port, std::string_view role) {
  auto c = WsClient::connect(port);
  c.register_as(role, R"({"ack":true})");
  EXPECT_TRUE(c.receive_named("exocom.registered")) << role;
  return c;
}

// The next batch of trace events (status frames skipped).
json::array next_events(WsClient& observer) {
  for (int i = 0; i < 20; ++i) {
    auto frame = observer.receive_json(5s);
    if (!frame) return {};
    if (frame->contains("events")) return frame->at("events").as_array();
  }
  return {};
}

}  // namespace

TEST(ExocomObserve, OffWithoutAToken) {
  Exocom exocom(kRoutes);
  EXPECT_NE(refusal(exocom.port(), "/observe").find("HTTP/1.1 404"), std::string::npos);
}

TEST(ExocomObserve, RefusesAWrongOrMissingToken) {
  Exocom exocom(kRoutes, {}, {{"EXOCOM_OBSERVE_TOKEN", kToken}});
  EXPECT_NE(refusal(exocom.port(), "/observe").find("HTTP/1.1 401"), std::string::npos);
  EXPECT_NE(refusal(exocom.port(), "/observe", "Authorization: Bearer " + std::string(32, 'f') + "\r\n").find("HTTP/1.1 401"),
            std::string::npos);
  EXPECT_NE(refusal(exocom.port(), "/observe?token=" + kToken.substr(1)).find("HTTP/1.1 401"), std::string::npos);
  EXPECT_NE(exocom.get("/metrics").second.find("observe-token"), std::string::npos);
}

TEST(ExocomObserve, AShortTokenIsRefusedAtStart) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0"};
  o.env = {{"SERVICE_DATA", kRoutes}, {"EXOCOM_OBSERVE_TOKEN", "short"}};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "Error: EXOCOM_OBSERVE_TOKEN must be at least 16 characters\n");
}

TEST(ExocomObserve, StreamsEachDeliveryWithItsNamesSizeActivityAndResponseTime) {
  Exocom exocom(kRoutes, {}, {{"EXOCOM_OBSERVE_TOKEN", kToken}});
  auto observer = WsClient::connect(exocom.port(), "/observe", "Authorization: Bearer " + kToken + "\r\n");
  auto by_query = WsClient::connect(exocom.port(), "/observe?token=" + kToken);
  auto web = registered(exocom.port(), "web");
  auto tweets = registered(exocom.port(), "tweets");

  web.send_message("tweets.create", "web", R"({"content":"hi"})", "activity-1");
  auto got = tweets.receive_named("mongo.create");
  ASSERT_TRUE(got);
  tweets.send_message("mongo.created", "tweets", R"({"id":"1"})", "activity-1");
  ASSERT_TRUE(web.receive_named("tweets.created"));

  json::array events = next_events(observer);
  while (events.size() < 2) {
    json::array more = next_events(observer);
    if (more.empty()) break;
    for (auto& e : more) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u) << json::serialize(events);
  const auto& request = events[0].as_object();
  EXPECT_EQ(request.at("sender"), "web");
  EXPECT_EQ(request.at("name"), "tweets.create");
  EXPECT_EQ(request.at("as"), "mongo.create");
  EXPECT_EQ(request.at("receiver"), "tweets");
  EXPECT_EQ(request.at("activity"), "activity-1");
  EXPECT_GT(request.at("size").to_number<int64_t>(), 20);
  EXPECT_GT(request.at("time").to_number<double>(), 1.7e12);
  EXPECT_FALSE(request.contains("payload")) << "payloads only with --log-payloads";
  const auto& reply = events[1].as_object();
  EXPECT_EQ(reply.at("name"), "mongo.created");
  EXPECT_EQ(reply.at("as"), "tweets.created");
  EXPECT_GT(reply.at("rt").to_number<double>(), 0.0) << "the reply's response time, in ms";
  EXPECT_FALSE(next_events(by_query).empty()) << "the token in the query works as well";

  // An observer only reads: what it sends is ignored, and it is no service.
  observer.send_message("tweets.create", "web");
  auto status = json::parse(exocom.get("/status").second).as_object();
  EXPECT_EQ(status.at("roles").at("web").at("instances"), 1);
  EXPECT_FALSE(tweets.receive(300ms)) << "an observer's message was routed";
}

TEST(ExocomObserve, SamplesPastTheRateAndSaysHowManyItLeftOut) {
  Exocom exocom(kRoutes, {"--quiet"}, {{"EXOCOM_OBSERVE_TOKEN", kToken}});
  auto observer = WsClient::connect(exocom.port(), "/observe", "Authorization: Bearer " + kToken + "\r\n");
  auto web = registered(exocom.port(), "web");
  auto tweets = registered(exocom.port(), "tweets");
  for (int i = 0; i < 5000; ++i) web.send_message("tweets.create", "web");
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(tweets.receive_named("mongo.create")) << i;
  size_t events = 0;
  int64_t left_out = 0;
  while (events + static_cast<size_t>(left_out) < 5000) {
    auto frame = observer.receive_json(5s);
    ASSERT_TRUE(frame) << events << " events, " << left_out << " left out";
    if (!frame->contains("events")) continue;
    events += frame->at("events").as_array().size();
    left_out += frame->at("sampledOut").to_number<int64_t>();
  }
  EXPECT_EQ(events + static_cast<size_t>(left_out), 5000u);
  EXPECT_GT(left_out, 0) << "5,000 messages at once are more than the 2,000 a second an observer gets";
  EXPECT_LE(events, 4000u);
}
