// The conformance table of the generic services (mongo, tweets, users), run against every store
// backend: SQLite, a real PostgreSQL server, and MongoDB when MONGODB_URL is set. Each service
// runs for real and is driven over the wire by MockExoCom.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <thread>

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

// One server for the whole suite: starting PostgreSQL takes a second or two.
exo::test::PostgresServer* pg() {
  static std::unique_ptr<exo::test::PostgresServer> server = std::make_unique<exo::test::PostgresServer>();
  return server.get();
}

enum class Kind { mongo, tweets, users };

struct Param {
  Kind kind;
  std::string backend;
};

std::string name_of(const Param& p);
void PrintTo(const Param& p, std::ostream* os) { *os << name_of(p); }

std::string name_of(const Param& p) {
  std::string k = p.kind == Kind::mongo ? "mongo" : p.kind == Kind::tweets ? "tweets" : "users";
  return k + "_" + p.backend;
}

// A generic service running on a store, and the mock bus that drives it.
class Conformance : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& p = GetParam();
    StoreConfig c;
    c.collection = "entries";
    c.database = "conformance";
    if (p.backend == "sqlite") c.sqlite_path = (box_.path() / "store.sqlite").string();
    else if (p.backend == "postgresql") c.postgres_url = pg()->url();
    else if (p.backend == "mongodb") c.mongodb_url = std::getenv("MONGODB_URL");
    store_ = open_store(c);
    store_->clear();
    vocabulary_ = p.kind == Kind::mongo ? Vocabulary::mongo() : p.kind == Kind::tweets ? Vocabulary::tweets() : Vocabulary::users();
    RelayConfig rc;
    rc.host = "127.0.0.1";
    rc.port = exocom_.port();
    rc.role = "store";
    rc.log = [](const std::string&) {};
    service_ = std::make_unique<Service>(rc);
    if (p.kind == Kind::users) register_users(*service_, *store_);
    else register_crud(*service_, *store_, vocabulary_);
    runner_ = std::thread([this] { service_->run(); });
    ASSERT_TRUE(exocom_.wait_for_registration("store"));
  }
  void TearDown() override {
    service_->stop();
    runner_.join();
  }

  // Sends `name` and returns the reply.
  Message ask(const std::string& name, json::value payload = nullptr) {
    auto reply = exocom_.request("store", name, std::move(payload), 20s);
    if (!reply) throw std::runtime_error("no reply to " + name);
    return *reply;
  }
  std::string field() const { return vocabulary_.required_field; }
  std::string blank() const { return GetParam().kind == Kind::users ? "Name cannot be blank" : "Content cannot be blank"; }
  json::object entry(const std::string& value) { return json::object{{field(), value}}; }
  json::array listed(const Message& m) { return m.payload.at(vocabulary_.list_key).as_array(); }
  // Seeds entries and returns their ids in order.
  std::vector<std::string> seed(const std::vector<std::string>& values, const std::string& owner = "1") {
    json::array docs;
    for (const auto& v : values) {
      auto e = entry(v);
      if (GetParam().kind != Kind::users) e["owner_id"] = owner;
      docs.push_back(e);
    }
    auto r = ask(vocabulary_.create_many, docs);
    EXPECT_EQ(r.name, vocabulary_.created_many);
    std::vector<std::string> ids;
    for (const auto& v : values) ids.push_back(std::string(ask(vocabulary_.get_details, entry(v)).payload.at("id").as_string()));
    return ids;
  }
  static bool hex24(const json::value& v) { return v.is_string() && std::regex_match(std::string(v.get_string()), std::regex("[0-9a-f]{24}")); }

  exo::test::Sandbox box_;
  MockExoCom exocom_;
  std::unique_ptr<Store> store_;
  Vocabulary vocabulary_;
  std::unique_ptr<Service> service_;
  std::thread runner_;
};

}  // namespace

TEST_P(Conformance, Create) {
  json::object doc = entry(GetParam().kind == Kind::users ? "Jean-Luc Picard" : "Hello world");
  if (GetParam().kind != Kind::users) doc["owner_id"] = "1";
  auto r = ask(vocabulary_.create, doc);
  EXPECT_EQ(r.name, vocabulary_.created);
  EXPECT_TRUE(hex24(r.payload.at("id"))) << r.payload;
  EXPECT_EQ(r.payload.at(field()), doc.at(field()));
  auto list = ask(vocabulary_.list, json::object{{"owner_id", "1"}});
  EXPECT_EQ(list.payload.at("count"), 1);
  EXPECT_EQ(listed(list)[0].at("id"), r.payload.at("id"));
}

TEST_P(Conformance, CreateRequiresTheField) {
  auto blank_value = ask(vocabulary_.create, entry(""));
  EXPECT_EQ(blank_value.name, vocabulary_.not_created);
  EXPECT_EQ(blank_value.payload, (json::object{{"error", blank()}}));
  // Fixed: the original crashed when the field was missing altogether.
  auto missing = ask(vocabulary_.create, json::object{{"other", 1}});
  EXPECT_EQ(missing.name, vocabulary_.not_created);
  EXPECT_EQ(missing.payload, (json::object{{"error", blank()}}));
  auto wrong_type = ask(vocabulary_.create, json::object{{field(), 42}});
  EXPECT_EQ(wrong_type.name, vocabulary_.not_created);
  EXPECT_NE(std::string(wrong_type.payload.at("error").as_string()).find("must be text"), std::string::npos);
  auto not_an_object = ask(vocabulary_.create, json::array{1, 2});
  EXPECT_EQ(not_an_object.name, vocabulary_.not_created);
  EXPECT_EQ(ask(vocabulary_.list).payload.at("count"), 0);
}

TEST_P(Conformance, CreateMany) {
  auto r = ask(vocabulary_.create_many, json::array{entry("Monday"), entry("Tuesday")});
  EXPECT_EQ(r.name, vocabulary_.created_many);
  EXPECT_EQ(r.payload, (json::object{{"count", 2}}));
  EXPECT_EQ(ask(vocabulary_.list).payload.at("count"), 2);
}

TEST_P(Conformance, CreateManyIsAllOrNothing) {
  auto r = ask(vocabulary_.create_many, json::array{entry("Monday"), entry("")});
  EXPECT_EQ(r.name, vocabulary_.not_created);
  EXPECT_EQ(r.payload, (json::object{{"error", blank()}}));
  EXPECT_EQ(ask(vocabulary_.list).payload.at("count"), 0);
  auto none = ask(vocabulary_.create_many, json::array{});
  EXPECT_EQ(none.name, vocabulary_.created_many);
  EXPECT_EQ(none.payload, (json::object{{"count", 0}}));
  EXPECT_EQ(ask(vocabulary_.create_many, json::object{}).name, vocabulary_.not_created_many);
}

TEST_P(Conformance, GetDetails) {
  auto ids = seed({"Monday", "Tuesday", "Wednesday"});
  auto by_id = ask(vocabulary_.get_details, json::object{{"id", ids[1]}});
  EXPECT_EQ(by_id.name, vocabulary_.details);
  EXPECT_EQ(by_id.payload.at(field()), "Tuesday");
  auto by_field = ask(vocabulary_.get_details, entry("Tuesday"));
  EXPECT_EQ(by_field.payload.at("id"), json::value(ids[1]));
  auto zonk_id = ask(vocabulary_.get_details, json::object{{"id", "zonk"}});
  EXPECT_EQ(zonk_id.name, vocabulary_.not_found);
  EXPECT_EQ(zonk_id.payload, (json::object{{"id", "zonk"}}));
  auto zonk = ask(vocabulary_.get_details, entry("zonk"));
  EXPECT_EQ(zonk.name, vocabulary_.not_found);
  EXPECT_EQ(zonk.payload, entry("zonk"));
  auto missing = ask(vocabulary_.get_details, json::object{{"id", "0123456789abcdef01234567"}});
  EXPECT_EQ(missing.name, vocabulary_.not_found);
}

TEST_P(Conformance, Update) {
  auto ids = seed({"Monday", "Tuesday", "Wednesday"});
  auto r = ask(vocabulary_.update, json::object{{"id", ids[1]}, {field(), "Dienstag"}});
  EXPECT_EQ(r.name, vocabulary_.updated);
  EXPECT_EQ(r.payload.at("id"), json::value(ids[1]));
  EXPECT_EQ(r.payload.at(field()), "Dienstag");
  auto list = listed(ask(vocabulary_.list));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at(field()), "Monday");
  EXPECT_EQ(list[1].at(field()), "Dienstag");
  EXPECT_EQ(list[2].at(field()), "Wednesday");
  auto zonk = ask(vocabulary_.update, json::object{{"id", "zonk"}, {field(), "feel the zonk"}});
  EXPECT_EQ(zonk.name, vocabulary_.not_found);
  EXPECT_EQ(zonk.payload, (json::object{{"id", "zonk"}}));
  // Fixed: the same values again are an update, not "not found".
  auto same = ask(vocabulary_.update, json::object{{"id", ids[1]}, {field(), "Dienstag"}});
  EXPECT_EQ(same.name, vocabulary_.updated);
  auto gone = ask(vocabulary_.update, json::object{{"id", "0123456789abcdef01234567"}, {field(), "x"}});
  EXPECT_EQ(gone.name, vocabulary_.not_found);
  EXPECT_EQ(gone.payload, json::object{});
  auto no_id = ask(vocabulary_.update, entry("x"));
  EXPECT_EQ(no_id.name, vocabulary_.not_found);
}

TEST_P(Conformance, Delete) {
  auto ids = seed({"Monday", "Tuesday", "Wednesday"});
  auto r = ask(vocabulary_.remove, json::object{{"id", ids[1]}});
  EXPECT_EQ(r.name, vocabulary_.deleted);
  EXPECT_EQ(r.payload.at(field()), "Tuesday");
  auto list = listed(ask(vocabulary_.list));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at(field()), "Monday");
  EXPECT_EQ(list[1].at(field()), "Wednesday");
  auto zonk = ask(vocabulary_.remove, json::object{{"id", "zonk"}});
  EXPECT_EQ(zonk.name, vocabulary_.not_found);
  EXPECT_EQ(zonk.payload, (json::object{{"id", "zonk"}}));
  auto again = ask(vocabulary_.remove, json::object{{"id", ids[1]}});
  EXPECT_EQ(again.name, vocabulary_.not_found);
  EXPECT_EQ(again.payload, (json::object{{"id", ids[1]}}));
}

TEST_P(Conformance, List) {
  auto empty = ask(vocabulary_.list, json::object{{"owner_id", 1}});
  EXPECT_EQ(empty.name, vocabulary_.listed);
  EXPECT_EQ(empty.payload.at("count"), 0);
  EXPECT_EQ(listed(empty).size(), 0u);
  seed({"one", "two"}, "1");
  seed({"Entry from another user"}, "2");
  auto all = ask(vocabulary_.list);
  EXPECT_EQ(all.payload.at("count"), 3);
  if (GetParam().kind == Kind::users) return;  // users are not filtered by owner
  auto mine = ask(vocabulary_.list, json::object{{"owner_id", 1}});  // a number matches the text "1"
  EXPECT_EQ(mine.payload.at("count"), 2);
  EXPECT_EQ(listed(mine)[0].at(field()), "one");
  EXPECT_EQ(listed(mine)[1].at(field()), "two");
  EXPECT_EQ(listed(mine)[0].at("owner_id"), "1");
}

// Pages of a listing: newest first, `limit` entries after `skip`, and whether more follow; with
// and without an owner filter (the database stops early only without one).
TEST_P(Conformance, ListInPages) {
  seed({"a1", "a2", "a3", "a4", "a5"}, "1");
  seed({"b1", "b2"}, "2");
  auto values = [&](const Message& m) {
    std::vector<std::string> out;
    for (const auto& e : listed(m)) out.push_back(std::string(e.at(field()).as_string()));
    return out;
  };
  using V = std::vector<std::string>;
  auto first = ask(vocabulary_.list, json::object{{"limit", 3}, {"newest_first", true}});
  EXPECT_EQ(values(first), (V{"b2", "b1", "a5"}));
  EXPECT_EQ(first.payload.at("count"), 3);
  EXPECT_EQ(first.payload.at("more"), true);
  auto last = ask(vocabulary_.list, json::object{{"limit", 3}, {"skip", 6}, {"newest_first", true}});
  EXPECT_EQ(values(last), (V{"a1"}));
  EXPECT_EQ(last.payload.at("more"), false);
  auto oldest = ask(vocabulary_.list, json::object{{"limit", 2}, {"skip", 1}});
  EXPECT_EQ(values(oldest), (V{"a2", "a3"}));
  auto exact = ask(vocabulary_.list, json::object{{"limit", 7}});
  EXPECT_EQ(exact.payload.at("more"), false) << "seven entries fill a page of seven";
  EXPECT_FALSE(ask(vocabulary_.list).payload.as_object().contains("more")) << "no limit: everything, as before";
  if (GetParam().kind != Kind::users) {
    auto mine = ask(vocabulary_.list, json::object{{"owner_id", "1"}, {"limit", 2}, {"skip", 2}, {"newest_first", true}});
    EXPECT_EQ(values(mine), (V{"a3", "a2"}));
    EXPECT_EQ(mine.payload.at("more"), true);
  }
  for (auto bad : {json::object{{"limit", 0}}, json::object{{"limit", 1001}}, json::object{{"limit", "3"}},
                   json::object{{"skip", -1}}, json::object{{"limit", 2.5}}, json::object{{"newest_first", "yes"}}}) {
    auto refused = ask(vocabulary_.list, bad);
    EXPECT_EQ(refused.name, vocabulary_.error) << json::serialize(bad);
    EXPECT_TRUE(refused.payload.at("error").as_string().starts_with(bad.begin()->key())) << json::serialize(refused.payload);
  }
}

TEST_P(Conformance, InjectionAttemptsAreJustData) {
  json::object doc = entry("'); DROP TABLE entries; --");
  doc["a\"b') OR 1=1 --"] = "x";
  doc["$where"] = "true";
  doc["nested"] = json::object{{"$gt", ""}};
  auto r = ask(vocabulary_.create, doc);
  ASSERT_EQ(r.name, vocabulary_.created) << r.payload;
  auto found = ask(vocabulary_.get_details, json::object{{"a\"b') OR 1=1 --", "x"}});
  EXPECT_EQ(found.name, vocabulary_.details);
  EXPECT_EQ(found.payload.at(field()), "'); DROP TABLE entries; --");
  auto not_found = ask(vocabulary_.get_details, json::object{{"nested", json::object{{"$gt", "a"}}}});
  EXPECT_EQ(not_found.name, vocabulary_.not_found);
  EXPECT_EQ(ask(vocabulary_.list).payload.at("count"), 1);
}

TEST_P(Conformance, LargePayloads) {
  std::string big(300 * 1024, 'x');
  auto r = ask(vocabulary_.create, entry(big));
  ASSERT_EQ(r.name, vocabulary_.created);
  auto back = ask(vocabulary_.get_details, json::object{{"id", r.payload.at("id")}});
  EXPECT_EQ(back.payload.at(field()).as_string().size(), big.size());
}

TEST_P(Conformance, ConcurrentUpdatesOfOneRecord) {
  auto ids = seed({"start"});
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        exocom_.send("store", vocabulary_.update, json::object{{"id", ids[0]}, {"writer", t}, {"round", i}});
    });
  for (auto& w : writers) w.join();
  // Every update was applied in some order; the record is whole.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  size_t updated = 0;
  while (std::chrono::steady_clock::now() < deadline && updated < 40) {
    updated = 0;
    for (const auto& m : exocom_.received()) updated += m.name == vocabulary_.updated;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(updated, 40u);
  auto final_state = ask(vocabulary_.get_details, json::object{{"id", ids[0]}});
  EXPECT_EQ(final_state.payload.at(field()), "start");
  EXPECT_EQ(final_state.payload.at("round"), 9);
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (Kind k : {Kind::mongo, Kind::tweets, Kind::users}) {
    out.push_back({k, "sqlite"});
    if (exo::test::PostgresServer::available()) out.push_back({k, "postgresql"});
    if (const char* m = std::getenv("MONGODB_URL"); m && *m) out.push_back({k, "mongodb"});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Store, Conformance, ::testing::ValuesIn(params()),
                         [](const auto& info) { return name_of(info.param); });
