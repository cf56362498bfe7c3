#include <gtest/gtest.h>

#include "common/error.hpp"
#include "config/routes.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::config;
using exo::test::dedent;

namespace {

Service service(std::vector<std::string> receives, std::vector<std::string> sends) {
  Service s;
  s.receives = std::move(receives);
  s.sends = std::move(sends);
  return s;
}

// The "test" app of the original exo-setup feature: web, users (namespace mongo), dashboard.
struct TestApp {
  Application app;
  std::map<std::string, Service> services;
  TestApp() {
    Warnings w;
    app = parse_application(dedent(R"(
      name: test
      services:
        public:
          web: {location: ./web-server}
        private:
          users: {location: ./mongo-service, namespace: mongo}
          dashboard: {location: ./dashboard}
    )"), "application.yml", "/app", w);
    services["web"] = service({"users.listed", "users.created"}, {"users.list", "users.create"});
    services["users"] = service({"mongo.list", "mongo.create"}, {"mongo.listed", "mongo.created"});
    services["dashboard"] = service({"users.listed", "users.created"}, {"users.list"});
  }
};

}  // namespace

TEST(Routes, CompilesServiceRoutesAsTheOriginal) {
  TestApp t;
  auto table = compile_routes(t.app, t.services);
  EXPECT_EQ(to_service_routes(table),
            R"([{"role":"web","receives":["users.listed","users.created"],"sends":["users.list","users.create"]},)"
            R"({"role":"users","receives":["mongo.list","mongo.create"],"sends":["mongo.listed","mongo.created"],"namespace":"mongo"},)"
            R"({"role":"dashboard","receives":["users.listed","users.created"],"sends":["users.list"]}])");
}

TEST(Routes, CompilesServiceData) {
  TestApp t;
  auto table = compile_routes(t.app, t.services);
  EXPECT_EQ(to_service_data(table),
            R"({"web":{"receives":["users.listed","users.created"],"sends":["users.list","users.create"],"translations":[]},)"
            R"("users":{"receives":["mongo.list","mongo.create"],"sends":["mongo.listed","mongo.created"],"translations":[],"namespace":"mongo"},)"
            R"("dashboard":{"receives":["users.listed","users.created"],"sends":["users.list"],"translations":[]}})");
}

TEST(Routes, EmptyListsAreNullInServiceRoutes) {
  RouteTable table;
  table.add("web");
  EXPECT_EQ(to_service_routes(table), R"([{"role":"web","receives":null,"sends":null}])");
}

TEST(Routes, BothFormsParseBackToTheSameTable) {
  TestApp t;
  auto table = compile_routes(t.app, t.services);
  auto from_data = parse_routes(to_service_data(table), "SERVICE_DATA");
  auto from_routes = parse_routes(to_service_routes(table), "SERVICE_ROUTES");
  EXPECT_EQ(from_data.roles, table.roles);
  EXPECT_EQ(from_routes.roles, table.roles);
}

TEST(Routes, ParsesGoStyleServiceData) {
  auto table = parse_routes(R"({"web":{"receives":["users created"],"sends":["users create"]},
    "users":{"receives":["mongo create"],"sends":["mongo created"],
             "translations":[{"public":"users create","internal":"mongo create"}]},"security":{}})",
                            "SERVICE_DATA");
  ASSERT_NE(table.find("users"), nullptr);
  EXPECT_EQ(table.find("users")->translations[0], (Translation{"users create", "mongo create"}));
  EXPECT_TRUE(table.find("security")->receives.empty());
}

TEST(Routes, RejectsMalformedTables) {
  EXPECT_THROW(parse_routes("{", "SERVICE_DATA"), UserError);
  EXPECT_THROW(parse_routes("42", "SERVICE_DATA"), UserError);
  EXPECT_THROW(parse_routes(R"({"web":{"receives":"ping"}})", "SERVICE_DATA"), UserError);
  EXPECT_THROW(parse_routes(R"({"web":{"receives":[1]}})", "SERVICE_DATA"), UserError);
  EXPECT_THROW(parse_routes(R"([{"receives":[]}])", "SERVICE_ROUTES"), UserError);
  EXPECT_THROW(parse_routes(R"([{"role":"a"},{"role":"a"}])", "SERVICE_ROUTES"), UserError);
  EXPECT_THROW(parse_routes(R"({"a":{"translations":[{"public":"x"}]}})", "SERVICE_DATA"), UserError);
  try {
    parse_routes(R"({"web":{"sends":"ping"}})", "SERVICE_DATA");
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "SERVICE_DATA: web.sends: expected a list of message names");
  }
}

TEST(Translation, OneToOneListsWinThenNamespaces) {
  RoleRoutes r;
  r.ns = "mongo";
  r.translations = {{"tweets.create", "mongo.create"}};
  EXPECT_EQ(to_public(r, "tweets", "mongo.create"), "tweets.create");
  EXPECT_EQ(to_public(r, "tweets", "mongo.created"), "tweets.created");
  // Names outside the namespace keep their spelling (the original renamed every dotted name).
  EXPECT_EQ(to_public(r, "tweets", "users.created"), "users.created");
  EXPECT_EQ(to_public(r, "tweets", "ping"), "ping");
  // The whole rest of the name is kept (the original dropped parts after the second dot).
  EXPECT_EQ(to_public(r, "tweets", "mongo.a.b"), "tweets.a.b");
}
