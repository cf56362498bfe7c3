// The command lines and environments of what exo run starts (launch.hpp).
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/files.hpp"
#include "common/process.hpp"
#include "runner/launch.hpp"
#include "support/processes.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::runner;
using namespace exo::test;

namespace {

struct World {
  config::Service users_yml, web_yml;
  UnitSpec exocom, db, users, web;
  Containers containers;
  Placement p;
  World() {
    exocom.role = "exocom";
    exocom.kind = UnitSpec::Kind::exocom;
    exocom.port = 4100;
    db.role = "db";
    db.kind = UnitSpec::Kind::dependency;
    db.port = 27017;
    config::ServiceDependency d;
    d.name = "db";
    users_yml.dependencies.push_back(d);
    users_yml.environment["LOG_LEVEL"] = "debug";
    users.role = "users";
    users.service = &users_yml;
    users.port = 4001;
    users.command = "exec users-server";
    web.role = "web";
    web.service = &web_yml;
    web.port = 3000;
    p.units = {&exocom, &db, &users, &web};
    p.buses = {&exocom};
    p.data_root = "/app/.exosphere/data";
    p.extra_env = {{"CMAKE_PREFIX_PATH", "/sdk"}};
    containers.engine.program = "podman";
    containers.engine.podman = true;
    containers.network = "demo-run";
    containers.images = {{"users", "demo/users"}, {"web", "demo/web"}};
  }
};

std::string cmdline_of(const std::string& pid) {
  std::string text = try_read_file("/proc/" + pid + "/cmdline").value_or("");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

}  // namespace

TEST(Launch, OneEnvironmentForBothPlacesOnlyTheAddressesDiffer) {
  World w;
  auto local = unit_environment(w.users, w.p, Where::local);
  EXPECT_EQ(local.at("EXOCOM_HOST"), "127.0.0.1");
  EXPECT_EQ(local.at("EXOCOM_PORT"), "4100");
  EXPECT_EQ(local.at("DB"), "127.0.0.1");
  EXPECT_EQ(local.at("DB_PORT"), "27017");
  EXPECT_EQ(local.at("WEB_INTERNAL_ORIGIN"), "http://127.0.0.1:3000");
  EXPECT_EQ(local.at("EXOSPHERE_DATA_DIR"), "/app/.exosphere/data/users");
  EXPECT_EQ(local.at("CMAKE_PREFIX_PATH"), "/sdk");
  EXPECT_EQ(local.at("ROLE"), "users");
  EXPECT_EQ(local.at("PORT"), "4001");
  EXPECT_EQ(local.at("LOG_LEVEL"), "debug");
  EXPECT_FALSE(local.count("EXOSPHERE_STOP_TIMEOUT")) << "not set by the user: not passed";

  auto inside = unit_environment(w.users, w.p, Where::container);
  EXPECT_EQ(inside.at("EXOCOM_HOST"), "exocom");
  EXPECT_EQ(inside.at("EXOCOM_PORT"), "80");
  EXPECT_EQ(inside.at("DB"), "db");
  EXPECT_FALSE(inside.count("DB_PORT"));
  EXPECT_EQ(inside.at("WEB_INTERNAL_ORIGIN"), "http://web:3000");
  EXPECT_EQ(inside.at("EXOSPHERE_DATA_DIR"), "/data");
  EXPECT_FALSE(inside.count("CMAKE_PREFIX_PATH")) << "the host's toolchain is not the container's";
  EXPECT_EQ(inside.at("LOG_LEVEL"), "debug");

  EXPECT_EQ(unit_environment(w.exocom, w.p, Where::container).at("PORT"), "80");
}

TEST(Launch, PassesTheStopBoundTheUserSet) {
  World w;
  w.p.stop_timeout = "2";
  EXPECT_EQ(unit_environment(w.users, w.p, Where::local).at("EXOSPHERE_STOP_TIMEOUT"), "2");
  EXPECT_EQ(unit_environment(w.users, w.p, Where::container).at("EXOSPHERE_STOP_TIMEOUT"), "2");
  EXPECT_EQ(parse_stop_timeout("5"), std::chrono::milliseconds(5000));
  EXPECT_EQ(parse_stop_timeout("3s"), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_stop_timeout("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_stop_timeout("1.5"), std::chrono::milliseconds(1500));
  for (std::string bad : {"", "0", "-1", "five", "5m", " 5", "4000"})
    EXPECT_THROW(parse_stop_timeout(bad), UserError) << bad;
}

TEST(Launch, LocalServicesRunTheirShellCommand) {
  World w;
  Launch l = launch(w.users, w.p);
  EXPECT_EQ(l.argv, shell("exec users-server"));
  EXPECT_EQ(l.env.at("ROLE"), "users");
  w.p.exocom_binary = "/opt/exo/bin/exocom";
  EXPECT_EQ(exocom_command(w.exocom, w.p), "/opt/exo/bin/exocom --host 127.0.0.1 --port 4100");
}

// The rehearsal's secrets: by name on the engine's command line, their values only in the engine
// client's own environment.
TEST(Launch, SecretsNeverGoOnTheCommandLine) {
  World w;
  ContainerSpec spec;
  spec.networks = {"demo-private"};
  spec.env = {{"MONGODB_URL", "mongodb://db"}};
  spec.secrets = {{"SESSION_KEY", "s3cr3t-session-value"}};
  w.containers.specs["users"] = spec;
  w.p.containers = &w.containers;
  Launch l = launch(w.users, w.p);
  auto at = std::find(l.argv.begin(), l.argv.end(), "SESSION_KEY");
  ASSERT_NE(at, l.argv.end());
  EXPECT_EQ(*(at - 1), "-e");
  EXPECT_NE(std::find(l.argv.begin(), l.argv.end(), "MONGODB_URL=mongodb://db"), l.argv.end());
  for (const auto& a : l.argv) EXPECT_EQ(a.find("s3cr3t"), std::string::npos) << a;
  EXPECT_EQ(l.env.at("SESSION_KEY"), "s3cr3t-session-value");
  EXPECT_EQ(l.argv.front(), "podman");
  EXPECT_EQ(l.argv.back(), "demo/users");
}

// The same launch run for real, with a stand-in for the engine that shows what it was given: the
// container gets the value, and no process's /proc/<pid>/cmdline holds it while it runs.
TEST(Launch, NoProcessShowsASecretInItsCommandLine) {
  Sandbox box;
  box.write("podman", "#!/bin/sh\necho \"got $SESSION_KEY\"\nexec sleep 30\n");
  ::chmod((box / "podman").c_str(), 0755);
  World w;
  w.containers.engine.program = (box / "podman").string();
  ContainerSpec spec;
  spec.secrets = {{"SESSION_KEY", "s3cr3t-" + std::to_string(::getpid())}};
  w.containers.specs["users"] = spec;
  w.p.containers = &w.containers;
  Launch l = launch(w.users, w.p);
  SpawnOptions o;
  o.argv = l.argv;
  o.env = l.env;
  o.merge_stderr = true;
  Watched engine(o);
  ASSERT_NE(engine.output().wait_for("got s3cr3t-", std::chrono::seconds(10)), std::string::npos) << engine.output().text();
  EXPECT_NE(engine.output().text().find("got " + spec.secrets.at("SESSION_KEY")), std::string::npos);
  std::vector<std::string> holding;
  DIR* proc = ::opendir("/proc");
  ASSERT_NE(proc, nullptr);
  while (dirent* e = ::readdir(proc)) {
    std::string pid = e->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    if (cmdline_of(pid).find(spec.secrets.at("SESSION_KEY")) != std::string::npos) holding.push_back(pid + ": " + cmdline_of(pid));
  }
  ::closedir(proc);
  EXPECT_TRUE(holding.empty()) << holding.front();
  engine.stop();
}
