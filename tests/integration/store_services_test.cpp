// What only the users service does (hashing, authentication), and a database that goes away.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/json/serialize.hpp>

#include "exosphere/crud.hpp"
#include "exosphere/testing/mock_exocom.hpp"
#include "support/postgres.hpp"
#include "support/test_support.hpp"

using namespace exosphere;
using namespace exosphere::store;
using exosphere::testing::MockExoCom;
using namespace std::chrono_literals;

namespace {

struct Running {
  MockExoCom exocom;
  std::unique_ptr<Store> store;
  std::unique_ptr<Service> service;
  std::thread thread;
  Running(StoreConfig c, bool users) {
    store = open_store(c);
    store->clear();
    RelayConfig rc;
    rc.host = "127.0.0.1";
    rc.port = exocom.port();
    rc.role = "store";
    rc.log = [](const std::string&) {};
    service = std::make_unique<Service>(rc);
    if (users) register_users(*service, *store);
    else register_crud(*service, *store, Vocabulary::tweets());
    thread = std::thread([this] { service->run(); });
    EXPECT_TRUE(exocom.wait_for_registration("store"));
  }
  ~Running() {
    service->stop();
    thread.join();
  }
  Message ask(const std::string& name, json::value payload = nullptr) {
    auto r = exocom.request("store", name, std::move(payload), 20s);
    if (!r) throw std::runtime_error("no reply to " + name);
    return *r;
  }
};

StoreConfig sqlite(const exo::test::Sandbox& box) {
  StoreConfig c;
  c.collection = "users";
  c.database = "users";
  c.sqlite_path = (box / "users.sqlite").string();
  return c;
}

}  // namespace

TEST(UsersService, PasswordsAreHashedAndNeverReturned) {
  exo::test::Sandbox box;
  Running r(sqlite(box), true);
  auto created = r.ask("users.create", json::object{{"name", "Jean-Luc Picard"}, {"password", "make it so"}});
  ASSERT_EQ(created.name, "users.created");
  EXPECT_FALSE(created.payload.as_object().contains("password"));
  EXPECT_FALSE(created.payload.as_object().contains("password_hash"));
  std::string id(created.payload.at("id").as_string());
  // Stored as an argon2id hash, never as the password.
  auto stored = r.store->find_first(Document{{"id", id}});
  ASSERT_TRUE(stored);
  EXPECT_EQ(std::string(stored->at("password_hash").as_string()).rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(json::serialize(*stored).find("make it so"), std::string::npos);
  for (const auto& [name, payload] : std::vector<std::pair<std::string, json::value>>{
           {"user.get-details", json::object{{"id", id}}},
           {"users.list", nullptr},
           {"user.update", json::object{{"id", id}, {"rank", "captain"}}},
       }) {
    auto reply = r.ask(name, payload);
    std::string text = json::serialize(reply.payload);
    EXPECT_EQ(text.find("password"), std::string::npos) << name << ": " << text;
  }
  auto removed = r.ask("user.delete", json::object{{"id", id}});
  EXPECT_EQ(json::serialize(removed.payload).find("password"), std::string::npos);
}

TEST(UsersService, Authenticate) {
  exo::test::Sandbox box;
  Running r(sqlite(box), true);
  auto created = r.ask("users.create", json::object{{"name", "riker"}, {"password", "number one"}});
  auto ok = r.ask("user.authenticate", json::object{{"name", "riker"}, {"password", "number one"}});
  EXPECT_EQ(ok.name, "user.authenticated");
  EXPECT_EQ(ok.payload, (json::object{{"id", created.payload.at("id")}, {"name", "riker"}}));
  auto wrong = r.ask("user.authenticate", json::object{{"name", "riker"}, {"password", "number two"}});
  EXPECT_EQ(wrong.name, "user.not-authenticated");
  auto nobody = r.ask("user.authenticate", json::object{{"name", "q"}, {"password", "number one"}});
  EXPECT_EQ(nobody.name, "user.not-authenticated");
  EXPECT_EQ(wrong.payload, (json::object{{"name", "riker"}}));
  auto malformed = r.ask("user.authenticate", json::object{{"name", "riker"}});
  EXPECT_EQ(malformed.name, "user.not-authenticated");
  // A new password through update works; the old one no longer does.
  r.ask("user.update", json::object{{"id", created.payload.at("id")}, {"password", "engage"}});
  EXPECT_EQ(r.ask("user.authenticate", json::object{{"name", "riker"}, {"password", "engage"}}).name, "user.authenticated");
  EXPECT_EQ(r.ask("user.authenticate", json::object{{"name", "riker"}, {"password", "number one"}}).name,
            "user.not-authenticated");
  // One account per name; the first keeps its password.
  auto twin = r.ask("users.create", json::object{{"name", "riker"}, {"password", "imposter"}});
  EXPECT_EQ(twin.name, "users.not-created");
  EXPECT_EQ(twin.payload, (json::object{{"error", "Name 'riker' is taken"}}));
  EXPECT_EQ(r.ask("user.authenticate", json::object{{"name", "riker"}, {"password", "imposter"}}).name, "user.not-authenticated");
  auto many = r.ask("users.create-many", json::array{json::object{{"name", "troi"}}, json::object{{"name", "troi"}}});
  EXPECT_EQ(many.payload, (json::object{{"error", "Name 'troi' is taken"}})) << "twice in one batch";
  auto other = r.ask("users.create", json::object{{"name", "worf"}, {"password", "honor"}});
  auto renamed = r.ask("user.update", json::object{{"id", other.payload.at("id")}, {"name", "riker"}});
  EXPECT_EQ(renamed.name, "users.error");
  EXPECT_EQ(renamed.payload, (json::object{{"error", "Name 'riker' is taken"}}));
  EXPECT_EQ(r.ask("user.update", json::object{{"id", other.payload.at("id")}, {"name", "worf"}}).name, "user.updated")
      << "keeping one's own name";
  // An unknown name costs a hash check too, so its answer takes as long as a wrong password's
  // (medians of five: one slow moment on a busy machine decides nothing).
  auto median = [&](const char* name) {
    std::vector<std::chrono::steady_clock::duration> times;
    for (int i = 0; i < 5; ++i) {
      auto start = std::chrono::steady_clock::now();
      r.ask("user.authenticate", json::object{{"name", name}, {"password", "wrong"}});
      times.push_back(std::chrono::steady_clock::now() - start);
    }
    std::sort(times.begin(), times.end());
    return times[2];
  };
  EXPECT_GT(median("nobody") * 3, median("riker")) << "an unknown name answers much faster than a known one";
  // Hashes cannot be probed through queries.
  auto probe = r.ask("user.get-details", json::object{{"password", "engage"}});
  EXPECT_EQ(probe.name, "user.details");  // the password field is ignored: the first user matches
}

TEST(StoreServices, ADatabaseThatGoesAwayMidRun) {
  if (!exo::test::PostgresServer::available()) GTEST_SKIP() << "no PostgreSQL here";
  exo::test::PostgresServer pg;
  StoreConfig c;
  c.collection = "tweets";
  c.database = "tweets";
  c.postgres_url = pg.url();
  Running r(c, false);
  auto first = r.ask("tweets.create", json::object{{"content", "before"}});
  ASSERT_EQ(first.name, "tweets.created");
  pg.stop();
  auto during = r.ask("tweets.create", json::object{{"content", "during"}});
  EXPECT_EQ(during.name, "tweets.not-created");
  EXPECT_NE(std::string(during.payload.at("error").as_string()).find("PostgreSQL"), std::string::npos) << during.payload;
  EXPECT_EQ(r.ask("tweets.list").name, "tweets.error");
  EXPECT_EQ(r.ask("tweets.get-details", json::object{{"content", "before"}}).name, "tweets.error");
  pg.start();
  auto after = r.ask("tweets.create", json::object{{"content", "after"}});
  EXPECT_EQ(after.name, "tweets.created") << after.payload;
  auto list = r.ask("tweets.list");
  ASSERT_EQ(list.payload.at("count"), 2);  // what was acknowledged is there; what was refused is not
  EXPECT_EQ(list.payload.at("entries").at(0).at("content"), "before");
  EXPECT_EQ(list.payload.at("entries").at(1).at("content"), "after");
}

TEST(StoreServices, SqliteFileLivesInTheDataFolder) {
  exo::test::Sandbox box;
  setenv("EXOSPHERE_DATA_DIR", box.path().c_str(), 1);
  unsetenv("POSTGRES_URL");
  unsetenv("MONGODB_URL");
  unsetenv("MONGO");
  auto c = StoreConfig::from_environment("tweets", "space-tweet-tweets");
  EXPECT_EQ(c.sqlite_path, (box / "space-tweet-tweets.sqlite").string());
  auto s = open_store(c);
  EXPECT_EQ(s->backend(), "sqlite");
  s->insert(Document{{"content", "x"}});
  EXPECT_TRUE(std::filesystem::exists(c.sqlite_path));
  setenv("MONGO", "db.local", 1);
  EXPECT_EQ(StoreConfig::from_environment("t", "d").mongodb_url, "mongodb://db.local:27017");
  unsetenv("MONGO");
  unsetenv("EXOSPHERE_DATA_DIR");
}
