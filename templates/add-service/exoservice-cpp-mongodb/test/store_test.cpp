#include <thread>

#include <gtest/gtest.h>
#include <exosphere/crud.hpp>
#include <exosphere/testing/mock_exocom.hpp>

namespace json = exosphere::json;

TEST({{serviceIdentifier}}, CreatesAndListsEntries) {
  exosphere::testing::MockExoCom exocom;
  exosphere::store::StoreConfig config;
  config.collection = "{{modelName}}s";
  config.sqlite_path = ":memory:";
  auto store = exosphere::store::open_store(config);
  exosphere::RelayConfig relay;
  relay.host = "127.0.0.1";
  relay.port = exocom.port();
  relay.role = "{{serviceRole}}";
  exosphere::Service service(relay);
  exosphere::store::register_crud(service, *store, exosphere::store::Vocabulary::model("{{modelName}}"));
  std::thread running([&] { service.run(); });
  ASSERT_TRUE(exocom.wait_for_registration("{{serviceRole}}"));

  auto created = exocom.request("{{serviceRole}}", "{{modelName}}.create", json::object{ {"title", "one"} });
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->name, "{{modelName}}.created");
  EXPECT_EQ(created->payload.at("id").as_string().size(), 24u);

  auto listed = exocom.request("{{serviceRole}}", "{{modelName}}.list");
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->payload.at("count"), 1);
  EXPECT_EQ(listed->payload.at("entries").at(0).at("title"), "one");

  auto missing = exocom.request("{{serviceRole}}", "{{modelName}}.get-details", json::object{ {"id", "zonk"} });
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->name, "{{modelName}}.not-found");

  service.stop();
  running.join();
}
