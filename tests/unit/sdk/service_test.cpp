// The high-level Service against MockExoCom.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "exosphere/exosphere.hpp"
#include "exosphere/testing/mock_exocom.hpp"

using namespace exosphere;
using exosphere::testing::MockExoCom;
using namespace std::chrono_literals;

namespace {

RelayConfig config_for(const MockExoCom& mock) {
  RelayConfig c;
  c.host = "127.0.0.1";
  c.port = mock.port();
  c.role = "pinger";
  c.log = [](const std::string&) {};
  return c;
}

// Runs a service on a thread for the length of a test.
struct Running {
  MockExoCom mock;
  Service service;
  std::thread thread;
  int exit_code = -1;
  explicit Running(std::function<void(Service&)> setup) : service(config_for(mock)) {
    setup(service);
    thread = std::thread([this] { exit_code = service.run(); });
    EXPECT_TRUE(mock.wait_for_registration("pinger"));
  }
  ~Running() {
    service.stop();
    thread.join();
  }
};

}  // namespace

TEST(Service, PingPong) {
  Running r([](Service& s) { s.on("ping", [](const json::value&, Request& req) { req.reply("pong"); }); });
  auto reply = r.mock.request("pinger", "ping");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->name, "pong");
}

TEST(Service, ReplyKeepsActivityAuthAndSecurityFlag) {
  Running r([](Service& s) { s.on("ping", [](const json::value& p, Request& req) { req.reply("pong", p); }); });
  SendOptions opt;
  opt.activity_id = "a-1";
  opt.auth = "token";
  opt.is_security = true;
  r.mock.send("pinger", "ping", json::object{{"x", 1}}, opt);
  auto reply = r.mock.wait_for("pong");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->activity_id, "a-1");
  EXPECT_EQ(reply->auth, "token");
  EXPECT_TRUE(reply->is_security);
  EXPECT_EQ(reply->payload.at("x"), 1);
}

TEST(Service, SendStartsANewActivityKeepingAuth) {
  Running r([](Service& s) { s.on("go", [](const json::value&, Request& req) { req.send("audit.log"); }); });
  SendOptions opt;
  opt.activity_id = "a-2";
  opt.auth = "token";
  r.mock.send("pinger", "go", nullptr, opt);
  auto sent = r.mock.wait_for("audit.log");
  ASSERT_TRUE(sent);
  EXPECT_NE(sent->activity_id, "a-2");
  EXPECT_EQ(sent->auth, "token");
}

TEST(Service, HandlersMayWaitForOtherServices) {
  Running r([](Service& s) {
    s.on("users.get", [](const json::value&, Request& req) {
      auto session = req.request("session.get", nullptr, 5s).get();
      req.reply("users.details", json::object{{"session", session.payload}});
    });
  });
  r.mock.reply_to("session.get", "session.details", json::object{{"admin", true}});
  auto reply = r.mock.request("pinger", "users.get");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->payload.at("session").at("admin"), true);
}

TEST(Service, HandlerExceptionsAreLoggedAndTheServiceGoesOn) {
  Running r([](Service& s) {
    s.on("boom", [](const json::value&, Request&) -> void { throw std::runtime_error("kaput"); });
    s.on("ping", [](const json::value&, Request& req) { req.reply("pong"); });
  });
  r.mock.send("pinger", "boom");
  auto reply = r.mock.request("pinger", "ping");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->name, "pong");
}

TEST(Service, BeforeAllRunsBeforeConnecting) {
  MockExoCom mock;
  Service service(config_for(mock));
  std::atomic<bool> hook_ran{false}, registered_before_hook{false};
  service.before_all([&] {
    registered_before_hook = !mock.received().empty();
    hook_ran = true;
  });
  std::thread t([&] { service.run(); });
  EXPECT_TRUE(mock.wait_for_registration("pinger"));
  EXPECT_TRUE(hook_ran);
  EXPECT_FALSE(registered_before_hook);
  service.stop();
  t.join();
}

TEST(Service, FailingBeforeAllStopsTheService) {
  MockExoCom mock;
  Service service(config_for(mock));
  service.before_all([] { throw std::runtime_error("no database"); });
  EXPECT_EQ(service.run(), 1);
  EXPECT_TRUE(mock.received().empty());
}

// A handler may keep its Request to answer later (after some work elsewhere): the copy owns the
// message and keeps the relay reachable.
TEST(Service, ARequestKeptByAHandlerAnswersLater) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<Request> kept;
  Running r([&](Service& s) {
    s.on("order", [&](const json::value&, Request& req) {
      std::lock_guard lock(m);
      kept = req;
      cv.notify_all();
    });
  });
  auto sent = r.mock.send("pinger", "order", json::object{{"item", "tea"}});
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return kept.has_value(); }));
  }
  // The handler has returned: the relay no longer holds the message it was given.
  std::lock_guard lock(m);
  EXPECT_EQ(kept->message().activity_id, sent.activity_id);
  EXPECT_EQ(kept->message().payload.at("item"), "tea");
  kept->reply("ordered", json::object{{"n", 1}});
  auto got = r.mock.wait_for("ordered");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->activity_id, sent.activity_id);
}

TEST(Service, ARequestKeptPastTheRelaysCloseFailsCleanly) {
  std::optional<Request> kept;
  std::promise<void> got;
  {
    Running r([&](Service& s) {
      s.on("order", [&](const json::value&, Request& req) {
        kept = req;
        got.set_value();
      });
    });
    r.mock.send("pinger", "order");
    ASSERT_EQ(got.get_future().wait_for(5s), std::future_status::ready);
  }
  try {
    kept->reply("ordered");
    FAIL() << "sent through a closed relay";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::closed);
  }
}
