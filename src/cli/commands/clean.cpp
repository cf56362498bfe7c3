#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(
Usage: exo clean

Removes what running an application leaves behind: in an application folder its data
(.exosphere/data, the services' local databases) and temporary files (tmp/); anywhere, when a
Docker engine runs, dangling Docker images and volumes.
)";

int run_clean(const Args& args) {
  Options("clean").parse(args);
  std::printf("We are about to clean up your workspace!\n\n");
  Logger log({"exo-clean"});
  fs::path root = fs::current_path();
  if (path_exists(root / "application.yml")) {
    for (const char* dir : {".exosphere/data", "tmp"}) {
      std::error_code ec;
      if (!fs::exists(root / dir, ec)) continue;
      fs::remove_all(root / dir, ec);
      if (ec) {
        log.error("exo-clean", "cannot remove " + std::string(dir) + ": " + ec.message());
        return 1;
      }
      log.log("exo-clean", "removed " + std::string(dir), Color::green);
    }
  }
  if (find_program("docker").empty()) {
    log.log("exo-clean", "Docker is not installed; no images or volumes to clean");
    return 0;
  }
  SpawnOptions info;
  info.argv = {"docker", "info"};
  if (run_captured(info, {}, std::chrono::seconds(20)).exit_code != 0) {
    log.log("exo-clean", "Docker is not running; no images or volumes to clean");
    return 0;
  }
  int failures = 0;
  for (auto [what, argv] : {std::pair{"images", std::vector<std::string>{"docker", "image", "prune", "-f"}},
                            std::pair{"volumes", std::vector<std::string>{"docker", "volume", "prune", "-f"}}}) {
    SpawnOptions o;
    o.argv = argv;
    auto r = run_captured(o, {}, std::chrono::minutes(5));
    if (r.exit_code == 0) {
      log.log("exo-clean", std::string("removed all dangling ") + what, Color::green);
    } else {
      log.error("exo-clean", std::string("could not remove dangling ") + what + ": " + r.err);
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

}  // namespace

Command clean_command() {
  return {"clean", "Remove the application's data and dangling Docker images and volumes", kHelp, run_clean};
}

}  // namespace exo::cli
