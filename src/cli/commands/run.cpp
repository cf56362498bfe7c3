#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace {

constexpr std::string_view kHelp = R"(Usage: exo run [--only <roles>] [--no-watch] [--docker]

Runs an Exosphere application: ExoCom with the application's routes, then each service's
dependencies, then the services, each once what it depends on is ready. Every line they print
appears under its role. A service restarts when its files change (after running its setup again
when its build inputs changed). Ctrl-C stops everything.

Options:
  --only <roles>   show only these roles' output (comma-separated)
  --no-watch       do not restart services when their files change
  --docker         run the application with docker compose instead of local processes

This command must be run in the root directory of the application.
)";

int run_run(const Args& args) {
  std::vector<std::string> only;
  bool no_watch = false, docker = false;
  Options("run")
      .list("--only", &only, "roles to show")
      .flag("--no-watch", &no_watch, "do not restart on change")
      .flag("--docker", &docker, "use docker compose")
      .parse(args);
  Workspace ws = load_workspace(std::filesystem::current_path());
  if (docker) return run_with_docker(ws, only);
  for (const auto& role : only)
    if (!ws.app.find(role) && role != "exocom")
      throw UserError("--only: '" + role + "' is not a role of this application");
  auto toolchain = runner::find_toolchain();
  if (toolchain.exocom.empty())
    throw UserError("cannot find the exocom program next to exo or on PATH; build it (make) or set EXOCOM_BINARY");
  runner::RunOptions options;
  options.only = only;
  options.watch = !no_watch;
  options.exocom_binary = toolchain.exocom;
  options.extra_env = toolchain.env();
  std::vector<std::string> roles = ws.app.roles();
  roles.insert(roles.end(), {"exo-run", "exocom"});
  Logger log(roles);
  return runner::run(ws.app, ws.services, options, log);
}

}  // namespace

Command run_command() { return {"run", "Run an application locally", kHelp, run_run}; }

}  // namespace exo::cli
