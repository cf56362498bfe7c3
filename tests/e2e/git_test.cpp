// exo clone, exo sync and exo clean with real git repositories and a recording Docker stand-in.
#include <gtest/gtest.h>

#include "common/process.hpp"
#include "support/test_support.hpp"

using namespace exo;
using namespace exo::test;

namespace {

// A bare repository `name`.git under origins/ holding `files`.
void repo(Sandbox& box, const std::string& name, const std::map<std::string, std::string>& files) {
  fs::path work = box / ("work-" + name);
  for (const auto& [path, content] : files) box.write(fs::path("work-" + name) / path, content);
  git(work, {"init", "-q"});
  git(work, {"add", "."});
  git(work, {"commit", "-q", "-m", "initial"});
  git(box.path(), {"clone", "-q", "--bare", work.string(), (box / ("origins/" + name + ".git")).string()});
}

}  // namespace

TEST(ExoClone, AnApplicationAndItsServices) {
  Sandbox box;
  repo(box, "web", {{"service.yml", "type: web\n"}});
  repo(box, "users", {{"service.yml", "type: users\n"}});
  repo(box, "app", {{"application.yml", R"(name: app
services:
  public:
    web:
      local: ./web
      origin: ../web.git
  private:
    users:
      local: ../users
      origin: ../users.git
)"}});
  fs::create_directories(box / "here");
  auto r = run_exo({"clone", (box / "origins/app.git").string()}, box / "here");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(box / "here/app/application.yml"));
  EXPECT_TRUE(fs::exists(box / "here/app/web/service.yml"));
  EXPECT_TRUE(fs::exists(box / "here/users/service.yml"));
  EXPECT_NE(r.out.find("exo-clone  All services successfully cloned."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("       web  done"), std::string::npos) << r.out;
}

TEST(ExoClone, AServiceThatCannotBeClonedRemovesTheApplication) {
  Sandbox box;
  repo(box, "web", {{"service.yml", "type: web\n"}});
  repo(box, "app", {{"application.yml", R"(name: app
services:
  public:
    web:
      local: ./web
      origin: ../web.git
    ghost:
      local: ./ghost
      origin: ../nonexisting.git
)"}});
  fs::create_directories(box / "here");
  auto r = run_exo({"clone", (box / "origins/app.git").string()}, box / "here");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ghost  Service cloning failed"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("exo-clone  Some services failed to clone or were invalid Exosphere services."), std::string::npos);
  EXPECT_FALSE(fs::exists(box / "here/app"));
}

TEST(ExoClone, AnExistingFolder) {
  Sandbox box;
  repo(box, "app", {{"application.yml", "name: app\nservices: {}\n"}});
  fs::create_directories(box / "here/app");
  auto r = run_exo({"clone", (box / "origins/app.git").string()}, box / "here");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exo-clone  fatal: destination path 'app' already exists"), std::string::npos) << r.err;
}

TEST(ExoClone, NotAnApplication) {
  Sandbox box;
  repo(box, "notes", {{"README.md", "hi\n"}});
  auto r = run_exo({"clone", (box / "origins/notes.git").string()}, box.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Error: application could not be verified"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(box / "notes"));
}

TEST(ExoSync, PullsServicesThatLiveOutsideTheApplication) {
  Sandbox box;
  repo(box, "web-service", {{"service.yml", "type: web\n"}});
  git(box.path(), {"clone", "-q", (box / "origins/web-service.git").string(), (box / "web-service").string()});
  box.write("app/application.yml", R"(
    name: application with an external service
    services:
      public:
        web:
          location: ../web-service
  )");
  // Someone else pushes a change.
  git(box.path(), {"clone", "-q", (box / "origins/web-service.git").string(), (box / "other").string()});
  box.write("other/new-file.txt", "new\n");
  git(box / "other", {"add", "."});
  git(box / "other", {"commit", "-q", "-m", "more"});
  git(box / "other", {"push", "-q"});
  auto r = run_exo({"sync"}, box / "app");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Syncing application application with an external service"), std::string::npos);
  EXPECT_NE(r.out.find("Sync successful"), std::string::npos);
  EXPECT_TRUE(fs::exists(box / "web-service/new-file.txt"));
}

TEST(ExoSync, AFailingPullIsReported) {
  Sandbox box;
  fs::create_directories(box / "web-service");
  box.write("web-service/service.yml", "type: web\n");  // not a git repository
  box.write("app/application.yml", "name: app\nservices:\n  public:\n    web:\n      location: ../web-service\n");
  auto r = run_exo({"sync"}, box / "app");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Some services failed to sync"), std::string::npos) << r.err;
}

TEST(ExoClean, RemovesDataAndAsksDockerToPrune) {
  Sandbox box;
  box.write("application.yml", "name: app\nservices: {}\n");
  box.write(".exosphere/data/users/store.sqlite", "x");
  box.write("tmp/docker-compose.yml", "x");
  StandIn docker(box, "docker");
  auto r = run_exo({"clean"}, box.path(), {}, {{"PATH", docker.path_dir()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(box / ".exosphere/data"));
  EXPECT_FALSE(fs::exists(box / "tmp"));
  EXPECT_EQ(docker.calls(), (std::vector<std::string>{"info --format {{.ServerVersion}}", "image prune -f", "volume prune -f"}));
  EXPECT_NE(r.out.find("removed all dangling images (docker)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("removed all dangling volumes (docker)"), std::string::npos);
}

// Docker without its daemon: Podman prunes (exo run --docker's volumes live there).
TEST(ExoClean, WithoutADockerDaemonPodmanPrunes) {
  Sandbox box;
  StandIn docker(box, "docker"), podman(box, "podman");
  docker.on("info", 1, "Cannot connect to the Docker daemon");
  auto r = run_exo({"clean"}, box.path(), {}, {{"PATH", docker.path_dir()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(podman.calls(), (std::vector<std::string>{"image prune -f", "volume prune -f"}));
  EXPECT_NE(r.out.find("removed all dangling volumes (podman)"), std::string::npos) << r.out;
}

TEST(ExoClean, WithoutAContainerEngine) {
  Sandbox box;
  fs::create_directories(box / "empty");
  auto r = run_exo({"clean"}, box.path(), {}, {{"PATH", (box / "empty").string()}});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("no container engine runs here (Docker or Podman); no images or volumes to clean"), std::string::npos)
      << r.out;
}

TEST(ExoClean, APruneThatFails) {
  Sandbox box;
  StandIn docker(box, "docker");
  docker.on("volume prune", 1, "", "volume in use\n");
  auto r = run_exo({"clean"}, box.path(), {}, {{"PATH", docker.path_dir()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("could not remove dangling volumes"), std::string::npos);
}
