// libFuzzer target over the whole frame → route path: bytes from one connection are decoded as
// WebSocket frames and every text message goes through the broker, next to three well-behaved
// services (including a security service). Whatever the bytes, nothing may crash, hang or leak.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/websocket.hpp"
#include "exocom/broker.hpp"

using namespace exo;
using namespace exo::exocom;

namespace {

struct NullPeer : Peer {
  explicit NullPeer(uint64_t id) : Peer(id) {}
  size_t frames = 0;
  bool closed = false;
  std::vector<Ticket> tickets;  // of frames "written": the broker hears of them after each message
  void send_frame(const Frame& f, Ticket ticket) override {
    frames += f.size() > 0;
    if (ticket != kNoTicket) tickets.push_back(ticket);
  }
  void close(uint16_t, std::string_view) override { closed = true; }
};

struct Attacker : ws::Events {
  Broker& broker;
  NullPeer& peer;
  bool stop = false;
  Attacker(Broker& b, NullPeer& p) : broker(b), peer(p) {}
  std::vector<NullPeer*> peers;
  void on_text(std::string_view m) override {
    if (peer.closed) return;
    broker.message(peer, m);
    for (auto* p : peers) {
      for (Ticket t : std::exchange(p->tickets, {})) broker.written(t);
    }
  }
  void on_binary(std::string_view) override { stop = true; }
  void on_close(uint16_t, std::string_view) override { stop = true; }
  void on_ping(std::string_view) override {}
  void on_pong(std::string_view) override {}
  void on_protocol_error(uint16_t, std::string_view) override { stop = true; }
};

const char* kRoutes = R"({
  "web": {"receives": ["users.created", "message unauthorized"], "sends": ["users.create", "ping"]},
  "users": {"receives": ["mongo.create", "ping"], "sends": ["mongo.created"], "namespace": "mongo"},
  "security": {}
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::FILE* devnull = std::fopen("/dev/null", "w");
  Options options;
  options.limits.max_message_bytes = 1 << 16;
  options.limits.max_activities = 64;
  options.limits.buffer_messages = 64;
  options.limits.max_pending_security = 64;
  TraceLog log(options, devnull);
  Broker broker(config::parse_routes(kRoutes, "routes"), options, log);
  NullPeer web(1), users(2), security(3);
  for (auto* p : {&web, &users, &security}) {
    broker.connected(*p);
    std::string role = p == &web ? "web" : p == &users ? "users" : "security";
    broker.message(*p, R"({"name":"exocom.register-service","sender":")" + role + R"(","payload":{"errors":true}})");
  }
  std::string bytes(reinterpret_cast<const char*>(data), size);
  uint64_t next_id = 10;
  size_t pos = 0;
  // Several connections in a row: each starts where the previous one was closed.
  while (pos < bytes.size()) {
    auto attacker = std::make_unique<NullPeer>(next_id++);
    broker.connected(*attacker);
    ws::Decoder decoder(true, options.limits.max_message_bytes);
    Attacker events(broker, *attacker);
    events.peers = {&web, &users, &security, attacker.get()};
    size_t used = decoder.feed(bytes.data() + pos, bytes.size() - pos, events);
    broker.disconnected(*attacker, {});
    if (used == 0) break;
    pos += used;
    broker.tick(Clock::now());
  }
  broker.tick(Clock::now() + std::chrono::minutes(10));
  return 0;
}
