// The SDK against a real exocom process: reconnects, an unreachable bus, refusals, timeouts.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
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

}  // namespace

TEST(SdkWithExocom, RequestReplyThroughTheBus) {
  Exocom bus(kRoutes, {"--quiet"});
  Responder responder(bus.port());
  Relay client(config(bus.port(), "client"));
  client.start();
  ASSERT_TRUE(client.wait_online(5s));
  ASSERT_TRUE(responder.relay.wait_online(5s));
  auto reply = client.request("ping", json::object{{"n", 7}}, 5s).get();
  EXPECT_EQ(reply.name, "pong");
  EXPECT_EQ(reply.payload.at("n"), 7);
  EXPECT_EQ(reply.sender, "responder");
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
  std::vector<std::string> lines;
  Relay client(config(port, "client", [&](const std::string& l) {
    std::lock_guard lock(m);
    lines.push_back(l);
  }));
  client.start();
  std::this_thread::sleep_for(700ms);
  EXPECT_FALSE(client.online());
  {
    std::lock_guard lock(m);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0].rfind("cannot reach ExoCom at 127.0.0.1:" + std::to_string(port), 0), 0u) << lines[0];
  }
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

  std::atomic<bool> restarted{false};
  std::atomic<int> answered_after{0}, failed_after{0}, answered_before{0};
  std::thread stream([&] {
    // Requests flow before, during and after the outage, until 200 have been answered after it.
    auto give_up = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; !(restarted && answered_after + failed_after >= 200) && std::chrono::steady_clock::now() < give_up; ++i) {
      bool after = restarted;
      try {
        client.request("ping", json::object{{"i", i}}, 3s).get();
        (after ? answered_after : answered_before)++;
      } catch (const Error&) {
        if (after) failed_after++;
      }
    }
  });
  std::this_thread::sleep_for(100ms);
  bus->process().signal(SIGKILL);
  bus->process().wait();
  bus.reset();
  std::this_thread::sleep_for(200ms);
  bus = std::make_unique<Exocom>(kRoutes, std::vector<std::string>{"--quiet", "--port", std::to_string(port)});
  ASSERT_TRUE(client.wait_online(5s));
  ASSERT_TRUE(responder.relay.wait_online(5s));
  // Requests that began before both sides were back may have been lost with the old bus.
  std::this_thread::sleep_for(200ms);
  restarted = true;
  stream.join();
  EXPECT_GT(answered_before, 0);
  EXPECT_EQ(answered_after, 200);
  EXPECT_EQ(failed_after, 0);
}
