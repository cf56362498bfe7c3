// The routing core without sockets: peers that record what they are sent.
#include <gtest/gtest.h>

#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "exocom/broker.hpp"

using namespace exo;
using namespace exo::exocom;
namespace json = boost::json;

namespace {

struct FakePeer : Peer {
  explicit FakePeer(uint64_t id) : Peer(id) {}
  std::vector<json::object> got;
  std::optional<uint16_t> closed_with;
  std::vector<Ticket> tickets;  // of the frames in `got`, in order: written when the test says so
  void send_frame(const Frame& f, Ticket t) override {
    got.push_back(json::parse(f.payload()).as_object());
    tickets.push_back(t);
  }
  void close(uint16_t code, std::string_view) override { closed_with = code; }
  std::string last_name() const { return got.empty() ? "" : std::string(got.back().at("name").as_string()); }
};

struct Bus {
  Options options;
  std::FILE* sink = std::tmpfile();
  TraceLog log{options, sink};
  std::unique_ptr<Broker> broker;
  uint64_t next = 1;
  std::vector<std::unique_ptr<FakePeer>> peers;

  explicit Bus(std::string_view routes, Options o = {}) : options(o), log(options, sink) {
    broker = std::make_unique<Broker>(config::parse_routes(routes, "routes"), options, log);
  }
  ~Bus() { std::fclose(sink); }
  FakePeer& connect(std::string_view role, std::string_view reg_payload = R"({"errors":true})") {
    peers.push_back(std::make_unique<FakePeer>(next++));
    auto& p = *peers.back();
    broker->connected(p);
    broker->message(p, R"({"name":"exocom.register-service","sender":")" + std::string(role) + R"(","payload":)" +
                           std::string(reg_payload) + "}");
    return p;
  }
  void send(FakePeer& from, std::string_view name, std::string_view activity = "a", std::string_view payload = "{}") {
    broker->message(from, R"({"name":")" + std::string(name) + R"(","sender":")" + from.role() + R"(","id":"i","activityId":")" +
                              std::string(activity) + R"(","payload":)" + std::string(payload) + "}");
  }
  std::string log_text() {
    log.flush();
    std::fflush(sink);
    std::rewind(sink);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, sink)) > 0) out.append(buf, n);
    return out;
  }
};

const char* kRoutes = R"({
  "web": {"receives": ["users.created"], "sends": ["users.create"]},
  "users": {"receives": ["mongo.create"], "sends": ["mongo.created"],
            "translations": [{"public": "users.create", "internal": "mongo.create"},
                             {"public": "users.created", "internal": "mongo.created"}]}
})";

std::string error_code(const FakePeer& p) {
  for (auto it = p.got.rbegin(); it != p.got.rend(); ++it)
    if (it->at("name") == "exocom.error") return std::string(it->at("payload").at("code").as_string());
  return "(none)";
}

}  // namespace

TEST(Broker, TranslatesBothWays) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  auto& users = bus.connect("users");
  bus.send(web, "users.create", "act");
  ASSERT_EQ(users.got.size(), 1u);
  EXPECT_EQ(users.last_name(), "mongo.create");
  bus.send(users, "mongo.created", "act");
  ASSERT_EQ(web.got.size(), 1u);
  EXPECT_EQ(web.last_name(), "users.created");
  EXPECT_NE(bus.log_text().find("users  --[ mongo.created ]-[ users.created ]->  web"), std::string::npos);
}

TEST(Broker, UnknownRoleIsClosed) {
  Bus bus(kRoutes);
  auto& x = bus.connect("intruder");
  EXPECT_EQ(x.closed_with, 1008);
  EXPECT_FALSE(x.registered());
}

TEST(Broker, HoldsAndDeliversInOrder) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  for (int i = 0; i < 3; ++i) bus.send(web, "users.create", "a" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}");
  EXPECT_EQ(bus.broker->buffered_messages(), 3u);
  auto& users = bus.connect("users");
  ASSERT_EQ(users.got.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(users.got[static_cast<size_t>(i)].at("payload").at("n"), i);
  EXPECT_EQ(bus.broker->buffered_messages(), 0u);
}

TEST(Broker, UndeliveredFramesOfALeavingInstanceGoToTheNext) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  auto& u1 = bus.connect("users");
  bus.send(web, "users.create", "x1");
  ASSERT_EQ(u1.got.size(), 1u);
  // Pretend u1 never wrote that frame.
  Frame f = make_frame(ws::Opcode::text, R"({"name":"mongo.create","id":"held"})");
  bus.broker->disconnected(u1, {Queued{f}});
  auto& u2 = bus.connect("users");
  ASSERT_EQ(u2.got.size(), 1u);
  EXPECT_EQ(u2.got[0].at("id"), "held");
}

// An error or a receipt ExoCom had queued for a leaving connection is not another instance's mail.
TEST(Broker, ExocomsOwnWordToALeavingInstanceGoesNowhereElse) {
  Bus bus(kRoutes);
  auto& u1 = bus.connect("users");
  Frame error = make_frame(ws::Opcode::text, R"({"name":"exocom.error","payload":{"code":"invalid-message"}})");
  Frame receipt = make_frame(ws::Opcode::text, R"({"name":"exocom.accepted","payload":{"accepted":3}})");
  Frame held = make_frame(ws::Opcode::text, R"({"name":"mongo.create","id":"held"})");
  bus.broker->disconnected(u1, {Queued{error}, Queued{receipt}, Queued{held}});
  auto& u2 = bus.connect("users");
  ASSERT_EQ(u2.got.size(), 1u);
  EXPECT_EQ(u2.got[0].at("id"), "held");
}

TEST(Broker, BufferLimitsAndExpiry) {
  Options o;
  o.limits.buffer_messages = 2;
  o.limits.buffer_ttl = std::chrono::milliseconds(100);
  Bus bus(kRoutes, o);
  auto& web = bus.connect("web");
  for (int i = 0; i < 3; ++i) bus.send(web, "users.create");
  EXPECT_EQ(error_code(web), "buffer-full");
  EXPECT_EQ(bus.broker->buffered_messages(), 2u);
  bus.broker->tick(Clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(bus.broker->buffered_messages(), 0u);
  EXPECT_NE(bus.log_text().find("Dropped 2 messages for 'users'"), std::string::npos);
}

TEST(Broker, ActivitiesAreBoundedAndExpire) {
  Options o;
  o.limits.max_activities = 10;
  Bus bus(kRoutes, o);
  auto& web = bus.connect("web");
  auto& users = bus.connect("users");
  for (int i = 0; i < 100; ++i) bus.send(web, "users.create", "act-" + std::to_string(i));
  EXPECT_EQ(users.got.size(), 100u);
  EXPECT_NE(bus.broker->status_json().find("\"received\":100"), std::string::npos);
  bus.broker->tick(Clock::now() + std::chrono::minutes(5));
  // Replies to a forgotten activity still reach the role, by round-robin.
  bus.send(users, "mongo.created", "act-0");
  EXPECT_EQ(web.got.back().at("name"), "users.created");
}

TEST(Broker, SenderMustBeTheRegisteredRole) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  bus.connect("users");
  bus.broker->message(web, R"({"name":"mongo.created","sender":"users","activityId":"a"})");
  EXPECT_EQ(error_code(web), "sender-mismatch");
}

TEST(Broker, MissingSenderIsTheRegisteredRole) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  auto& users = bus.connect("users");
  bus.broker->message(web, R"({"name":"users.create","activityId":"a"})");
  ASSERT_EQ(users.got.size(), 1u);
  EXPECT_EQ(users.got[0].at("sender"), "web");
}

TEST(Broker, SecurityVerdictTimesOut) {
  Options o;
  o.limits.security_timeout = std::chrono::milliseconds(10);
  Bus bus(R"({"web":{"sends":["go"]},"users":{"receives":["go"]},"security":{}})", o);
  auto& web = bus.connect("web");
  auto& users = bus.connect("users");
  auto& security = bus.connect("security");
  bus.send(web, "go");
  ASSERT_EQ(security.got.size(), 1u);
  EXPECT_EQ(security.last_name(), "authorize message");
  bus.broker->tick(Clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(error_code(web), "security-timeout");
  EXPECT_TRUE(users.got.empty());
}

TEST(Broker, MetricsText) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web");
  bus.connect("users");
  bus.send(web, "users.create");
  bus.send(web, "nope");
  auto m = bus.broker->metrics_text();
  EXPECT_NE(m.find("exocom_messages_received_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("exocom_messages_refused_total{reason=\"not-allowed\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("exocom_connections{role=\"users\"} 1\n"), std::string::npos) << m;
}

// --- receipts (custody) ------------------------------------------------------------------

namespace {

// How many messages the broker told `p` it accepted (0: no receipt yet).
uint64_t accepted(Bus& bus, FakePeer& p) {
  bus.broker->send_receipts();
  for (auto it = p.got.rbegin(); it != p.got.rend(); ++it)
    if (it->at("name") == "exocom.accepted") return it->at("payload").at("accepted").to_number<uint64_t>();
  return 0;
}

void write_all(Bus& bus, FakePeer& p) {
  for (Ticket& t : p.tickets) bus.broker->written(std::exchange(t, kNoTicket));
}

}  // namespace

TEST(Broker, AMessageIsAcceptedOnceWrittenToItsReceiver) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web", R"({"ack":true,"receipts":true})");
  EXPECT_EQ(web.got.at(0).at("payload").at("receipts"), true);
  auto& users = bus.connect("users");
  bus.send(web, "users.create");
  bus.send(web, "users.create");
  ASSERT_EQ(users.got.size(), 2u);
  EXPECT_EQ(accepted(bus, web), 0u) << "queued is not written";
  bus.broker->written(std::exchange(users.tickets[0], kNoTicket));
  EXPECT_EQ(accepted(bus, web), 1u);
  write_all(bus, users);
  EXPECT_EQ(accepted(bus, web), 2u);
}

TEST(Broker, ReceiptsCountInOrder) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web", R"({"ack":true,"receipts":true})");
  auto& u1 = bus.connect("users");
  auto& u2 = bus.connect("users");
  bus.send(web, "users.create", "a1");  // to u1
  bus.send(web, "users.create", "a2");  // to u2
  ASSERT_EQ(u1.got.size(), 1u);
  ASSERT_EQ(u2.got.size(), 1u);
  write_all(bus, u2);
  EXPECT_EQ(accepted(bus, web), 0u) << "the second is done, the first is not: nothing is accepted yet";
  write_all(bus, u1);
  EXPECT_EQ(accepted(bus, web), 2u);
}

TEST(Broker, HeldAndRefusedMessagesAreAcceptedAtOnce) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web", R"({"ack":true,"receipts":true,"errors":true})");
  bus.send(web, "users.create");  // nobody receives it yet: held
  bus.send(web, "not.allowed");   // refused
  EXPECT_EQ(accepted(bus, web), 2u);
  EXPECT_EQ(error_code(web), "not-allowed");
}

TEST(Broker, ADeliveryMovedToAnotherInstanceKeepsItsReceipt) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web", R"({"ack":true,"receipts":true})");
  auto& u1 = bus.connect("users");
  bus.send(web, "users.create");
  ASSERT_EQ(u1.got.size(), 1u);
  Frame f = make_frame(ws::Opcode::text, json::serialize(u1.got[0]));
  bus.broker->disconnected(u1, {Queued{f, u1.tickets[0]}});  // u1 left before writing it
  EXPECT_EQ(accepted(bus, web), 1u) << "held for the next instance";
  auto& u2 = bus.connect("users");
  ASSERT_EQ(u2.got.size(), 1u);
  EXPECT_EQ(u2.tickets[0], kNoTicket) << "delivered from the buffer: nobody waits for it any longer";
}

TEST(Broker, ClientsWithoutReceiptsGetNone) {
  Bus bus(kRoutes);
  auto& web = bus.connect("web", R"({"ack":true})");
  auto& users = bus.connect("users");
  bus.send(web, "users.create");
  EXPECT_EQ(users.tickets.at(0), kNoTicket);
  EXPECT_EQ(web.got.at(0).at("payload").as_object().count("receipts"), 0u);
  EXPECT_EQ(accepted(bus, web), 0u);
}
