#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"

namespace exo::cli {

namespace {

constexpr std::string_view kHelp = R"(Usage: exo lint

Lints the Exosphere application in the current directory.
This linter checks that all messages indicated to be sent by services of the application are
received by one or more other services in the application and vice versa, comparing the names the
rest of the application sees (after message translation and namespaces). It also reports names
that collide after translation, translations of messages a service never declares, and roles
whose location has no service.yml.
Exits with 1 when it finds a problem.
This command must be called in the root directory of the application.
)";

void print_section(Logger& log, std::string_view heading, const std::vector<config::LintFinding>& findings) {
  if (findings.empty()) return;
  log.log("exo-lint", heading);
  for (const auto& f : findings) {
    std::string roles;
    for (const auto& r : f.roles) roles += (roles.empty() ? "" : ",") + r;
    log.log(roles, f.text);
  }
}

int run_lint(const Args& args) {
  Options("lint").parse(args);
  Workspace ws = load_workspace(std::filesystem::current_path(), true);
  Logger log(ws.app.roles());
  log.raw("Running linter for " + ws.app.name + "\n", Color::cyan);
  for (const auto& ref : ws.app.services)
    if (ref.location.empty())
      log.log("exo-lint", "skipping '" + ref.role + "': its messages are declared inside the image " + ref.docker_image);
  auto report = config::lint(ws.app, ws.services, ws.missing);
  print_section(log, "The following messages are sent but not received:", report.sent_not_received);
  print_section(log, "The following messages are received but not sent:", report.received_not_sent);
  print_section(log, "The following message names collide after translation:", report.name_collisions);
  print_section(log, "The following translations name messages the service does not declare:",
                report.unused_translations);
  print_section(log, "The following roles have no service.yml:", report.missing_service_files);
  if (report.problems() == 0) {
    log.log("exo-lint", "Lint passed", Color::green);
    return 0;
  }
  log.log("exo-lint", "Lint failed: " + std::to_string(report.problems()) + (report.problems() == 1 ? " problem" : " problems"),
          Color::red);
  return 1;
}

}  // namespace

Command lint_command() { return {"lint", "Verify the correctness of an application", kHelp, run_lint}; }

}  // namespace exo::cli
