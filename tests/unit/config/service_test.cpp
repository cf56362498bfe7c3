#include <gtest/gtest.h>

#include "config/service.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::config;
using exo::test::dedent;

namespace {
Service parse(std::string_view text, Warnings* w = nullptr) {
  Warnings local;
  return parse_service(dedent(text), "web/service.yml", "/app/web", w ? *w : local);
}
}  // namespace

TEST(Service, ReadsThe2017Format) {
  Warnings w;
  auto s = parse(R"(
    type: todo-service
    description: stores the todo entries
    author: test-author
    setup: yarn install
    startup:
      command: node server.js
      online-text: online at port
    tests: node_modules/cucumber/bin/cucumber.js
    messages:
      receives:
        - todo.create
        - todo.list
      sends:
        - todo.created
        - todo.listing
    dependencies:
      mongo:
        dev:
          image: 'mongo'
          version: '3.4.0'
          volumes:
            - '{{EXO_DATA_PATH}}:/data/db'
          ports:
            - '27017:27017'
          online-text: 'waiting for connections'
    docker:
      ports:
        - '3000:3000'
    restart:
      ignore:
        - "**/*.txt"
    production:
      url: todo.example.com
      aws:
        public-port: 3000
        cpu: 100
        memory: 500
  )", &w);
  EXPECT_TRUE(w.lines.empty()) << w.lines[0];
  EXPECT_EQ(s.type, "todo-service");
  EXPECT_EQ(s.setup, "yarn install");
  EXPECT_EQ(s.startup.command, "node server.js");
  EXPECT_EQ(s.startup.online_text, "online at port");
  EXPECT_EQ(s.receives, (std::vector<std::string>{"todo.create", "todo.list"}));
  EXPECT_EQ(s.sends, (std::vector<std::string>{"todo.created", "todo.listing"}));
  ASSERT_EQ(s.dependencies.size(), 1u);
  EXPECT_EQ(s.dependencies[0].name, "mongo");
  EXPECT_EQ(s.dependencies[0].image, "mongo");
  EXPECT_EQ(s.dependencies[0].version, "3.4.0");
  EXPECT_EQ(s.dependencies[0].volumes[0], "{{EXO_DATA_PATH}}:/data/db");
  EXPECT_EQ(s.dependencies[0].online_text, "waiting for connections");
  EXPECT_EQ(s.docker_ports, (std::vector<std::string>{"3000:3000"}));
  EXPECT_EQ(s.restart.ignore, (std::vector<std::string>{"**/*.txt"}));
  EXPECT_EQ(s.production.url, "todo.example.com");
  EXPECT_EQ(s.production.public_port, 3000);
  EXPECT_EQ(s.production.memory, 500);
}

TEST(Service, NullMessageListsAreEmpty) {
  auto s = parse(R"(
    type: html-server
    messages:
      sends:
      receives:
  )");
  EXPECT_TRUE(s.sends.empty());
  EXPECT_TRUE(s.receives.empty());
}

TEST(Service, RestartShorthand) {
  EXPECT_TRUE(parse("restart: on-failure\n").restart.on_failure);
  EXPECT_FALSE(parse("restart: no\n").restart.on_failure);
}

TEST(Service, HealthCheck) {
  auto s = parse(R"(
    startup:
      command: ./server
      health-check:
        http: /status
      timeout: 5
  )");
  EXPECT_EQ(s.startup.health_check.http_path, "/status");
  EXPECT_EQ(s.startup.timeout_seconds, 5);
}

TEST(Service, EmptyFileIsAServiceWithNothingDeclared) {
  auto s = parse("");
  EXPECT_TRUE(s.sends.empty());
  EXPECT_TRUE(s.startup.command.empty());
}
