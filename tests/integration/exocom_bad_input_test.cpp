// Everything the network can send: ExoCom logs, refuses or cuts off the offender, and every other
// connection keeps working.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.hpp"
#include "common/net.hpp"
#include "support/bus.hpp"
#include "support/processes.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {

const std::string kRoutes = R"({"web":{"receives":["pong"],"sends":["ping"]},"pinger":{"receives":["ping"],"sends":["pong"]}})";

std::string code_of(const std::optional<json::object>& err) {
  if (!err) return "(no error)";
  if (err->at("name") != "exocom.error") return "(not an error: " + json::serialize(*err) + ")";
  return std::string(err->at("payload").at("code").as_string());
}

// A pair of healthy services: after each attack, they must still talk. In a cluster they talk
// across two nodes; pinger takes its node first, so the first attacker (a 'web') gets the third.
struct Healthy {
  size_t pinger_node, web_node;
  WsClient pinger, web;
  explicit Healthy(Bus& bus)
      : pinger_node(bus.node_for("pinger")),
        web_node(bus.node_for("web")),
        pinger(WsClient::connect(bus.port(pinger_node))),
        web(WsClient::connect(bus.port(web_node))) {
    web.register_as("web", R"({"ack":true})");
    pinger.register_as("pinger", R"({"ack":true})");
    EXPECT_TRUE(web.receive_named("exocom.registered"));
    EXPECT_TRUE(pinger.receive_named("exocom.registered"));
    if (bus.clustered()) {  // each node learns of the other's instance from its announcement
      EXPECT_TRUE(bus.wait_known("web", 1));
      EXPECT_TRUE(bus.wait_known("pinger", 1));
    }
  }
  // A node neither of them is on (in a cluster), else the only one.
  size_t spare_node(const Bus& bus) const {
    for (size_t n = 0; n < bus.nodes(); ++n)
      if (n != web_node && n != pinger_node) return n;
    return 0;
  }
  void still_works() {
    std::string aid = new_uuid();
    web.send_message("ping", "web", "{}", aid);
    auto got = pinger.receive_json();
    ASSERT_TRUE(got) << "the bus stopped routing";
    EXPECT_EQ(got->at("name"), "ping");
    pinger.send_message("pong", "pinger", "{}", aid);
    ASSERT_TRUE(web.receive_named("pong"));
  }
};

int raw_connect(uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) throw std::runtime_error("cannot connect");
  return fd;
}

// What the status of `node` says once only the healthy services on it and the status request
// itself are connected.
std::string settled(const Healthy& ok, size_t node) {
  return "\"sockets\":" + std::to_string(1 + (node == ok.web_node) + (node == ok.pinger_node)) + ",";
}

// The status of `node` once it says `settled` (else its last, after `timeout`).
std::string status_once_settled(Bus& bus, const Healthy& ok, size_t node, std::chrono::milliseconds timeout = 2s) {
  std::string want = settled(ok, node);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string status;
  while (true) {
    status = bus.node(node).get("/status").second;
    if (status.find(want) != std::string::npos || std::chrono::steady_clock::now() >= deadline) return status;
    std::this_thread::sleep_for(20ms);
  }
}

// On the node its turn gives it: in a cluster, the attacks go round the nodes.
WsClient attacker(Bus& bus, std::string_view role = "web") {
  auto c = WsClient::connect(bus.port(bus.node_for(role)));
  c.register_as(role, R"({"ack":true,"errors":true})");
  EXPECT_TRUE(c.receive_named("exocom.registered"));
  return c;
}

std::string kind_name(const ::testing::TestParamInfo<BusKind>& info) { return to_string(info.param); }

}  // namespace

// Every attack runs on one ExoCom and on a cluster of three nodes, where it hits one node while
// the healthy pair talks across others (instantiated at the end of the file).
class ExocomBadInput : public ::testing::TestWithParam<BusKind> {};

TEST_P(ExocomBadInput, InvalidJson) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_text("{\"name\": \"ping\", ");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message");
  bad.send_text("not json at all");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message");
  EXPECT_NE(bus.output().wait_for("Invalid message from 'web'"), std::string::npos);
  ok.still_works();
}

TEST_P(ExocomBadInput, JsonThatIsNotAnObject) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  for (auto text : {"[]", "42", "\"ping\"", "null"}) {
    bad.send_text(text);
    EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message") << text;
  }
  ok.still_works();
}

TEST_P(ExocomBadInput, WrongFieldTypes) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  for (auto text : {R"({"name":42,"sender":"web"})", R"({"name":"ping","sender":"web","id":7})",
                    R"({"name":"ping","sender":["web"]})", R"({"name":"ping","sender":"web","activityId":{}})",
                    R"({"name":"ping","sender":"web","isSecurity":"yes"})"}) {
    bad.send_text(text);
    EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message") << text;
  }
  ok.still_works();
}

TEST_P(ExocomBadInput, EmptyOrMissingName) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_text(R"({"name":"","sender":"web"})");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message");
  bad.send_text(R"({"sender":"web","payload":{}})");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message");
  ok.still_works();
}

TEST_P(ExocomBadInput, DuplicateKeysAndDeepNesting) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_text(R"({"name":"ping","name":"pong","sender":"web"})");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "invalid-message");
  bad.send_text("{\"name\":\"ping\",\"sender\":\"web\",\"payload\":" + std::string(10000, '[') + std::string(10000, ']') + "}");
  auto deep = bad.receive_named("exocom.error");
  EXPECT_EQ(code_of(deep), "invalid-message");
  EXPECT_EQ(deep->at("payload").at("message"), "Invalid message from 'web': JSON nested more than 64 levels deep");
  ok.still_works();
}

TEST_P(ExocomBadInput, OversizeMessageClosesWith1009) {
  Bus bus(GetParam(), kRoutes, {"--max-message-size", "1000"});
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_message("ping", "web", "\"" + std::string(2000, 'x') + "\"");
  auto closed = bad.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009);
  ok.still_works();
}

TEST_P(ExocomBadInput, OversizeFragmentedMessageClosesWith1009) {
  Bus bus(GetParam(), kRoutes, {"--max-message-size", "1000"});
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_frame(ws::Opcode::text, std::string(600, ' '), false);
  bad.send_frame(ws::Opcode::continuation, std::string(600, ' '), true);
  auto closed = bad.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009);
  ok.still_works();
}

TEST_P(ExocomBadInput, FragmentedMessagesAreJoined) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  std::string msg = R"({"name":"ping","sender":"web","id":"f1","activityId":"fa"})";
  ok.web.send_frame(ws::Opcode::text, msg.substr(0, 10), false);
  ok.web.send_frame(ws::Opcode::ping, "in between", true);
  ok.web.send_frame(ws::Opcode::continuation, msg.substr(10), true);
  auto got = ok.pinger.receive_json();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->at("id"), "f1");
}

TEST_P(ExocomBadInput, BinaryFramesCloseWith1003) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_frame(ws::Opcode::binary, "\x01\x02");
  auto closed = bad.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1003);
  ok.still_works();
}

TEST_P(ExocomBadInput, InvalidUtf8ClosesWith1007) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_text("{\"name\":\"ping\",\"sender\":\"web\",\"payload\":\"\xff\xfe\"}");
  auto closed = bad.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1007);
  ok.still_works();
}

TEST_P(ExocomBadInput, ProtocolViolationsCloseWith1002) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  {
    auto bad = attacker(bus);
    bad.send_raw(std::string("\x81\x05hello", 7));  // unmasked client frame
    auto closed = bad.wait_close();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code, 1002);
  }
  {
    auto bad = attacker(bus);
    bad.send_frame(ws::Opcode::continuation, "orphan");
    auto closed = bad.wait_close();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code, 1002);
  }
  {
    auto bad = attacker(bus);
    bad.send_frame(static_cast<ws::Opcode>(3), "reserved opcode");
    auto closed = bad.wait_close();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code, 1002);
  }
  ok.still_works();
}

TEST_P(ExocomBadInput, EveryCloseCodeIsAnsweredCleanly) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999}) {
    auto c = attacker(bus);
    auto closed = c.close(code);
    ASSERT_TRUE(closed) << code;
    EXPECT_TRUE(closed->clean) << code;
    EXPECT_EQ(closed->code, code);
  }
  {
    auto c = attacker(bus);
    c.send_frame(ws::Opcode::close, "");  // no status code at all
    auto closed = c.wait_close();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code, 1000);
  }
  for (uint16_t code : {999, 1004, 1005, 1006, 1015, 2000, 5000}) {
    auto c = attacker(bus);
    c.send_frame(ws::Opcode::close, ws::close_payload(code, "invalid"));
    auto closed = c.wait_close();
    ASSERT_TRUE(closed) << code;
    EXPECT_EQ(closed->code, 1002) << code;
  }
  ok.still_works();
}

TEST_P(ExocomBadInput, UncleanDisconnects) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  for (int i = 0; i < 5; ++i) {
    auto c = attacker(bus, "pinger");
    c.abort();
  }
  {
    // Half a frame, then gone.
    auto c = attacker(bus);
    c.send_raw(std::string("\x81\xfe\x10", 3));
    c.abort();
  }
  {
    // Half an HTTP request, then gone (to node 0).
    int fd = raw_connect(bus.port());
    std::string half = "GET /services HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
    (void)!::send(fd, half.data(), half.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  ok.still_works();
  // Every one of those sockets is gone: on each node, its healthy services and this status request
  // remain; and no node counts the instances that went.
  for (size_t n = 0; n < bus.nodes(); ++n) {
    std::string status = status_once_settled(bus, ok, n);
    EXPECT_NE(status.find(settled(ok, n)), std::string::npos) << "node " << n << ": " << status;
  }
  EXPECT_TRUE(bus.wait_gone("pinger", 1));
  EXPECT_TRUE(bus.wait_gone("web", 1));
}

// Half an HTTP request that stays (on node 0): the connection is closed once the registration
// time is up.
TEST_P(ExocomBadInput, AnUnfinishedHttpRequestIsClosed) {
  Bus bus(GetParam(), kRoutes, {"--register-timeout", "1"});
  Healthy ok(bus);
  int fd = raw_connect(bus.port());
  std::string half = "GET /services HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  (void)!::send(fd, half.data(), half.size(), MSG_NOSIGNAL);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "still open after the registration timeout";
  char buf[64];
  EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0);  // closed without an answer
  ::close(fd);
  ok.still_works();
}

// An 8 MiB message against a 1 MiB limit, still being written when ExoCom refuses it: the sender
// reads a clean close frame with 1009 rather than a reset connection.
TEST_P(ExocomBadInput, AnOversizeMessageStillBeingWrittenGetsItsCloseFrame) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  std::string big = R"({"name":"ping","sender":"web","payload":")" + std::string(8u << 20, 'x') + "\"}";
  std::string write_error;
  std::thread writer([&] {
    try {
      bad.send_text(big);
    } catch (const std::exception& e) {
      write_error = e.what();
    }
  });
  auto closed = bad.wait_close(10s);
  writer.join();
  // ExoCom read (and discarded) the rest of the message: the client finished writing it rather
  // than having its connection reset under it (EPIPE).
  EXPECT_EQ(write_error, "");
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->clean) << closed->reason;
  EXPECT_EQ(closed->code, 1009);
  EXPECT_EQ(closed->reason, "message too big");
  ok.still_works();
}

TEST_P(ExocomBadInput, SecondRegisterWithAnotherRole) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.register_as("pinger");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "already-registered");
  // It is still 'web', not 'pinger'.
  bad.send_message("ping", "web");
  EXPECT_TRUE(ok.pinger.receive_named("ping"));
  ok.still_works();
}

TEST_P(ExocomBadInput, SpoofedSender) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  // Twice: were the spoofs routed, round-robin would hand one to each 'web', the attacker itself
  // and the healthy one (in a cluster, on another node).
  bad.send_message("pong", "pinger");
  bad.send_message("pong", "pinger");
  EXPECT_EQ(code_of(bad.receive_json()), "sender-mismatch");
  EXPECT_EQ(code_of(bad.receive_json()), "sender-mismatch");
  // ExoCom handled the spoof before it sent the error; pinger's pong comes after anything it routed.
  EXPECT_TRUE(next_is_marker(ok.web, send_marker(ok.pinger, "pinger", "pong")));
  ok.still_works();
}

TEST_P(ExocomBadInput, UnknownRoleIsClosedWith1008) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = WsClient::connect(bus.port(bus.node_for("intruder")));
  bad.register_as("intruder");
  auto closed = bad.wait_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008);
  EXPECT_EQ(closed->reason, "unknown role 'intruder'");
  ok.still_works();
}

// One node only: --dev-open and --cluster exclude each other (every node must route the same way).
TEST(ExocomBadInputOneNode, DevOpenAcceptsAnyRoleAndLearnsItsRoutes) {
  Exocom bus("", {"--dev-open"});
  auto a = WsClient::connect(bus.port());
  a.register_as("alpha", R"({"ack":true,"sends":["hello"]})");
  ASSERT_TRUE(a.receive_named("exocom.registered"));
  auto b = WsClient::connect(bus.port());
  b.register_as("beta", R"({"ack":true,"receives":["hello"]})");
  ASSERT_TRUE(b.receive_named("exocom.registered"));
  a.send_message("hello", "alpha");
  EXPECT_TRUE(b.receive_named("hello"));
}

TEST_P(ExocomBadInput, MessagesBeforeRegistering) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = WsClient::connect(bus.port(bus.node_for("unregistered")));
  bad.send_message("ping", "web");
  EXPECT_NE(bus.output().wait_for("before registering"), std::string::npos);
  EXPECT_TRUE(next_is_marker(ok.pinger, send_marker(ok.web, "web", "ping")));
  ok.still_works();
}

TEST_P(ExocomBadInput, ReservedNames) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = attacker(bus);
  bad.send_message("exocom.registered", "web");
  EXPECT_EQ(code_of(bad.receive_named("exocom.error")), "reserved-name");
  ok.still_works();
}

TEST_P(ExocomBadInput, RegisterWithoutSender) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  auto bad = WsClient::connect(bus.port(bus.node_for("unregistered")));
  bad.send_text(R"({"name":"exocom.register-service","id":"1"})");
  EXPECT_NE(bus.output().wait_for("exocom.register-service needs 'sender'"), std::string::npos);
  ok.still_works();
}

TEST_P(ExocomBadInput, AReceiverThatNeverReadsIsCutOff) {
  Bus bus(GetParam(), kRoutes, {"--send-queue-bytes", "200000"});
  Healthy ok(bus);
  // In a cluster on a node of its own: web's messages for it cross NATS, and what it leaves goes
  // back to web's node, which must not hold pinger's other messages meanwhile.
  size_t lazy_node = ok.spare_node(bus);
  auto lazy = WsClient::connect(bus.port(lazy_node));
  lazy.register_as("pinger", R"({"ack":true})");
  auto registered = lazy.receive_named("exocom.registered");  // the last thing it reads
  ASSERT_TRUE(registered);
  // The instance name ExoCom makes up ends with the connection's number, which its log shows.
  std::string instance(registered->at("payload").at("instance").as_string());
  std::string connection = instance.substr(instance.rfind('-') + 1);
  ASSERT_TRUE(bus.wait_known("pinger", 2));
  // The healthy instance reads all along; the lazy one never reads.
  int received = 0;
  std::thread reader([&] {
    while (ok.pinger.receive(2s)) ++received;
  });
  std::string big = "\"" + std::string(10000, 'x') + "\"";
  // 20 MB: more than the kernel's socket buffers can absorb for the lazy one.
  for (int i = 0; i < 2000; ++i) ok.web.send_message("ping", "web", big);
  reader.join();
  EXPECT_NE(bus.output().wait_for("'pinger' (connection " + connection + ") did not read"), std::string::npos)
      << bus.output().text();
  EXPECT_EQ(bus.output().count("cut off as a slow consumer"), 1u);
  // The healthy instance got its round-robin half plus what was still queued for the lazy one
  // (frames already in the lazy one's TCP buffers are gone with it).
  EXPECT_GT(received, 1000);
  // Once its close handshake timed out, the frame it was still being sent went to pinger too: no
  // node dropped anything on the way.
  std::string status = status_once_settled(bus, ok, lazy_node, 5s);
  EXPECT_NE(status.find(settled(ok, lazy_node)), std::string::npos) << status;
  for (size_t n = 0; n < bus.nodes(); ++n) {
    std::string metrics = bus.node(n).get("/metrics").second;
    size_t at = metrics.find("dropped_total{");
    EXPECT_EQ(at, std::string::npos) << "node " << n << ": " << metrics.substr(at, metrics.find('\n', at) - at);
  }
  ok.still_works();
}

TEST_P(ExocomBadInput, SilentConnectionsAreClosed) {
  Bus bus(GetParam(), kRoutes, {"--register-timeout", "1"});
  Healthy ok(bus);
  auto idle = WsClient::connect(bus.port());  // on node 0
  auto closed = idle.wait_close(5s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008);
  ok.still_works();
}

// To node 0.
TEST_P(ExocomBadInput, GarbageInsteadOfHttp) {
  Bus bus(GetParam(), kRoutes);
  Healthy ok(bus);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(bus.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string junk(20000, 'A');
  (void)!::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 431");
  ::close(fd);
  ok.still_works();
}

INSTANTIATE_TEST_SUITE_P(Bus, ExocomBadInput, ::testing::Values(BusKind::single, BusKind::cluster), kind_name);
