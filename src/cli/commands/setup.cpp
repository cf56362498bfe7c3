#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/process.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace {

constexpr std::string_view kHelp = R"(Usage: exo setup

Sets up an Exosphere application so that it is ready to be run: runs each service's `setup`
command (installing its dependencies, building it) in its folder, in the order of
application.yml, and stops at the first one that fails, with its exit code.

This command must be run in the root directory of the application.
)";

int run_setup(const Args& args) {
  Options("setup").parse(args);
  Workspace ws = load_workspace(std::filesystem::current_path());
  auto roles = ws.app.roles();
  roles.push_back("exo-setup");
  Logger log(roles);
  log.raw("Setting up " + ws.app.name + (ws.app.version.empty() ? "" : " " + ws.app.version) + "\n");
  auto env = runner::find_toolchain().env();
  for (const auto& ref : ws.app.services) {
    if (ref.location.empty()) {
      log.log(ref.role, "uses the image " + ref.docker_image + "; nothing to set up");
      continue;
    }
    const auto& service = ws.services.at(ref.role);
    if (service.setup.empty()) {
      log.log(ref.role, "nothing to set up");
      continue;
    }
    log.log(ref.role, "starting setup");
    SpawnOptions o;
    o.argv = shell(service.setup);
    o.cwd = service.dir;
    o.env = env;
    o.env["ROLE"] = ref.role;
    int code = run_lines(o, [&](const std::string& line) { log.log(ref.role, line); });
    if (code != 0) {
      log.error(ref.role, "setup failed with exit code " + std::to_string(code));
      return code;
    }
    log.log(ref.role, "setup finished");
  }
  log.log("exo-setup", "setup complete", Color::green);
  return 0;
}

}  // namespace

Command setup_command() {
  return {"setup", "Prepare a freshly cloned application for running it", kHelp, run_setup};
}

}  // namespace exo::cli
