// A long stream to a role whose only instance leaves and comes back in the middle: ExoCom holds
// what the instance did not take and delivers it, complete and in order, when it registers again.
#include <gtest/gtest.h>

#include <thread>

#include <boost/json/parse.hpp>

#include "support/processes.hpp"
#include "support/ws_client.hpp"

using namespace exo;
using namespace exo::test;
namespace json = boost::json;

namespace {
constexpr int kMessages = 100000;

int64_t seq_of(const std::string& text) {
  auto v = json::parse(text);
  return v.at("payload").at("seq").to_number<int64_t>();
}
}  // namespace

TEST(ExocomStream, HundredThousandMessagesSurviveAReconnect) {
  Exocom bus(R"({"source":{"sends":["tick"]},"sink":{"receives":["tick"]}})", {"--quiet"});
  auto sink = WsClient::connect(bus.port());
  sink.register_as("sink", R"({"ack":true})");
  ASSERT_TRUE(sink.receive_named("exocom.registered"));
  auto source = WsClient::connect(bus.port());
  source.register_as("source", R"({"ack":true})");
  ASSERT_TRUE(source.receive_named("exocom.registered"));

  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i)
      source.send_text("{\"name\":\"tick\",\"sender\":\"source\",\"id\":\"" + std::to_string(i) +
                       "\",\"payload\":{\"seq\":" + std::to_string(i) + "}}");
  });

  int64_t expected = 0;
  bool reconnected = false;
  std::string problem;
  auto take = [&](const std::string& text) {
    int64_t seq = seq_of(text);
    if (seq != expected && problem.empty())
      problem = "expected message " + std::to_string(expected) + ", got " + std::to_string(seq);
    expected = seq + 1;
  };
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
      ASSERT_TRUE(closed && closed->clean);
      for (const auto& p : sink.pending) take(p);
      sink = WsClient::connect(bus.port());
      sink.register_as("sink");
      reconnected = true;
    }
  }
  sender.join();
  EXPECT_TRUE(problem.empty()) << problem;
  EXPECT_EQ(expected, kMessages);
  EXPECT_TRUE(reconnected);
  EXPECT_NE(bus.output().text().find("Delivered "), std::string::npos) << "nothing was held during the gap";
  // No duplicates after the end of the stream: the next message is one sent after it.
  EXPECT_TRUE(next_is_marker(sink, send_marker(source, "source", "tick")));
}
