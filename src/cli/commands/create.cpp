#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/dispatcher.hpp"
#include "cli/prompt.hpp"
#include "cli/scaffold.hpp"
#include "cli/service_wizard.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(Usage: exo create [<entity>]

Available entities are:

  * application   Create a new Exosphere application
    - options: [<app-name>] [<app-version>] [<exocom-version>] [<app-description>]

  * service       Create a new service for this application located in the parent directory
    - options: --service-role=[<service-role>] --service-type=[<service-type>] --author=[<author>] --template-name=[<template-name>] --model-name=[<model-name>] --protection-level=[<protection-level>] --description=[<description>]
)";

int create_application(const Args& args) {
  bool color = colors_wanted(stdout);
  std::printf("We are about to create a new Exosphere application\n\n");
  Prompt prompt;
  std::string name = args.size() > 0 ? args[0] : prompt.ask("Name of the application to create:", "<app-name>", "", true);
  std::string description;
  if (args.size() > 3) {
    std::vector<std::string> words(args.begin() + 3, args.end());
    description = join(words, " ");
  } else {
    description = prompt.ask("Description:", "<app-description>");
  }
  std::string version = args.size() > 1 ? args[1] : prompt.ask("Initial version:", "<app-version>", "0.0.1");
  std::string exocom = args.size() > 2 ? args[2] : prompt.ask("ExoCom version:", "<exocom-version>", EXO_VERSION);
  if (std::string(trim(name)).empty()) throw UserError("the application needs a name");
  fs::path dir = fs::current_path() / name;
  if (path_exists(dir)) throw UserError(display_path(dir) + " already exists; choose another name or remove it");
  TemplateData data = {{"appName", name}, {"appDescription", description}, {"appVersion", version}, {"exocomVersion", exocom}};
  auto files = render_template(runner::find_toolchain().source_root / "templates/create-app", dir, data);
  std::printf("\n");
  for (const auto& f : files) std::printf("File generated: %s\n", display_path(f).c_str());
  std::printf("\n%s\n", paint("done", Color::green, color).c_str());
  return 0;
}

int create_service(const Args& args) {
  bool color = colors_wanted(stdout);
  std::printf("We are about to create a new Exosphere service!\n\n");
  fs::path root = fs::current_path();
  if (!path_exists(root / "application.yml"))
    throw UserError("application.yml not found. Run exo create service in the root directory of the application it is for.");
  auto app = load_application(root);
  NewService s = ask_for_service("create service", args, root);
  if (app.find(s.role)) throw UserError("Service " + s.role + " already exists in this application");
  // A stand-alone service lives next to the application, in its own folder (and repository).
  scaffold_service(s, app.name, root, root.parent_path() / s.type);
  std::string yaml = read_file(root / "application.yml");
  write_file(root / "application.yml", insert_service(yaml, s.protection_level, s.role, "../" + s.type));
  std::printf("\n%s\n", paint("done", Color::green, color).c_str());
  return 0;
}

int fail(const std::string& message) {
  bool color = colors_wanted(stderr);
  std::fprintf(stderr, "%s\n\n%s", paint("Error: " + message, Color::red, color).c_str(), kHelp.data());
  return 1;
}

int run_create(const Args& args) {
  if (args.empty()) return fail("missing entity for 'create' command");
  auto entity = resolve_abbreviation(args[0], {"application", "service"});
  if (!entity) return fail("cannot create '" + args[0] + "'");
  Args rest(args.begin() + 1, args.end());
  return *entity == "application" ? create_application(rest) : create_service(rest);
}

}  // namespace

Command create_command() { return {"create", "Create a new application or stand-alone service", kHelp, run_create}; }

}  // namespace exo::cli
