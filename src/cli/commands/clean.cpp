#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/container_engine.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(
Usage: exo clean

Removes what running an application leaves behind: in an application folder its data
(.exosphere/data, the services' local databases) and temporary files (tmp/); anywhere, with the
container engine at hand (Docker when its daemon answers, else Podman), dangling images and unused
volumes.
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
  ContainerEngine engine;
  try {
    engine = find_container_engine();
  } catch (const UserError&) {
    log.log("exo-clean", "no container engine runs here (Docker or Podman); no images or volumes to clean");
    return 0;
  }
  int failures = 0;
  for (const char* what : {"image", "volume"}) {
    std::string output;
    if (engine.ok({what, "prune", "-f"}, &output, std::chrono::minutes(5))) {
      log.log("exo-clean", std::string("removed all dangling ") + what + "s (" + fs::path(engine.program).filename().string() + ")",
              Color::green);
    } else {
      log.error("exo-clean", std::string("could not remove dangling ") + what + "s: " + std::string(trim(output)));
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
