// A long stream to a role whose only instance leaves and comes back in the middle: ExoCom holds
// what the instance did not take and delivers it, complete and in order, when it registers again.
#include <gtest/gtest.h>

#include <thread>

#include <boost/json/parse.hpp>

#include "support/bus.hpp"
#include "support/processes.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {
constexpr int kMessages = 100000;
const std::string kRoutes = R"({"source":{"sends":["tick"]},"sink":{"receives":["tick"]}})";

// A connection registered as `role`, on the node its turn gives it (in a cluster: a node of its own).
WsClient registered(Bus& bus, std::string_view role) {
  auto c = WsClient::connect(bus.port(bus.node_for(role)));
  c.register_as(role, R"({"ack":true})");
  EXPECT_TRUE(c.receive_named("exocom.registered"));
  return c;
}

int64_t seq_of(const std::string& text) {
  auto v = json::parse(text);
  return v.at("payload").at("seq").to_number<int64_t>();
}
}  // namespace

class ExocomStream : public ::testing::TestWithParam<BusKind> {};

// In a cluster the source sits on one node, the sink on another, and the sink comes back on a third.
TEST_P(ExocomStream, HundredThousandMessagesSurviveAReconnect) {
  Bus bus(GetParam(), kRoutes, {"--quiet"});
  auto sink = registered(bus, "sink");
  auto source = registered(bus, "source");
  ASSERT_TRUE(bus.wait_known("sink", 1));

  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i)
      source.send_text("{\"name\":\"tick\",\"sender\":\"source\",\"id\":\"" + std::to_string(i) +
                       "\",\"payload\":{\"seq\":" + std::to_string(i) + "}}");
  });

  int64_t expected = 0;
  bool reconnected = false;
  std::string problem;
  auto take = [&](const std::string& text) {
    int64_t seq;
    try {
      seq = seq_of(text);
    } catch (const std::exception&) {
      if (problem.empty()) problem = "not a tick: " + text;
      return;
    }
    if (seq != expected && problem.empty())
      problem = "expected message " + std::to_string(expected) + ", got " + std::to_string(seq);
    expected = seq + 1;
  };
  try {  // the sender thread must be joined whatever happens
    while (expected < kMessages && problem.empty()) {
      auto m = sink.receive(10s);
      if (!m) {
        problem = "nothing arrived after message " + std::to_string(expected - 1);
        break;
      }
      take(*m);
      if (expected == kMessages / 2 && !reconnected) {
        // Leave cleanly in the middle of the stream; what was already on its way still arrives.
        auto closed = sink.close();
        if (!closed || !closed->clean) {
          problem = "the sink's close was not clean: " + (closed ? std::to_string(closed->code) + " " + closed->reason : "no answer");
          break;
        }
        for (const auto& p : sink.pending) take(p);
        sink = WsClient::connect(bus.port(bus.node_for("sink")));
        sink.register_as("sink");
        reconnected = true;
      }
    }
  } catch (const std::exception& e) {
    problem = std::string("exception: ") + e.what();
  }
  sender.join();
  EXPECT_TRUE(problem.empty()) << problem << "\n" << bus.output().text().substr(0, 4000);
  EXPECT_EQ(expected, kMessages);
  EXPECT_TRUE(reconnected);
  EXPECT_NE(bus.output().text().find("Delivered "), std::string::npos) << "nothing was held during the gap";
  // No duplicates after the end of the stream: the next message is one sent after it.
  EXPECT_TRUE(next_is_marker(sink, send_marker(source, "source", "tick")));
}

// A receiver that reads late: ExoCom's socket fills, writes stop halfway through frames and go on
// later; every frame still arrives whole and in order.
TEST_P(ExocomStream, AReceiverThatReadsLateGetsEveryFrameWhole) {
  Bus bus(GetParam(), kRoutes, {"--quiet"});
  auto sink = registered(bus, "sink");
  auto source = registered(bus, "source");
  ASSERT_TRUE(bus.wait_known("sink", 1));
  constexpr int kCount = 20000;
  const std::string filler(1000, 'x');  // 20 MB in all: far more than the sockets hold
  std::thread sender([&] {
    for (int i = 0; i < kCount; ++i)
      source.send_text("{\"name\":\"tick\",\"sender\":\"source\",\"id\":\"" + std::to_string(i) +
                       "\",\"payload\":{\"seq\":" + std::to_string(i) + ",\"filler\":\"" + filler + "\"}}");
  });
  std::this_thread::sleep_for(300ms);  // not reading meanwhile is the point
  int64_t expected = 0;
  std::string problem;
  while (expected < kCount && problem.empty()) {
    auto m = sink.receive(10s);
    if (!m) {
      problem = "nothing arrived after message " + std::to_string(expected - 1);
      break;
    }
    int64_t seq = seq_of(*m);
    if (seq != expected) problem = "expected message " + std::to_string(expected) + ", got " + std::to_string(seq);
    expected = seq + 1;
  }
  sender.join();
  EXPECT_TRUE(problem.empty()) << problem;
  EXPECT_EQ(expected, kCount);
}

INSTANTIATE_TEST_SUITE_P(Bus, ExocomStream, ::testing::Values(BusKind::single, BusKind::cluster),
                         [](const auto& info) { return to_string(info.param); });
