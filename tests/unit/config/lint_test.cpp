#include <gtest/gtest.h>

#include "config/lint.hpp"
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

Application app(std::string_view yaml) {
  Warnings w;
  return parse_application(dedent(yaml), "application.yml", "/app", w);
}

const char* kWebUsers = R"(
  name: lint-app
  services:
    public:
      web: {location: ./web}
    private:
      users: {location: ./users}
)";

}  // namespace

TEST(Lint, PassesWhenEverySentMessageIsReceived) {
  auto a = app(kWebUsers);
  std::map<std::string, Service> s{{"web", service({"users.created"}, {"users.create"})},
                                   {"users", service({"users.create"}, {"users.created"})}};
  EXPECT_EQ(lint(a, s, {}).problems(), 0u);
}

TEST(Lint, ReportsSentButNotReceivedWithTheSender) {
  auto a = app(kWebUsers);
  std::map<std::string, Service> s{{"web", service({}, {"user.delete"})}, {"users", service({}, {})}};
  auto r = lint(a, s, {});
  ASSERT_EQ(r.sent_not_received.size(), 1u);
  EXPECT_EQ(r.sent_not_received[0].text, "user.delete");
  EXPECT_EQ(r.sent_not_received[0].roles, (std::vector<std::string>{"web"}));
}

TEST(Lint, ReportsReceivedButNotSentWithTheReceivers) {
  auto a = app(kWebUsers);
  std::map<std::string, Service> s{{"web", service({"user.created"}, {})}, {"users", service({"user.created"}, {})}};
  auto r = lint(a, s, {});
  ASSERT_EQ(r.received_not_sent.size(), 1u);
  EXPECT_EQ(r.received_not_sent[0].roles, (std::vector<std::string>{"web", "users"}));
}

TEST(Lint, ComparesPublicNamesAfterTranslation) {
  auto a = app(R"(
    name: space-tweet
    services:
      public:
        web: {location: ./web}
      private:
        tweets:
          location: ./mongo
          message-translation:
            - {public: tweets.create, internal: mongo.create}
            - {public: tweets.created, internal: mongo.created}
  )");
  std::map<std::string, Service> s{{"web", service({"tweets.created"}, {"tweets.create"})},
                                   {"tweets", service({"mongo.create"}, {"mongo.created"})}};
  EXPECT_EQ(lint(a, s, {}).problems(), 0u);
}

TEST(Lint, ComparesPublicNamesAfterNamespaces) {
  auto a = app(R"(
    name: running
    services:
      public:
        web: {location: ./web}
      private:
        users: {location: ./mongo, namespace: mongo}
  )");
  std::map<std::string, Service> s{{"web", service({"users.listed"}, {"users.list"})},
                                   {"users", service({"mongo.list"}, {"mongo.listed", "mongo.deleted"})}};
  auto r = lint(a, s, {});
  ASSERT_EQ(r.problems(), 1u);
  EXPECT_EQ(r.sent_not_received[0].text, "users.deleted (sent as mongo.deleted)");
}

TEST(Lint, ReportsNamesThatCollideAfterTranslation) {
  auto a = app(R"(
    name: clash
    services:
      public:
        web: {location: ./web}
      private:
        users:
          location: ./users
          namespace: mongo
  )");
  // `mongo.create` becomes `users.create`, which the service also declares itself.
  std::map<std::string, Service> s{{"web", service({}, {"users.create"})},
                                   {"users", service({"mongo.create", "users.create"}, {})}};
  auto r = lint(a, s, {});
  ASSERT_EQ(r.name_collisions.size(), 1u);
  EXPECT_EQ(r.name_collisions[0].roles, (std::vector<std::string>{"users"}));
  EXPECT_EQ(r.name_collisions[0].text, "'mongo.create' and 'users.create' are all 'users.create'");
}

TEST(Lint, ReportsTranslationsOfUndeclaredMessages) {
  auto a = app(R"(
    name: t
    services:
      public:
        web: {location: ./web}
      private:
        tweets:
          location: ./mongo
          message-translation:
            - {public: tweets.create, internal: mongo.create}
            - {public: tweets.zonk, internal: mongo.zonk}
  )");
  std::map<std::string, Service> s{{"web", service({}, {"tweets.create"})}, {"tweets", service({"mongo.create"}, {})}};
  auto r = lint(a, s, {});
  ASSERT_EQ(r.unused_translations.size(), 1u);
  EXPECT_EQ(r.unused_translations[0].text, "mongo.zonk (public tweets.zonk) is neither sent nor received by the service");
}

TEST(Lint, ReportsRolesWithoutServiceFile) {
  auto a = app(kWebUsers);
  std::map<std::string, Service> s{{"web", service({}, {})}};
  auto r = lint(a, s, {"users"});
  ASSERT_EQ(r.missing_service_files.size(), 1u);
  EXPECT_EQ(r.missing_service_files[0].roles, (std::vector<std::string>{"users"}));
}
