#include <gtest/gtest.h>

#include "config/application.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::config;
using exo::test::dedent;

namespace {
Application parse(std::string_view text, Warnings* w = nullptr) {
  Warnings local;
  return parse_application(dedent(text), "application.yml", "/app", w ? *w : local);
}
}  // namespace

TEST(Application, ReadsThe2017Format) {
  auto app = parse(R"(
    name: todo-app
    description: A todo application
    version: '0.0.1'
    dependencies:
      - type: exocom
        version: 0.21.7
    services:
      public:
        html-server:
          location: ./html-server
      private:
        todo-service:
          location: ./todo-service
        users:
          location: ../users-service
          namespace: mongo
        search:
          docker-image: originate/fulltext-search
    environments:
      production:
        domain: example.com
        providers:
          aws:
            region: us-west-2
            remote-state-store: todo-app-terraform
            public-cluster-size: t2.micro
            private-cluster-size: t2.micro
  )");
  EXPECT_EQ(app.name, "todo-app");
  EXPECT_EQ(app.version, "0.0.1");
  ASSERT_EQ(app.dependencies.size(), 1u);
  EXPECT_EQ(app.dependencies[0].type, "exocom");
  EXPECT_EQ(app.dependencies[0].version, "0.21.7");
  EXPECT_EQ(app.roles(), (std::vector<std::string>{"html-server", "todo-service", "users", "search"}));
  EXPECT_EQ(app.find("html-server")->protection_level, "public");
  EXPECT_EQ(app.find("users")->ns, "mongo");
  EXPECT_EQ(app.find("users")->location, "../users-service");
  EXPECT_EQ(app.find("search")->docker_image, "originate/fulltext-search");
  ASSERT_EQ(app.environments.size(), 1u);
  EXPECT_EQ(app.environments[0].domain, "example.com");
  EXPECT_EQ(app.environments[0].aws->region, "us-west-2");
  EXPECT_EQ(app.environments[0].aws->remote_state_store, "todo-app-terraform");
}

TEST(Application, EmptyProtectionLevelsAreValid) {
  auto app = parse(R"(
    name: foo
    services:
      public:
      private:
  )");
  EXPECT_TRUE(app.services.empty());
}

TEST(Application, PublicRolesComeFirstInFileOrder) {
  auto app = parse(R"(
    name: foo
    services:
      private:
        zeta: {location: ./z}
        alpha: {location: ./a}
      public:
        web: {location: ./w}
  )");
  EXPECT_EQ(app.roles(), (std::vector<std::string>{"web", "zeta", "alpha"}));
}

TEST(Application, ReadsMessageTranslations) {
  auto app = parse(R"(
    name: space-tweet
    services:
      private:
        tweets:
          location: ../mongodb-service
          message-translation:
            - public: tweets.create
              internal: mongo.create
            - {public: tweets.created, internal: mongo.created}
  )");
  auto t = app.find("tweets")->translations;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], (Translation{"tweets.create", "mongo.create"}));
  EXPECT_EQ(t[1], (Translation{"tweets.created", "mongo.created"}));
}

TEST(Application, UnknownKeysWarnWithLine) {
  Warnings w;
  auto app = parse(R"(
    name: foo
    colour: blue
    services:
      public:
        web:
          location: ./web
          replicas: 3
  )", &w);
  ASSERT_EQ(w.lines.size(), 2u);
  EXPECT_EQ(w.lines[0].substr(0, 34), "application.yml:2: colour: unknown");
  EXPECT_EQ(w.lines[1].substr(0, 56), "application.yml:7: services.public.web.replicas: unknown");
}

TEST(Application, VersionStaysTextAsWritten) {
  auto app = parse(R"(
    name: foo
    version: 1.0
    services: {}
  )");
  EXPECT_EQ(app.version, "1.0");
}

TEST(Application, DependencyNameIsAcceptedForType) {
  auto app = parse(R"(
    name: foo
    dependencies:
      - name: nats
        version: 2.9
    services: {}
  )");
  EXPECT_EQ(app.dependencies[0].type, "nats");
}

TEST(Application, LoadFromFolder) {
  exo::test::Sandbox box;
  box.write("application.yml", "name: foo\nservices:\n  public:\n");
  Warnings w;
  auto app = load_application(box.path(), w);
  EXPECT_EQ(app.name, "foo");
  EXPECT_EQ(app.root, box.path());
}

TEST(Application, ReadsExocomNodesPerEnvironment) {
  Warnings w;
  auto app = parse(R"(
    name: foo
    services: {}
    environments:
      production:
        exocom:
          nodes: 3
      staging:
        domain: example.com
      qa:
        exocom:
          nodes: 10
          replicas: 2
  )", &w);
  EXPECT_TRUE(w.lines.empty()) << w.lines.front();
  ASSERT_EQ(app.environments.size(), 3u);
  EXPECT_EQ(app.environments[0].exocom.nodes, 3);
  EXPECT_TRUE(app.environments[0].exocom.problems.empty());
  EXPECT_EQ(app.environments[1].exocom.nodes, 1);
  // Deploy reports what is wrong (tests/unit/deploy); reading does not fail, so commands that do
  // not deploy keep working.
  EXPECT_EQ(app.environments[2].exocom.nodes, 1);
  ASSERT_EQ(app.environments[2].exocom.problems.size(), 2u);
  EXPECT_EQ(app.environments[2].exocom.problems[0].first.str(), "application.yml:11: environments.qa.exocom.nodes");
  EXPECT_EQ(app.environments[2].exocom.problems[1].first.str(), "application.yml:12: environments.qa.exocom.replicas");
}
