#include <csignal>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/dispatcher.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "deploy/compose.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(Usage: exo generate docker-compose [--check]
       exo generate terraform [--check]

docker-compose writes docker-compose.yml for the application: ExoCom, every service and its
dependencies, with the environment exo run gives them.

terraform writes the application's Terraform into terraform/: main.tf, services.tf,
variables.tf and outputs.tf, the modules they use (shipped with exo, in terraform/modules), and
one <env>.tfvars.json per environment of application.yml (see docs/deploy.md).

With --check nothing is written; the command exits with 1 when a file is missing or out of date
(for CI). This command must be run in the root directory of the application.
)";

int generate_compose(const Args& args) {
  bool check = false;
  Options("generate docker-compose").flag("--check", &check, "only check that the file is current").parse(args);
  Workspace ws = load_workspace(fs::current_path());
  std::string content = deploy::compose_file(ws.app, ws.services);
  fs::path file = ws.app.root / "docker-compose.yml";
  auto current = try_read_file(file);
  if (check) {
    if (current && *current == content) {
      std::puts("docker-compose.yml is up to date");
      return 0;
    }
    std::fprintf(stderr, "%s\n", (current ? "docker-compose.yml is out of date; run 'exo generate docker-compose'"
                                          : "docker-compose.yml is missing; run 'exo generate docker-compose'"));
    return 1;
  }
  write_file(file, content);
  std::printf("wrote %s\n", display_path(file).c_str());
  return 0;
}

int run_generate(const Args& args) {
  static const std::vector<std::string> kinds = {"docker-compose", "terraform"};
  if (args.empty()) throw UserError("exo generate: say what to generate: docker-compose or terraform");
  auto kind = resolve_abbreviation(args[0], kinds);
  if (!kind) throw UserError("exo generate: cannot generate '" + args[0] + "'; choose docker-compose or terraform");
  Args rest(args.begin() + 1, args.end());
  if (*kind == "docker-compose") return generate_compose(rest);
  return generate_terraform(rest);
}

}  // namespace

Command generate_command() {
  return {"generate", "Generate docker-compose or terraform files", kHelp, run_generate};
}

}  // namespace exo::cli
