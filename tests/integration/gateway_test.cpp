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

struct Bus {
  Exocom exocom;
  uint16_t gateway = 0;
  explicit Bus(std::vector<std::string> extra = {})
      : exocom(kRoutes, [&] {
          std::vector<std::string> args = {"--gateway-port", "0", "--gateway-role", "browser"};
          args.insert(args.end(), extra.begin(), extra.end());
          return args;
        }()) {
    std::smatch m;
    std::string text = exocom.output().text();
    if (std::regex_search(text, m, std::regex("gateway for 'browser' online at port (\\d+)"))) gateway = static_cast<uint16_t>(std::stoi(m[1]));
  }
  WsClient browser(const std::string& origin = "http://localhost:3000") {
    return WsClient::connect(gateway, "/", origin.empty() ? "" : "Origin: " + origin + "\r\n");
  }
  WsClient service() {
    auto c = WsClient::connect(exocom.port());
    c.register_as("tweets", R"({"ack":true})");
    EXPECT_TRUE(c.receive_named("exocom.registered"));
    return c;
  }
};

std::string str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

}  // namespace

TEST(Gateway, BrowserMessagesGoOnTheBusWithASession) {
  Bus bus;
  ASSERT_NE(bus.gateway, 0);
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
  EXPECT_EQ(str(got->at("auth").as_object(), "sessionId").size(), 36u);
  EXPECT_EQ(json::serialize(got->at("payload")), R"({"owner_id":"1"})");
}

TEST(Gateway, RepliesReachOnlyTheirBrowser) {
  Bus bus;
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

TEST(Gateway, MessagesWithoutASessionGoToEveryBrowser) {
  Bus bus;
  auto tweets = bus.service();
  // Each session is open once its handshake is answered, before anything later is routed.
  auto alice = bus.browser(), bob = bus.browser();
  tweets.send_message("tweet.posted", "tweets", R"({"content":"hello"})");
  EXPECT_TRUE(alice.receive_named("tweet.posted"));
  EXPECT_TRUE(bob.receive_named("tweet.posted"));
}

TEST(Gateway, RefusedNamesGetAnErrorFrame) {
  Bus bus;
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

TEST(Gateway, OriginsOutsideTheAllowListAreRefused) {
  Bus bus;
  EXPECT_THROW(bus.browser("http://evil.example"), std::runtime_error);
  EXPECT_NO_THROW(bus.browser("http://127.0.0.1:8080"));
  EXPECT_NO_THROW(bus.browser(""));  // not a browser: no Origin header
  Bus strict({"--gateway-origin", "https://app.example"});
  EXPECT_THROW(strict.browser("http://localhost:3000"), std::runtime_error);
  EXPECT_NO_THROW(strict.browser("https://app.example"));
}

TEST(Gateway, MessageSizeAndRateLimits) {
  Bus bus({"--gateway-max-message-size", "1000", "--gateway-rate", "5"});
  auto tweets = bus.service();
  {
    auto page = bus.browser();
    for (int i = 0; i < 30; ++i) page.send_text(R"({"name":"tweets.list"})");
    auto err = page.receive_named("exocom.error");
    ASSERT_TRUE(err);
    EXPECT_EQ(str(err->at("payload").as_object(), "code"), "rate-limited");
    int delivered = 0;
    while (tweets.receive(300ms)) ++delivered;
    EXPECT_GE(delivered, 9);   // the burst (twice the rate) got through
    EXPECT_LE(delivered, 12);  // the rest did not
  }
  auto big = bus.browser();
  big.send_text("{\"name\":\"tweets.list\",\"payload\":\"" + std::string(2000, 'x') + "\"}");
  auto closed = big.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009);
}

TEST(Gateway, ServesTheJavaScriptClient) {
  Bus bus;
  auto [status, body] = http_get(bus.gateway, "/exocom.js");
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("export class Relay"), std::string::npos);
  EXPECT_EQ(http_get(bus.gateway, "/other").first, 404);
}

TEST(Gateway, ABrowserThatLeavesLosesItsReplies) {
  Bus bus;
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
  std::string metrics;
  for (int i = 0; i < 250; ++i) {
    metrics = bus.exocom.get("/metrics").second;
    if (metrics.find("exocom_messages_dropped_total{reason=\"gateway-session-gone\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(metrics.find("exocom_messages_dropped_total{reason=\"gateway-session-gone\"} 1"), std::string::npos) << metrics;
  // ... and gave it to no other browser.
  EXPECT_TRUE(next_is_marker(other, send_marker(tweets, "tweets", "tweet.posted")));
}

// Out of file descriptors, accepting a browser fails; once descriptors are free again the gateway
// accepts browsers again (it used to re-arm the services' acceptor instead of its own).
TEST(Gateway, KeepsAcceptingAfterAnAcceptError) {
  Bus bus;
  pid_t pid = bus.exocom.process().pid();
  size_t open = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++open;
  rlimit saved{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &saved), 0);
  rlimit tight{open, saved.rlim_max};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);

  int fd = connect_loopback(bus.gateway);  // the kernel's backlog takes it
  ASSERT_GE(fd, 0);
  EXPECT_NE(bus.exocom.output().wait_for("accepting a connection failed"), std::string::npos) << bus.exocom.output().text();
  ::close(fd);

  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &saved, nullptr), 0);
  auto tweets = bus.service();
  auto page = bus.browser();
  page.send_text(R"({"name":"tweets.list","activityId":"after-emfile"})");
  auto got = tweets.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(str(*got, "activityId"), "after-emfile");
  // One line for the episode, not one per retry.
  EXPECT_EQ(bus.exocom.output().count("accepting a connection failed"), 1u);
}

TEST(Gateway, TheRoleMustBeInTheRoutes) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0", "--gateway-port", "0", "--gateway-role", "nobody"};
  o.env = {{"SERVICE_DATA", kRoutes}};
  auto r = run_captured(o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--gateway-role 'nobody' is not a role in the routing table"), std::string::npos) << r.err;
}
