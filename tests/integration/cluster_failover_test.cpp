// Services written with the SDK on a cluster whose nodes fail: nothing they send is lost, nothing
// arrives twice or out of order, and they are back on another node at once.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "support/bus.hpp"
#include "support/test_support.hpp"

using namespace exosphere;
using namespace exo::test;
using namespace std::chrono_literals;

namespace {

const std::string kRoutes = R"({"a":{"sends":["tick-a"]},"b":{"receives":["tick-a"]},
                               "c":{"sends":["tick-c"]},"d":{"receives":["tick-c"]}})";
constexpr int kPerStream = 50000;

RelayConfig config(std::string hosts, const std::string& role) {
  RelayConfig c;
  c.host = std::move(hosts);
  c.role = role;
  c.retry_min = 50ms;
  c.retry_max = 500ms;
  c.log = [](const std::string&) {};
  return c;
}

// Receives one stream and checks it: every number once, in order.
struct Receiver {
  Relay relay;
  std::mutex mutex;
  int64_t expected = 0;
  std::string problem;
  std::atomic<int64_t> count{0};
  Receiver(std::string hosts, const std::string& role, const std::string& message) : relay(config(std::move(hosts), role)) {
    relay.on(message, [this](const Message& m) {
      int64_t seq = m.payload.at("seq").to_number<int64_t>();
      std::lock_guard lock(mutex);
      if (seq != expected && problem.empty())
        problem = "expected " + std::to_string(expected) + ", got " + std::to_string(seq);
      expected = seq + 1;
      count = expected;
    });
    relay.start();
  }
};

// Sends a stream at about `per_second`, waiting while the relay's queue is full.
void send_stream(Relay& relay, const std::string& message, int per_second) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPerStream; ++i) {
    while (true) {
      try {
        relay.send(message, json::object{{"seq", i}});
        break;
      } catch (const Error&) {
        std::this_thread::sleep_for(1ms);
      }
    }
    if (i % 500 == 499) std::this_thread::sleep_until(start + std::chrono::microseconds(int64_t(i + 1) * 1'000'000 / per_second));
  }
}

}  // namespace

// kill -9 of the node in the middle: one stream runs from a service on another node to a service
// on it, the other from a service on it to a service on another node.
TEST(ClusterFailover, ANodeKilledMidStreamLosesNothing) {
  Bus bus(BusKind::cluster, kRoutes, {"--quiet"}, {}, /*jetstream=*/true);
  Receiver b(bus.addresses(1), "b", "tick-a");
  Receiver d(bus.addresses(2), "d", "tick-c");
  Relay a(config(bus.addresses(0), "a"));
  Relay c(config(bus.addresses(1), "c"));
  std::atomic<int64_t> b_back_ns{0}, c_back_ns{0};
  std::atomic<bool> killed{false};
  auto since_epoch = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
  b.relay.on_online([&] { if (killed) b_back_ns = since_epoch(); });
  c.on_online([&] { if (killed) c_back_ns = since_epoch(); });
  a.start();
  c.start();
  for (Relay* r : {&a, &b.relay, &c, &d.relay}) ASSERT_TRUE(r->wait_online(5s));
  ASSERT_TRUE(bus.wait_known("b", 1));
  ASSERT_TRUE(bus.wait_known("d", 1));

  std::thread send_a([&] { send_stream(a, "tick-a", 20000); });
  std::thread send_c([&] { send_stream(c, "tick-c", 20000); });
  auto until = std::chrono::steady_clock::now() + 20s;
  while ((b.count < kPerStream / 3 || d.count < kPerStream / 3) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  bus.node(1).process().signal(SIGKILL);
  auto kill_ns = since_epoch();
  killed = true;

  until = std::chrono::steady_clock::now() + 60s;
  while ((b.count < kPerStream || d.count < kPerStream) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  send_a.join();
  send_c.join();
  std::lock_guard lb(b.mutex), ld(d.mutex);
  EXPECT_EQ(b.count, kPerStream) << b.problem;
  EXPECT_EQ(d.count, kPerStream) << d.problem;
  EXPECT_TRUE(b.problem.empty()) << b.problem;
  EXPECT_TRUE(d.problem.empty()) << d.problem;
  ASSERT_NE(b_back_ns, 0) << "the receiver on the killed node never came back";
  ASSERT_NE(c_back_ns, 0) << "the sender on the killed node never came back";
  EXPECT_LT(std::chrono::nanoseconds(b_back_ns - kill_ns), 2s * kSlowdown);
  EXPECT_LT(std::chrono::nanoseconds(c_back_ns - kill_ns), 2s * kSlowdown);
}
