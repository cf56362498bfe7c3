// The SDK against a real exocom process: reconnects, an unreachable bus, refusals, timeouts.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "support/processes.hpp"

using namespace exosphere;
using namespace exo::test;
using namespace std::chrono_literals;

namespace {

const std::string kRoutes = R"({"client":{"sends":["ping","secret"],"receives":["pong"]},
                               "responder":{"receives":["ping","silence"],"sends":["pong"]}})";

RelayConfig config(uint16_t port, const std::string& role, std::function<void(const std::string&)> log = {}) {
  RelayConfig c;
  c.host = "127.0.0.1";
  c.port = port;
  c.role = role;
  c.retry_max = 500ms;
  c.log = log ? std::move(log) : [](const std::string&) {};
  return c;
}

struct Responder {
  Relay relay;
  explicit Responder(uint16_t port) : relay(config(port, "responder")) {
    relay.on("ping", [this](const Message& m) {
      SendOptions o;
      o.activity_id = m.activity_id;
      relay.send("pong", m.payload, o);
    });
    relay.start();
  }
};

// A client and a responder, both connected.
struct Pair {
  Responder responder;
  Relay client;
  explicit Pair(uint16_t port) : responder(port), client(config(port, "client")) { client.start(); }
  bool online() { return client.wait_online(5s) && responder.relay.wait_online(5s); }
};

}  // namespace

TEST(SdkWithExocom, RequestReplyThroughTheBus) {
  Exocom bus(kRoutes, {"--quiet"});
  Pair pair(bus.port());
  ASSERT_TRUE(pair.online());
  Relay& client = pair.client;
  auto reply = client.request("ping", json::object{{"n", 7}}, 5s).get();
  EXPECT_EQ(reply.name, "pong");
  EXPECT_EQ(reply.payload.at("n"), 7);
  EXPECT_EQ(reply.sender, "responder");
}

// A payload as deep as ExoCom accepts (63 levels, 64 with the envelope) reaches the handler whole;
// past Boost.JSON's default of 32 it used to arrive as null.
TEST(SdkWithExocom, DeepPayloadsArriveWhole) {
  Exocom bus(kRoutes, {"--quiet"});
  Pair pair(bus.port());
  ASSERT_TRUE(pair.online());
  Relay& client = pair.client;
  for (int levels : {40, 63}) {
    json::value deep = json::object{{"bottom", true}};
    for (int i = 1; i < levels; ++i) deep = json::array{deep};
    auto reply = client.request("ping", deep, 5s).get();
    EXPECT_EQ(reply.payload, deep) << levels << " levels";
  }
}

TEST(SdkWithExocom, RefusedRequestsFailFast) {
  Exocom bus(kRoutes, {"--quiet"});
  Relay client(config(bus.port(), "client"));
  client.start();
  ASSERT_TRUE(client.wait_online(5s));
  auto start = std::chrono::steady_clock::now();
  try {
    client.request("not.mine", nullptr, 10s).get();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::refused);
    EXPECT_NE(std::string(e.what()).find("not-allowed"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(SdkWithExocom, NoReplyTimesOut) {
  Exocom bus(kRoutes, {"--quiet"});
  Relay client(config(bus.port(), "client"));
  client.start();
  ASSERT_TRUE(client.wait_online(5s));
  // Nobody replies to "secret" (no instance of its receiver is even registered: it is held).
  try {
    client.request("ping", nullptr, 300ms).get();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::timeout);
  }
}

TEST(SdkWithExocom, AnUnreachableBusIsRetriedVisiblyUntilItComes) {
  // Find a free port, then start nothing there yet.
  uint16_t port;
  {
    Exocom probe("", {"--dev-open"});
    port = probe.port();
  }
  std::mutex m;
  std::condition_variable logged;
  std::vector<std::string> lines;
  Relay client(config(port, "client", [&](const std::string& l) {
    std::lock_guard lock(m);
    lines.push_back(l);
    logged.notify_all();
  }));
  client.start();
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(logged.wait_for(lock, 5s, [&] { return !lines.empty(); }));
    EXPECT_EQ(lines[0].rfind("cannot reach ExoCom at 127.0.0.1:" + std::to_string(port), 0), 0u) << lines[0];
  }
  EXPECT_FALSE(client.online());
  Exocom bus(kRoutes, {"--quiet", "--port", std::to_string(port)});
  EXPECT_TRUE(client.wait_online(5s));
  std::lock_guard lock(m);
  EXPECT_EQ(lines.back(), "connected to ExoCom at 127.0.0.1:" + std::to_string(port));
}

TEST(SdkWithExocom, KillingAndRestartingTheBusMidStream) {
  auto bus = std::make_unique<Exocom>(kRoutes, std::vector<std::string>{"--quiet"});
  uint16_t port = bus->port();
  Responder responder(port);
  Relay client(config(port, "client"));
  client.start();
  ASSERT_TRUE(client.wait_online(5s));
  ASSERT_TRUE(responder.relay.wait_online(5s));

  // Requests flow before, during and after the outage. Those begun before both sides were back
  // may be lost with the old bus; from the first answer after the restart on, every one counts.
  std::atomic<bool> back{false}, counting{false};
  std::atomic<int> answered_after{0}, failed_after{0}, answered_before{0};
  std::thread stream([&] {
    auto give_up = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; answered_after + failed_after < 200 && std::chrono::steady_clock::now() < give_up; ++i) {
      bool after = counting;
      try {
        client.request("ping", json::object{{"i", i}}, 3s).get();
        if (after) answered_after++;
        else if (back) counting = true;
        else answered_before++;
      } catch (const Error&) {
        if (after) failed_after++;
      }
    }
  });
  for (int i = 0; i < 500 && answered_before == 0; ++i) std::this_thread::sleep_for(10ms);
  bus->process().signal(SIGKILL);
  bus->process().wait();
  bus.reset();
  for (int i = 0; i < 500 && client.online(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(client.online());
  bus = std::make_unique<Exocom>(kRoutes, std::vector<std::string>{"--quiet", "--port", std::to_string(port)});
  ASSERT_TRUE(client.wait_online(5s));
  ASSERT_TRUE(responder.relay.wait_online(5s));
  back = true;
  stream.join();
  EXPECT_GT(answered_before, 0);
  EXPECT_EQ(answered_after, 200);
  EXPECT_EQ(failed_after, 0);
}
