// The SDK against MockExoCom: real sockets, no bus.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "exosphere/testing/mock_exocom.hpp"

using namespace exosphere;
using exosphere::testing::MockExoCom;
using namespace std::chrono_literals;

namespace {

RelayConfig config_for(const MockExoCom& mock, const std::string& role = "test-service") {
  RelayConfig c;
  c.host = "127.0.0.1";
  c.port = mock.port();
  c.role = role;
  c.log = [](const std::string&) {};
  return c;
}

struct Online {
  MockExoCom mock;
  Relay relay;
  explicit Online(std::function<void(Relay&)> setup = {}) : relay(config_for(mock)) {
    if (setup) setup(relay);
    relay.start();
    EXPECT_TRUE(relay.wait_online(5s));
    EXPECT_TRUE(mock.wait_for_registration("test-service"));
  }
};

}  // namespace

TEST(Relay, RegistersWithItsRoleAndAsksForFeedback) {
  Online o;
  auto reg = o.mock.wait_for("exocom.register-service");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->sender, "test-service");
  EXPECT_EQ(reg->payload.at("ack"), true);
  EXPECT_EQ(reg->payload.at("errors"), true);
}

TEST(Relay, SendReturnsTheMessageAsSent) {
  Online o;
  Message sent = o.relay.send("users.create", json::object{{"name", "Jean"}});
  EXPECT_EQ(sent.id.size(), 36u);
  EXPECT_EQ(sent.activity_id.size(), 36u);
  auto got = o.mock.wait_for("users.create");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, sent.id);
  EXPECT_EQ(got->activity_id, sent.activity_id);
  EXPECT_EQ(got->sender, "test-service");
  EXPECT_EQ(got->payload.at("name"), "Jean");
}

TEST(Relay, SendOptionsKeepActivityAndAuth) {
  Online o;
  SendOptions opt;
  opt.activity_id = "act-1";
  opt.auth = json::object{{"sessionId", "s1"}};
  opt.is_security = true;
  o.relay.send("x", nullptr, opt);
  auto got = o.mock.wait_for("x");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->activity_id, "act-1");
  EXPECT_EQ(got->auth.at("sessionId"), "s1");
  EXPECT_TRUE(got->is_security);
  EXPECT_TRUE(got->payload.is_null());
}

TEST(Relay, HandlersByName) {
  std::promise<Message> got;
  Online o([&](Relay& r) { r.on("ping", [&](const Message& m) { got.set_value(m); }); });
  o.mock.send("test-service", "ping", json::object{{"n", 1}});
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto m = f.get();
  EXPECT_EQ(m.name, "ping");
  EXPECT_EQ(m.payload.at("n"), 1);
}

TEST(Relay, HandlerRegisteredTwiceIsAnError) {
  MockExoCom mock;
  Relay relay(config_for(mock));
  relay.on("ping", [](const Message&) {});
  try {
    relay.on("ping", [](const Message&) {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::invalid_argument);
    EXPECT_STREQ(e.what(), "there is already a handler for 'ping'");
  }
}

TEST(Relay, EmptyNamesAreRefused) {
  Online o;
  EXPECT_THROW(o.relay.send(""), Error);
  EXPECT_THROW(o.relay.on("", [](const Message&) {}), Error);
}

TEST(Relay, RequestGetsTheReplyInTheSameActivity) {
  Online o;
  o.mock.reply_to("users.get", "users.details", json::object{{"name", "Jean"}});
  auto reply = o.relay.request("users.get", json::object{{"id", "1"}}, 5s).get();
  EXPECT_EQ(reply.name, "users.details");
  EXPECT_EQ(reply.payload.at("name"), "Jean");
  auto req = o.mock.wait_for("users.get");
  EXPECT_EQ(reply.activity_id, req->activity_id);
}

TEST(Relay, RequestCallbackForm) {
  Online o;
  o.mock.reply_to("users.get", "users.details");
  std::promise<Result> got;
  o.relay.request("users.get", nullptr, 5s, [&](Result r) { got.set_value(std::move(r)); });
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  auto r = f.get();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.reply.name, "users.details");
}

TEST(Relay, ARequestWithoutReplyTimesOut) {
  Online o;
  auto start = std::chrono::steady_clock::now();
  auto f = o.relay.request("users.get", nullptr, 200ms);
  try {
    f.get();
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::timeout);
    EXPECT_STREQ(e.what(), "no reply to 'users.get' within 200ms");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // The timed-out request is forgotten: a late reply goes to the unknown handler, not to it.
  std::promise<std::string> unknown;
  o.relay.on_unknown([&](const Message& m) { unknown.set_value(m.name); });
  auto req = o.mock.wait_for("users.get");
  SendOptions opt;
  opt.activity_id = req->activity_id;
  o.mock.send("test-service", "users.details", nullptr, opt);
  auto u = unknown.get_future();
  ASSERT_EQ(u.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(u.get(), "users.details");
}

TEST(Relay, TimeoutInCallbackForm) {
  Online o;
  std::promise<Result> got;
  o.relay.request("users.get", nullptr, 100ms, [&](Result r) { got.set_value(std::move(r)); });
  auto r = got.get_future().get();
  EXPECT_EQ(r.status, Status::timeout);
}

TEST(Relay, StreamingRepliesForOneActivity) {
  Online o;
  std::mutex m;
  std::vector<int> seen;
  std::promise<void> three;
  auto sub = o.relay.listen("stream-1", [&](const Message& msg) {
    std::lock_guard lock(m);
    seen.push_back(static_cast<int>(msg.payload.at("n").as_int64()));
    if (seen.size() == 3) three.set_value();
  });
  SendOptions opt;
  opt.activity_id = "stream-1";
  for (int i = 0; i < 3; ++i) o.mock.send("test-service", "chunk", json::object{{"n", i}}, opt);
  ASSERT_EQ(three.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
}

TEST(Relay, StatusIsAnswered) {
  Online o;
  auto reply = o.mock.request("test-service", "__status");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->name, "__status-ok");
}

TEST(Relay, UnknownMessagesAreLoggedNotFatal) {
  MockExoCom mock;
  auto cfg = config_for(mock);
  std::mutex m;
  std::vector<std::string> lines;
  cfg.log = [&](const std::string& l) {
    std::lock_guard lock(m);
    lines.push_back(l);
  };
  Relay relay(cfg);
  relay.start();
  ASSERT_TRUE(relay.wait_online(5s));
  mock.send("test-service", "zonk");
  mock.reply_to("ping", "pong");
  EXPECT_EQ(relay.request("ping", nullptr, 5s).get().name, "pong");
  std::lock_guard lock(m);
  bool logged = false;
  for (const auto& l : lines) logged = logged || l == "received 'zonk' from 'exocom', which this service does not handle; ignored";
  EXPECT_TRUE(logged);
}

TEST(Relay, FramesThatAreNotMessagesAreLoggedAndIgnored) {
  MockExoCom mock;
  auto cfg = config_for(mock);
  std::mutex m;
  std::vector<std::string> lines;
  cfg.log = [&](const std::string& l) {
    std::lock_guard lock(m);
    lines.push_back(l);
  };
  Relay relay(cfg);
  relay.start();
  ASSERT_TRUE(relay.wait_online(5s));
  mock.send_text("test-service", "not json");
  mock.send_text("test-service", R"({"payload":{"no":"name"}})");
  mock.send_text("test-service", "[1,2,3]");
  mock.reply_to("ping", "pong");
  EXPECT_EQ(relay.request("ping", nullptr, 5s).get().name, "pong");
  std::lock_guard lock(m);
  size_t ignored = 0;
  for (const auto& l : lines) ignored += l.rfind("ignored a message from ExoCom that is not valid", 0) == 0;
  EXPECT_EQ(ignored, 3u);
}

TEST(Relay, SendsAreSafeFromManyThreads) {
  Online o;
  constexpr int kThreads = 8, kEach = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) o.relay.send("count", json::object{{"t", t}, {"i", i}});
    });
  for (auto& th : threads) th.join();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t n = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    n = 0;
    for (const auto& m : o.mock.received()) n += m.name == "count";
    if (n == kThreads * kEach) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(n, static_cast<size_t>(kThreads * kEach));
  // Per thread, in order.
  std::map<int64_t, int64_t> next;
  for (const auto& m : o.mock.received()) {
    if (m.name != "count") continue;
    auto t = m.payload.at("t").as_int64(), i = m.payload.at("i").as_int64();
    EXPECT_EQ(i, next[t]++);
  }
}

TEST(Relay, ConcurrentRequestsFromManyThreads) {
  Online o;
  o.mock.reply_to("ping", "pong");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (o.relay.request("ping", nullptr, 5s).get().name == "pong") ++ok;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 400);
}

TEST(Relay, ReconnectsWhenTheBusDropsTheConnection) {
  Online o;
  o.mock.drop_connections();
  // It registers again on its own.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  size_t registrations = 0;
  while (std::chrono::steady_clock::now() < deadline && registrations < 2) {
    registrations = 0;
    for (const auto& m : o.mock.received()) registrations += m.name == "exocom.register-service";
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(registrations, 2u);
  o.mock.reply_to("ping", "pong");
  EXPECT_EQ(o.relay.request("ping", nullptr, 5s).get().name, "pong");
}

// A container's health check reads the online file: there while registered, gone once closed.
TEST(Relay, TheOnlineFileFollowsTheRegistration) {
  auto file = std::filesystem::temp_directory_path() / ("exo-online-" + std::to_string(::getpid()));
  std::filesystem::remove(file);
  MockExoCom mock;
  RelayConfig c = config_for(mock);
  c.online_file = file.string();
  Relay relay(c);
  EXPECT_FALSE(std::filesystem::exists(file)) << "online before it started";
  relay.start();
  ASSERT_TRUE(relay.wait_online(5s));
  EXPECT_TRUE(std::filesystem::exists(file));
  mock.drop_connections();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::filesystem::exists(file) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(relay.wait_online(5s));
  EXPECT_TRUE(std::filesystem::exists(file)) << "back online, the file is back";
  relay.close();
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(Relay, ClosingFailsWhatStillWaits) {
  MockExoCom mock;
  Relay relay(config_for(mock));
  relay.start();
  ASSERT_TRUE(relay.wait_online(5s));
  auto f = relay.request("never", nullptr, 60s);
  relay.close();
  try {
    f.get();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::closed);
  }
  EXPECT_THROW(relay.send("x"), Error);
}

TEST(RelayConfig, FromTheEnvironment) {
  setenv("ROLE", "users", 1);
  setenv("EXOCOM_HOST", "bus.local", 1);
  setenv("EXOCOM_PORT", "4100", 1);
  auto c = RelayConfig::from_environment();
  EXPECT_EQ(c.role, "users");
  EXPECT_EQ(c.host, "bus.local");
  EXPECT_EQ(c.port, 4100);
  unsetenv("EXOCOM_HOST");
  unsetenv("EXOCOM_PORT");
  c = RelayConfig::from_environment();
  EXPECT_EQ(c.host, "localhost");
  EXPECT_EQ(c.port, 80);
}

TEST(RelayConfig, InvalidEnvironment) {
  unsetenv("ROLE");
  try {
    RelayConfig::from_environment();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::config_error);
    EXPECT_STREQ(e.what(), "ROLE is not set; set it to this service's role (exo run does this for you)");
  }
  setenv("ROLE", "users", 1);
  for (const char* bad : {"eighty", "0", "70000", "80x"}) {
    setenv("EXOCOM_PORT", bad, 1);
    try {
      RelayConfig::from_environment();
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), std::string("EXOCOM_PORT '") + bad + "' is not a port number (1-65535)");
    }
  }
  unsetenv("EXOCOM_PORT");
  unsetenv("ROLE");
}

// --- the contract: replies on any thread, handlers off the reading thread ----------------------

TEST(Reply, WaitForSaysWhetherTheReplyIsThere) {
  Online o;
  auto reply = o.relay.request("users.get", nullptr, 5s);
  EXPECT_FALSE(reply.ready());
  EXPECT_EQ(reply.wait_for(50ms), std::future_status::timeout);
  auto req = o.mock.wait_for("users.get");
  ASSERT_TRUE(req);
  SendOptions opt;
  opt.activity_id = req->activity_id;
  o.mock.send("test-service", "users.details", json::object{{"n", 1}}, opt);
  EXPECT_EQ(reply.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(reply.ready());
  EXPECT_EQ(reply.get().name, "users.details");
  Reply copy = reply;  // copies share the one outcome
  EXPECT_EQ(copy.get().payload.at("n"), 1);
}

TEST(Reply, WaitingNeverOutlastsTheRequestsTimeout) {
  Online o;
  auto start = std::chrono::steady_clock::now();
  auto reply = o.relay.request("users.get", nullptr, 100ms);
  EXPECT_EQ(reply.wait_for(10s), std::future_status::ready);  // the timeout is the outcome
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  auto r = reply.result();
  EXPECT_EQ(r.status, Status::timeout);
  EXPECT_EQ(r.error, "no reply to 'users.get' within 100ms");
  EXPECT_FALSE(Reply().valid());
}

TEST(Reply, AnyThreadMayWait) {
  Online o;
  o.mock.reply_to("ping", "pong");
  auto reply = o.relay.request("ping", nullptr, 5s);
  std::string name;
  std::thread other([&] { name = reply.get().name; });
  other.join();
  EXPECT_EQ(name, "pong");
}

// A handler that blocks holds up handlers only: the replies other threads wait for and ExoCom's
// health checks are still read and answered.
TEST(Relay, HandlersNeverRunOnTheThreadThatReads) {
  std::promise<void> release, entered;
  auto released = release.get_future().share();
  Online o([&](Relay& r) {
    r.on("slow", [&, released](const Message&) {
      entered.set_value();
      released.wait();
    });
  });
  o.mock.send("test-service", "slow");
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);
  o.mock.reply_to("ping", "pong");
  EXPECT_EQ(o.relay.request("ping", nullptr, 2s).result().status, Status::ok);
  EXPECT_TRUE(o.mock.request("test-service", "__status", nullptr, 2s));
  release.set_value();
}

TEST(Relay, AHandlerMayWaitForAReply) {
  Relay* relay = nullptr;
  Online o([&](Relay& r) {
    relay = &r;
    r.on("go", [&](const Message& m) {
      auto details = relay->request("users.get", nullptr, 5s).get();
      SendOptions opt;
      opt.activity_id = m.activity_id;
      relay->send("went", details.payload, opt);
    });
  });
  o.mock.reply_to("users.get", "users.details", json::object{{"name", "Jean"}});
  auto went = o.mock.request("test-service", "go", nullptr, 5s);
  ASSERT_TRUE(went);
  EXPECT_EQ(went->name, "went");
  EXPECT_EQ(went->payload.at("name"), "Jean");
}

// "outer" asks a question whose answer needs this service to handle "inner" first (services
// asking each other in a circle): the waiting handler lets "inner" run meanwhile.
TEST(Relay, AWaitingHandlerLetsLaterMessagesBeHandled) {
  Relay* relay = nullptr;
  Online o([&](Relay& r) {
    relay = &r;
    r.on("outer", [&](const Message& m) {
      auto answer = relay->request("question", nullptr, 5s).get();
      SendOptions opt;
      opt.activity_id = m.activity_id;
      relay->send("outer-done", answer.payload, opt);
    });
    r.on("inner", [&](const Message& m) {
      SendOptions opt;
      opt.activity_id = m.activity_id;
      relay->send("inner-done", nullptr, opt);
    });
  });
  auto outer = o.mock.send("test-service", "outer");
  auto question = o.mock.wait_for("question");
  ASSERT_TRUE(question);
  ASSERT_TRUE(o.mock.request("test-service", "inner", nullptr, 3s)) << "inner was not handled while outer waited";
  SendOptions opt;
  opt.activity_id = question->activity_id;
  o.mock.send("test-service", "answer", json::object{{"ok", true}}, opt);
  auto done = o.mock.wait_for("outer-done");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->activity_id, outer.activity_id);
  EXPECT_EQ(done->payload.at("ok"), true);
}

TEST(Relay, PayloadsDeeperThanExoComAcceptsAreRefusedAtTheCall) {
  Online o;
  json::value deep = json::array{};
  for (int i = 1; i < 64; ++i) deep = json::array{deep};  // 64 levels: 65 with the envelope
  try {
    o.relay.send("deep", deep);
    FAIL() << "sent";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::invalid_argument);
    EXPECT_STREQ(e.what(), "the payload of 'deep' nests objects and arrays 64 levels deep; ExoCom accepts at most 63");
  }
  json::value ok = json::array{};
  for (int i = 1; i < 63; ++i) ok = json::array{ok};
  EXPECT_NO_THROW(o.relay.send("deep", ok));
}

TEST(Relay, SeveralExoComNodesAreTriedInTurn) {
  MockExoCom mock;
  RelayConfig c = config_for(mock);
  // The first node refuses connections (nothing listens on port 1); the relay moves on.
  c.host = "127.0.0.1:1, 127.0.0.1:" + std::to_string(mock.port());
  Relay relay(c);
  relay.start();
  EXPECT_TRUE(relay.wait_online(5s));
}

TEST(RelayConfig, ExoComNodesInTheEnvironment) {
  setenv("ROLE", "users", 1);
  setenv("EXOCOM_PORT", "4100", 1);
  setenv("EXOCOM_HOST", "bus-1:4101,bus-2,[::1]:4102", 1);
  EXPECT_EQ(RelayConfig::from_environment().host, "bus-1:4101,bus-2,[::1]:4102");
  for (const char* bad : {"bus-1:", "bus-1:99999", "bus-1,,bus-2", "[::1", "bus:x"}) {
    setenv("EXOCOM_HOST", bad, 1);
    try {
      RelayConfig::from_environment();
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::config_error);
      EXPECT_EQ(std::string(e.what()).rfind("EXOCOM_HOST", 0), 0u) << e.what();
    }
  }
  unsetenv("EXOCOM_HOST");
  unsetenv("EXOCOM_PORT");
  unsetenv("ROLE");
}

// What a service author includes must not change what their own code means.
TEST(PublicHeaders, InjectNoUsingDirectives) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(EXO_SOURCE_DIR) + "/include")) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      EXPECT_EQ(line.find("using namespace"), std::string::npos) << entry.path() << ":" << n << ": " << line;
  }
}
