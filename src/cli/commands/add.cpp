#include <cctype>
#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
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
// `todo-service` → `todo_service`: a name C++ and most languages accept.
std::string identifier(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "s" + out;
  return out;
}
}  // namespace

NewService ask_for_service(const std::string& command, const Args& args, const fs::path& app_root) {
  NewService s;
  std::vector<std::string> words;
  Options(command)
      .option("--service-role", &s.role, "role in the application")
      .option("--service-type", &s.type, "kind of service (its folder)")
      .option("--description", &s.description, "what it does")
      .option("--author", &s.author, "who wrote it")
      .option("--template-name", &s.template_name, "template to start from")
      .option("--model-name", &s.model_name, "data model of store services")
      .option("--protection-level", &s.protection_level, "public or private")
      .positionals(&words)
      .parse(args);
  auto templates = service_templates(app_root);
  std::vector<std::string> names;
  for (const auto& [name, dir] : templates) names.push_back(name);
  Prompt prompt;
  auto valid_role = [](const std::string& r) {
    if (!config::valid_role_name(r))
      throw UserError("'" + r + "' is not a valid role; use letters, digits, '-' and '_', starting with a letter or digit");
  };
  if (!s.role.empty()) valid_role(s.role);
  if (s.role.empty()) s.role = prompt.ask("Role of the service to create:", "--service-role", "", true), valid_role(s.role);
  if (s.type.empty()) s.type = prompt.ask("Type of the service to create:", "--service-type", s.role, true);
  if (!config::valid_role_name(s.type))
    throw UserError("'" + s.type + "' is not a valid service type; it names a folder: use letters, digits, '-' and '_'");
  if (s.description.empty()) s.description = prompt.ask("Description:", "--description");
  if (s.author.empty()) s.author = prompt.ask("Author:", "--author");
  if (s.template_name.empty()) s.template_name = prompt.choose("Template:", "--template-name", names);
  if (!templates.count(s.template_name))
    throw UserError("there is no template '" + s.template_name + "'; choose one of: " + join(names, ", "));
  if (s.model_name.empty() && s.template_name.find("mongodb") != std::string::npos)
    s.model_name = prompt.ask("Name of the data model:", "--model-name", "entry");
  if (s.protection_level.empty())
    s.protection_level = prompt.choose("Protection level:", "--protection-level", {"public", "private"});
  if (s.protection_level != "public" && s.protection_level != "private")
    throw UserError("--protection-level must be public or private, not '" + s.protection_level + "'");
  return s;
}

void scaffold_service(const NewService& s, const std::string& app_name, const fs::path& app_root,
                      const fs::path& destination) {
  auto toolchain = runner::find_toolchain();
  TemplateData data = {{"serviceRole", s.role},
                       {"serviceType", s.type},
                       {"serviceTypeUpper", to_upper(s.type)},
                       {"serviceIdentifier", identifier(s.type)},
                       {"description", s.description},
                       {"author", s.author},
                       {"templateName", s.template_name},
                       {"modelName", s.model_name.empty() ? "entry" : s.model_name},
                       {"protectionLevel", s.protection_level},
                       {"appName", app_name},
                       {"appNameUpper", to_upper(app_name)},
                       {"exosphereHome", toolchain.source_root.string()},
                       {"exosphereVersion", EXO_VERSION}};
  if (path_exists(destination))
    throw UserError(display_path(destination) + " already exists; choose another --service-type or remove it");
  for (const auto& file : render_template(service_templates(app_root).at(s.template_name), destination, data))
    std::printf("File generated: %s\n", display_path(file).c_str());
}

namespace {

constexpr std::string_view kHelp = R"(
Usage: exo add [service]

Adds a new service to the current application.
This command must be called in the root directory of the application.

options: --service-role=[<service-role>] --service-type=[<service-type>] --template-name=[<template-name>] --model-name=[<model-name>] --protection-level=[<protection-level>] --description=[<description>] --author=[<author>]
)";

int run_add(const Args& args) {
  bool color = colors_wanted(stdout);
  std::printf("We are about to add a new Exosphere service to the application!\n\n");
  fs::path root = fs::current_path();
  if (!path_exists(root / "application.yml"))
    throw UserError("application.yml not found. Please run this command in the root directory of an Exosphere application.");
  auto app = load_application(root);
  NewService s = ask_for_service("add", args, root);
  if (app.find(s.role)) throw UserError("Service " + s.role + " already exists in this application");
  scaffold_service(s, app.name, root, root / s.type);
  std::string yaml = read_file(root / "application.yml");
  write_file(root / "application.yml", insert_service(yaml, s.protection_level, s.role, "./" + s.type));
  std::printf("\n%s\n", paint("done", Color::green, color).c_str());
  return 0;
}

}  // namespace

Command add_command() { return {"add", "Add a service to an existing application", kHelp, run_add}; }

}  // namespace exo::cli
