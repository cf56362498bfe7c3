// The gateway: browsers on their own port, each a session; what they send goes on the bus as the
// gateway role, what comes back goes to the right browser only.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/net.hpp"
#include "support/bus.hpp"
#include "support/processes.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {

const std::string kRoutes = R"({
  "browser": {"sends": ["tweets.list"], "receives": ["tweets.listed", "tweet.posted"]},
  "tweets": {"receives": ["tweets.list"], "sends": ["tweets.listed", "tweet.posted"]}
})";

// ExoCom with its gateway for browsers: one node, or a cluster of three whose every node has a
// gateway. Browsers and the service connect to the nodes in turn.
struct Gateways {
  Bus bus;
  std::vector<uint16_t> gateway;  // per node
  size_t browsers = 0;
  explicit Gateways(BusKind kind, std::vector<std::string> extra = {})
      : bus(kind, kRoutes, [&] {
          std::vector<std::string> args = {"--gateway-port", "0", "--gateway-role", "browser"};
          args.insert(args.end(), extra.begin(), extra.end());
          return args;
        }()) {
    for (size_t i = 0; i < bus.nodes(); ++i) {
      std::smatch m;
      std::string text = bus.node(i).output().text();
      if (std::regex_search(text, m, std::regex("gateway for 'browser' online at port (\\d+)")))
        gateway.push_back(static_cast<uint16_t>(std::stoi(m[1])));
    }
    EXPECT_TRUE(bus.wait_known("browser", bus.nodes()));  // every node knows every gateway
  }
  uint16_t first_gateway() const { return gateway.at(0); }
  WsClient browser(const std::string& origin = "http://localhost:3000") {
    return WsClient::connect(gateway.at(browsers++ % gateway.size()), "/", origin.empty() ? "" : "Origin: " + origin + "\r\n");
  }
  WsClient service() {
    auto c = WsClient::connect(bus.port(bus.node_for("tweets")));
    c.register_as("tweets", R"({"ack":true})");
    EXPECT_TRUE(c.receive_named("exocom.registered"));
    EXPECT_TRUE(bus.wait_known("tweets", 1));
    return c;
  }
  // The counter's value on every node, summed.
  uint64_t metric(const std::string& line) {
    uint64_t sum = 0;
    for (size_t i = 0; i < bus.nodes(); ++i) {
      std::string text = bus.node(i).get("/metrics").second;
      if (auto pos = text.find(line + " "); pos != std::string::npos) sum += std::stoull(text.substr(pos + line.size() + 1));
    }
    return sum;
  }
};

class Gateway : public ::testing::TestWithParam<BusKind> {};
std::string kind_name(const ::testing::TestParamInfo<BusKind>& info) { return to_string(info.param); }

std::string str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

}  // namespace

TEST_P(Gateway, BrowserMessagesGoOnTheBusWithASession) {
  Gateways bus(GetParam());
  ASSERT_EQ(bus.gateway.size(), bus.bus.nodes());
  auto tweets = bus.service();
  auto page = bus.browser();
  page.send_text(R"({"name":"tweets.list","activityId":"a1","payload":{"owner_id":"1"},"sender":"tweets","auth":"forged","id":"x"})");
  auto got = tweets.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "name"), "tweets.list");
  EXPECT_EQ(str(*got, "sender"), "browser");       // not what the browser claimed
  EXPECT_EQ(str(*got, "activityId"), "a1");
  EXPECT_NE(str(*got, "id"), "x");
  ASSERT_TRUE(got->at("auth").is_object());        // the session, not the forged auth
  std::string session = str(got->at("auth").as_object(), "sessionId");
  // A session id is a UUID; in a cluster it starts with its node's name: replies find the node.
  EXPECT_TRUE(std::regex_match(session, std::regex("(n[0-9]~)?[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << session;
  EXPECT_EQ(session.find('~') != std::string::npos, bus.bus.clustered());
  EXPECT_EQ(json::serialize(got->at("payload")), R"({"owner_id":"1"})");
}

TEST_P(Gateway, RepliesReachOnlyTheirBrowser) {
  Gateways bus(GetParam());
  auto tweets = bus.service();
  auto alice = bus.browser(), bob = bus.browser();
  alice.send_text(R"({"name":"tweets.list","activityId":"alice-1"})");
  bob.send_text(R"({"name":"tweets.list","activityId":"bob-1"})");
  std::map<std::string, json::value> auth_of;
  for (int i = 0; i < 2; ++i) {
    auto m = tweets.receive_json();
    ASSERT_TRUE(m);
    auth_of[str(*m, "activityId")] = m->at("auth");
  }
  EXPECT_NE(auth_of["alice-1"], auth_of["bob-1"]);
  tweets.send_text(R"({"name":"tweets.listed","sender":"tweets","activityId":"bob-1","payload":{"count":0},"auth":)" +
                   json::serialize(auth_of["bob-1"]) + "}");
  auto reply = bob.receive_json();
  ASSERT_TRUE(reply);
  EXPECT_EQ(str(*reply, "name"), "tweets.listed");
  EXPECT_FALSE(reply->contains("auth")) << "browsers never see sessions";
  // A message for every browser, sent after the reply: alice gets it first, so she got no reply.
  EXPECT_TRUE(next_is_marker(alice, send_marker(tweets, "tweets", "tweet.posted")));
}

TEST_P(Gateway, MessagesWithoutASessionGoToEveryBrowser) {
  Gateways bus(GetParam());
  auto tweets = bus.service();
  // Each session is open once its handshake is answered, before anything later is routed.
  auto alice = bus.browser(), bob = bus.browser();
  tweets.send_message("tweet.posted", "tweets", R"({"content":"hello"})");
  EXPECT_TRUE(alice.receive_named("tweet.posted"));
  EXPECT_TRUE(bob.receive_named("tweet.posted"));
}

TEST_P(Gateway, RefusedNamesGetAnErrorFrame) {
  Gateways bus(GetParam());
  auto tweets = bus.service();
  auto page = bus.browser();
  page.send_text(R"({"name":"tweets.delete","payload":{"id":"1"}})");
  auto err = page.receive_named("exocom.error");
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").as_object(), "code"), "not-allowed");
  page.send_text(R"({"name":"exocom.register-service","sender":"tweets"})");
  err = page.receive_named("exocom.error");
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").as_object(), "code"), "reserved-name");
  page.send_text("not json");
  err = page.receive_named("exocom.error");
  ASSERT_TRUE(err);
  EXPECT_EQ(str(err->at("payload").as_object(), "code"), "invalid-message");
  // None of the refused messages reached tweets: a good one sent afterwards is the first it gets.
  page.send_text(R"({"name":"tweets.list","activityId":"after-refusals"})");
  EXPECT_TRUE(next_is_marker(tweets, "after-refusals"));
}

TEST_P(Gateway, OriginsOutsideTheAllowListAreRefused) {
  Gateways bus(GetParam());
  EXPECT_THROW(bus.browser("http://evil.example"), std::runtime_error);
  EXPECT_NO_THROW(bus.browser("http://127.0.0.1:8080"));
  EXPECT_NO_THROW(bus.browser(""));  // not a browser: no Origin header
  Gateways strict(GetParam(), {"--gateway-origin", "https://app.example"});
  EXPECT_THROW(strict.browser("http://localhost:3000"), std::runtime_error);
  EXPECT_NO_THROW(strict.browser("https://app.example"));
}

TEST_P(Gateway, MessageSizeAndRateLimits) {
  Gateways bus(GetParam(), {"--gateway-max-message-size", "1000", "--gateway-rate", "5"});
  auto tweets = bus.service();
  {
    auto page = bus.browser();
    for (int i = 0; i < 30; ++i) page.send_text(R"({"name":"tweets.list"})");
    auto err = page.receive_named("exocom.error");
    ASSERT_TRUE(err);
    EXPECT_EQ(str(err->at("payload").as_object(), "code"), "rate-limited");
    // Once the bucket has a token again, a marked message ends what tweets counts.
    std::this_thread::sleep_for(400ms);
    page.send_text(R"({"name":"tweets.list","activityId":"after-the-burst"})");
    int delivered = 0;
    while (auto m = tweets.receive_json()) {
      if (str(*m, "activityId") == "after-the-burst") break;
      ++delivered;
    }
    EXPECT_GE(delivered, 9);   // the burst (twice the rate) got through
    EXPECT_LE(delivered, 12);  // the rest did not
  }
  auto big = bus.browser();
  big.send_text("{\"name\":\"tweets.list\",\"payload\":\"" + std::string(2000, 'x') + "\"}");
  auto closed = big.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009);
}

TEST_P(Gateway, ServesTheJavaScriptClient) {
  Gateways bus(GetParam());
  auto [status, body] = http_get(bus.first_gateway(), "/exocom.js");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("export class Relay"), std::string::npos);
  EXPECT_EQ(http_get(bus.first_gateway(), "/other").first, 404);
}

TEST_P(Gateway, ABrowserThatLeavesLosesItsReplies) {
  Gateways bus(GetParam());
  auto tweets = bus.service();
  auto other = bus.browser();  // open all along: the reply must not reach it either
  json::value auth;
  {
    auto page = bus.browser();
    page.send_text(R"({"name":"tweets.list","activityId":"gone-1"})");
    auto m = tweets.receive_json();
    ASSERT_TRUE(m);
    auth = m->at("auth");
    ASSERT_TRUE(page.close());  // ExoCom has closed the session when it answers the close
  }
  tweets.send_text(R"({"name":"tweets.listed","sender":"tweets","activityId":"gone-1","auth":)" + json::serialize(auth) + "}");
  // ExoCom counts the reply it could not deliver ...
  const std::string dropped = "exocom_messages_dropped_total{reason=\"gateway-session-gone\"}";
  for (int i = 0; i < 250 && bus.metric(dropped) < 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(bus.metric(dropped), 1u);
  // ... and gave it to no other browser.
  EXPECT_TRUE(next_is_marker(other, send_marker(tweets, "tweets", "tweet.posted")));
}

// Rooms: a service puts sessions into a room as it answers them, then one message reaches every
// browser in the room (all tabs of one user, on whichever node each is) and no other.
TEST_P(Gateway, RoomsReachEveryBrowserInThemAndNoOther) {
  Gateways bus(GetParam());
  auto tweets = bus.service();
  auto tab1 = bus.browser(), tab2 = bus.browser(), other = bus.browser();
  for (auto* tab : {&tab1, &tab2}) {
    tab->send_text(R"({"name":"tweets.list"})");
    auto asked = tweets.receive_json();
    ASSERT_TRUE(asked);
    json::object auth = asked->at("auth").as_object();
    auth["join"] = "user:alice";
    tweets.send_text(R"({"name":"tweets.listed","sender":"tweets","activityId":")" + str(*asked, "activityId") +
                     R"(","auth":)" + json::serialize(auth) + "}");
    auto joined = tab->receive_named("tweets.listed");
    ASSERT_TRUE(joined) << "the answer that joins the room still reaches its browser";
    EXPECT_FALSE(joined->contains("auth"));
  }
  tweets.send_text(R"({"name":"tweet.posted","sender":"tweets","payload":{"for":"alice"},"auth":{"room":"user:alice"}})");
  for (auto* tab : {&tab1, &tab2}) {
    auto got = tab->receive_named("tweet.posted");
    ASSERT_TRUE(got);
    EXPECT_EQ(json::serialize(got->at("payload")), R"({"for":"alice"})");
  }
  // A message for every browser after it: the other browser's next message, and the tabs' next.
  std::string marker = send_marker(tweets, "tweets", "tweet.posted");
  for (auto* browser : {&other, &tab1, &tab2}) EXPECT_TRUE(next_is_marker(*browser, marker));
  // A closed tab leaves its rooms; the others still get what is sent to them.
  ASSERT_TRUE(tab1.close());
  tweets.send_text(R"({"name":"tweet.posted","sender":"tweets","payload":{"n":2},"auth":{"room":"user:alice"}})");
  auto again = tab2.receive_named("tweet.posted");
  ASSERT_TRUE(again);
  EXPECT_EQ(json::serialize(again->at("payload")), R"({"n":2})");
  // A room nobody is in: nothing to deliver, and nobody else gets it.
  tweets.send_text(R"({"name":"tweet.posted","sender":"tweets","auth":{"room":"user:nobody"}})");
  marker = send_marker(tweets, "tweets", "tweet.posted");
  for (auto* browser : {&other, &tab2}) EXPECT_TRUE(next_is_marker(*browser, marker));
}

// Out of file descriptors, accepting a browser fails; once descriptors are free again the gateway
// accepts browsers again (it used to re-arm the services' acceptor instead of its own).
TEST(GatewayProcess, KeepsAcceptingAfterAnAcceptError) {
  Gateways bus(BusKind::single);
  pid_t pid = bus.bus.node(0).process().pid();
  size_t open = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++open;
  rlimit saved{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &saved), 0);
  rlimit tight{open, saved.rlim_max};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);

  int fd = connect_loopback(bus.first_gateway());  // the kernel's backlog takes it
  ASSERT_GE(fd, 0);
  EXPECT_NE(bus.bus.output().wait_for("accepting a connection failed"), std::string::npos) << bus.bus.output().text();
  ::close(fd);

  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &saved, nullptr), 0);
  auto tweets = bus.service();
  auto page = bus.browser();
  page.send_text(R"({"name":"tweets.list","activityId":"after-emfile"})");
  auto got = tweets.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "activityId"), "after-emfile");
  // One line for the episode, not one per retry.
  EXPECT_EQ(bus.bus.output().count("accepting a connection failed"), 1u);
}

TEST(GatewayProcess, TheRoleMustBeInTheRoutes) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0", "--gateway-port", "0", "--gateway-role", "nobody"};
  o.env = {{"SERVICE_DATA", kRoutes}};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--gateway-role 'nobody' is not a role in the routing table"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Bus, Gateway, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
