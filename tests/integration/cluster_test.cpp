// What only a cluster has: nodes joining and leaving, NATS going away, routes that differ,
// packets nobody should send. (Every routing scenario also runs on a cluster: exocom_test.cpp.)
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <boost/json/parse.hpp>

#include "common/ids.hpp"
#include "support/bus.hpp"
#include "support/processes.hpp"
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

namespace {

// A port nothing listens on.
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// An exocom that is expected to refuse to start: its exit code and what it printed.
std::pair<std::optional<int>, std::string> failed_start(std::string service_data, std::vector<std::string> args) {
  SpawnOptions o;
  o.argv = {exocom_binary(), "--host", "127.0.0.1", "--port", "0"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = {{"NO_COLOR", "1"}, {"SERVICE_DATA", std::move(service_data)}};
  o.unset_env = {"SERVICE_ROUTES", "PORT", "EXOCOM_CLUSTER"};
  Watched node(o);
  auto code = node.wait_exit(20s);
  node.stop();
  return {code, node.output().text()};
}

json::object cluster_status(Bus& bus, size_t node) {
  auto [code, body] = bus.node(node).get("/status");
  return json::parse(body).at("cluster").as_object();
}

uint64_t dropped(Bus& bus, size_t node, const char* reason) {
  json::object status = cluster_status(bus, node);
  auto* n = status.at("dropped").as_object().if_contains(reason);
  return n ? n->to_number<uint64_t>() : 0;
}

}  // namespace

TEST(Cluster, NatsUnreachableAtStartIsOneLineAndExit1) {
  uint16_t port = closed_port();
  auto started = std::chrono::steady_clock::now();
  auto [code, out] = failed_start(kRoutes, {"--cluster", "nats://127.0.0.1:" + std::to_string(port)});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(code) << "still running after 20 s: " << out;
  EXPECT_EQ(*code, 1) << out;
  EXPECT_NE(out.find("cannot reach NATS at nats://127.0.0.1:" + std::to_string(port)), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line, no more: " << out;
  EXPECT_LT(took, 10s) << "the wait for NATS is bounded";
}

TEST(Cluster, ANodeWithOtherRoutesRefusesToJoin) {
  Bus bus(BusKind::cluster, kRoutes);
  auto [code, out] = failed_start(R"({"web":{"receives":["pong"],"sends":["ping","other"]}})", bus.node_args("n9"));
  ASSERT_TRUE(code) << out;
  EXPECT_EQ(*code, 1) << out;
  EXPECT_NE(out.find("this node's routes differ from those of the cluster"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  // The cluster carries on, without a trace of the refused node.
  EXPECT_EQ(cluster_status(bus, 0).at("peers").as_array().size(), 2u);
}

TEST(Cluster, ANodeNameInUseIsRefused) {
  Bus bus(BusKind::cluster, kRoutes);
  auto [code, out] = failed_start(kRoutes, bus.node_args("n1"));
  ASSERT_TRUE(code) << out;
  EXPECT_EQ(*code, 1) << out;
  EXPECT_NE(out.find("the node name 'n1' is taken"), std::string::npos) << out;
}

TEST(Cluster, AKilledNodesInstancesExpireWithinTwoHeartbeats) {
  Bus bus(BusKind::cluster, kRoutes);
  auto web = registered_on(bus, 0, "web");
  auto pinger = registered_on(bus, 1, "pinger");
  ASSERT_TRUE(bus.wait_known("pinger", 1));
  bus.node(1).process().signal(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(bus.wait_gone("pinger", 0, 5s)) << bus.output().text();
  auto gone = std::chrono::steady_clock::now() - killed;
  // Two heartbeats of silence, checked every quarter heartbeat, plus the polling of /status.
  EXPECT_LT(gone, 2 * Bus::kHeartbeat + Bus::kHeartbeat / 2 + 150ms);
  EXPECT_NE(bus.output().wait_for("ExoCom node 'n1' fell silent"), std::string::npos);
  // What is sent for the role now waits for its next instance, on any node.
  web.send_message("ping", "web", R"({"n":7})");
  auto again = registered_on(bus, 2, "pinger");
  auto ping = again.receive_named("ping");
  ASSERT_TRUE(ping) << bus.output().text();
  EXPECT_EQ(ping->at("payload").at("n"), 7);
}

TEST(Cluster, NatsLostAndBack) {
  Bus bus(BusKind::cluster, kRoutes);
  auto web = registered_on(bus, 0, "web");
  auto pinger = registered_on(bus, 1, "pinger");
  auto near_web = registered_on(bus, 1, "web");
  ASSERT_TRUE(bus.wait_known("pinger", 1));
  ASSERT_TRUE(bus.wait_known("web", 2));
  bus.nats()->kill();
  for (size_t i = 0; i < bus.nodes(); ++i)
    ASSERT_NE(bus.node(i).output().wait_for("lost the connection to NATS"), std::string::npos) << bus.output().text();
  EXPECT_FALSE(cluster_status(bus, 0).at("nats").at("connected").as_bool());
  // Each node still routes between the services connected to it...
  near_web.send_message("ping", "web", R"({"n":1})");
  auto local = pinger.receive_named("ping");
  ASSERT_TRUE(local) << bus.output().text();
  EXPECT_EQ(local->at("payload").at("n"), 1);
  // ...and holds what is for services on the others until NATS is back.
  web.send_message("ping", "web", R"({"n":2})");
  EXPECT_FALSE(pinger.receive(500ms));
  bus.nats()->start_again();
  auto held = pinger.receive_named("ping", 10s);
  ASSERT_TRUE(held) << bus.output().text();
  EXPECT_EQ(held->at("payload").at("n"), 2);
  EXPECT_NE(bus.output().wait_for("connected to NATS again"), std::string::npos);
  ASSERT_TRUE(bus.wait_known("web", 2));
  EXPECT_TRUE(cluster_status(bus, 0).at("nats").at("connected").as_bool());
  EXPECT_EQ(cluster_status(bus, 0).at("peers").as_array().size(), 2u);
}

TEST(Cluster, MalformedAndForgedPacketsAreDroppedAndCounted) {
  Bus bus(BusKind::cluster, kRoutes);
  auto web = registered_on(bus, 0, "web");
  auto pinger = registered_on(bus, 1, "pinger");
  ASSERT_TRUE(bus.wait_known("pinger", 1));
  const std::string prefix = bus.cluster_name() + ".";
  std::string n0 = "2:n0,", boot = cluster_status(bus, 0).at("boot").as_string().c_str();
  std::string from_n0 = n0 + std::to_string(boot.size()) + ":" + boot + ",";
  auto field = [](std::string_view f) { return std::to_string(f.size()) + ":" + std::string(f) + ","; };
  auto delivery = [&](std::string_view from_role, std::string_view text) {
    return field("D") + field("pinger") + field("someone") + field(from_role) + field("") + field("") + field("1") +
           field(text);
  };
  // Not a batch at all; a batch from a node nobody knows; a message web may not send; a sender
  // that is not the role it claims.
  bus.nats()->publish(prefix + "node.n1", "garbage");
  bus.nats()->publish(prefix + "node.n1", "2:n9,4:boot," + delivery("web", R"({"name":"ping","sender":"web"})"));
  bus.nats()->publish(prefix + "node.n1", from_n0 + delivery("web", R"({"name":"pong","sender":"web"})"));
  bus.nats()->publish(prefix + "node.n1", from_n0 + delivery("web", R"({"name":"ping","sender":"pinger"})"));
  bus.nats()->publish(prefix + "presence", "{\"node\":");
  bus.nats()->publish(prefix + "presence", R"({"node":"n7","boot":"x","routes":"other","instances":[]})");
  EXPECT_TRUE(next_is_marker(pinger, send_marker(web, "web", "ping"))) << "a forged message was routed";
  EXPECT_EQ(dropped(bus, 1, "malformed-batch"), 1u);
  EXPECT_EQ(dropped(bus, 1, "unknown-node"), 1u);
  EXPECT_EQ(dropped(bus, 1, "forged-delivery"), 2u);
  EXPECT_GE(dropped(bus, 1, "malformed-presence"), 1u);
  EXPECT_GE(dropped(bus, 1, "routes-differ"), 1u);
  auto [code, metrics] = bus.node(1).get("/metrics");
  EXPECT_NE(metrics.find("exocom_cluster_packets_dropped_total{reason=\"forged-delivery\"} 2"), std::string::npos) << metrics;
}

// With JetStream, what a node holds outlives it: the first node alive by name takes it over.
TEST(Cluster, HeldMessagesOutliveTheNodeThatHeldThem) {
  Bus bus(BusKind::cluster, kRoutes, {}, {}, /*jetstream=*/true);
  EXPECT_TRUE(cluster_status(bus, 2).at("jetstream").as_bool());
  auto web = registered_on(bus, 2, "web");
  for (int i = 0; i < 100; ++i) web.send_message("ping", "web", "{\"n\":" + std::to_string(i) + "}");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (cluster_status(bus, 2).at("heldInJetStream").to_number<int>() < 100 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(cluster_status(bus, 2).at("heldInJetStream").to_number<int>(), 100) << bus.output().text();
  bus.node(2).process().signal(SIGKILL);
  // `heldInJetStream` counts what JetStream confirmed. Death is noticed within 2.25 s, then JetStream
  // is read until nothing is left: the test is about nothing being lost, so it waits for the
  // takeover as long as that may take under load.
  ASSERT_NE(bus.node(0).output().wait_for("took over 100 messages node 'n2' held", 30s), std::string::npos)
      << bus.output().text();
  auto pinger = registered_on(bus, 1, "pinger");
  for (int i = 0; i < 100; ++i) {
    auto ping = pinger.receive_named("ping");
    ASSERT_TRUE(ping) << "message " << i << "\n" << bus.output().text();
    ASSERT_EQ(ping->at("payload").at("n"), i);
  }
  // Delivered, the copies go.
  deadline = std::chrono::steady_clock::now() + 5s;
  while (cluster_status(bus, 0).at("heldInJetStream").to_number<int>() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(cluster_status(bus, 0).at("heldInJetStream").to_number<int>(), 0);
}

namespace {

// Keeps both cores busy while it lives: the load under which a takeover must still finish.
class CpuLoad {
 public:
  explicit CpuLoad(int threads = 2) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        volatile uint64_t n = 0;
        while (!stop_.load(std::memory_order_relaxed)) n = n + 1;
      });
  }
  ~CpuLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

int held_in_jetstream(Bus& bus, size_t node) { return cluster_status(bus, node).at("heldInJetStream").to_number<int>(); }

}  // namespace

// `heldInJetStream` counts what JetStream confirmed, nothing less: a node killed the moment it
// says 100 loses none of them.
TEST(Cluster, HeldInJetStreamMeansConfirmed) {
  Bus bus(BusKind::cluster, kRoutes, {}, {}, /*jetstream=*/true);
  auto web = registered_on(bus, 2, "web");
  for (int i = 0; i < 100; ++i) web.send_message("ping", "web", "{\"n\":" + std::to_string(i) + "}");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (held_in_jetstream(bus, 2) < 100 && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_EQ(held_in_jetstream(bus, 2), 100) << bus.output().text();
  bus.node(2).process().signal(SIGKILL);
  ASSERT_NE(bus.node(0).output().wait_for("took over 100 messages node 'n2' held", 30s), std::string::npos)
      << bus.output().text();
}

// A thousand held messages, taken over while both cores are busy: every one arrives, once, in order.
TEST(Cluster, AThousandHeldMessagesAreTakenOverUnderLoad) {
  constexpr int kCount = 1000;
  Bus bus(BusKind::cluster, kRoutes, {}, {}, /*jetstream=*/true);
  auto web = registered_on(bus, 2, "web");
  for (int i = 0; i < kCount; ++i) web.send_message("ping", "web", "{\"n\":" + std::to_string(i) + "}");
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (held_in_jetstream(bus, 2) < kCount && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(held_in_jetstream(bus, 2), kCount) << bus.output().text();
  {
    CpuLoad load;
    bus.node(2).process().signal(SIGKILL);
    ASSERT_NE(bus.node(0).output().wait_for("took over " + std::to_string(kCount) + " messages node 'n2' held", 60s),
              std::string::npos)
        << bus.output().text();
  }
  EXPECT_EQ(bus.output().count("could not take over"), 0u) << bus.output().text();
  auto pinger = registered_on(bus, 1, "pinger");
  for (int i = 0; i < kCount; ++i) {
    auto ping = pinger.receive_named("ping");
    ASSERT_TRUE(ping) << "message " << i << " lost\n" << bus.output().text();
    ASSERT_EQ(ping->at("payload").at("n"), i) << "lost or duplicated";
  }
  auto web_again = registered_on(bus, 0, "web");
  EXPECT_TRUE(next_is_marker(pinger, send_marker(web_again, "web", "ping"))) << "a message arrived twice\n"
                                                                            << bus.output().text();
}

// Node names that differ only where a subject token cannot hold them ('.') keep their copies apart:
// a node does not take over what another, live, node holds.
TEST(Cluster, NodeNamesThatLookAlikeInSubjectsDoNotShareCopies) {
  Bus bus(BusKind::cluster, kRoutes, {}, {}, /*jetstream=*/true);
  Exocom a_b(kRoutes, bus.node_args("a_b"));
  auto web = WsClient::connect(a_b.port());
  web.register_as("web", R"({"ack":true,"errors":true})");
  ASSERT_TRUE(web.receive_named("exocom.registered"));
  for (int i = 0; i < 3; ++i) web.send_message("ping", "web", "{\"n\":" + std::to_string(i) + "}");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto held = [&] {
    auto [code, body] = a_b.get("/status");
    return json::parse(body).at("cluster").at("heldInJetStream").to_number<int>();
  };
  while (held() < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(held(), 3) << a_b.output().text();
  // A node named a.b starts, and takes over what its own previous run (it had none) held.
  Exocom a_dot_b(kRoutes, bus.node_args("a.b"));
  EXPECT_EQ(a_dot_b.output().wait_for("took over", 1500ms), std::string::npos) << a_dot_b.output().text();
  // a_b still delivers what it holds, once.
  auto pinger = registered_on(bus, 0, "pinger");
  for (int i = 0; i < 3; ++i) {
    auto ping = pinger.receive_named("ping");
    ASSERT_TRUE(ping) << a_b.output().text();
    ASSERT_EQ(ping->at("payload").at("n"), i);
  }
  EXPECT_TRUE(next_is_marker(pinger, send_marker(web, "web", "ping"))) << "a message arrived twice";
}
