#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(
Usage: exo clone <repository>

Clones an exosphere application hosted on git, including all required services: every service
with an `origin` in application.yml is cloned into its `local` folder.
This command should be called from an empty working directory.
)";

int git(const std::vector<std::string>& args, const fs::path& cwd, Logger& log, const std::string& role) {
  SpawnOptions o;
  o.argv = {"git"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.cwd = cwd;
  o.env["GIT_TERMINAL_PROMPT"] = "0";
  return run_lines(o, [&](const std::string& line) {
    std::string t(trim(line));
    while (!t.empty() && t.back() == '.') t.pop_back();
    if (!t.empty()) log.log(role, t);
  });
}

int run_clone(const Args& args) {
  std::vector<std::string> words;
  Options("clone").positionals(&words).parse(args);
  std::printf("We are going to clone an Exosphere application!\n\n");
  if (words.empty()) throw UserError("missing repository origin; usage: exo clone <origin>");
  if (find_program("git").empty()) throw UserError("exo clone needs git; install it first");
  std::string origin = words[0];
  std::string name = fs::path(origin).filename().string();
  if (name.size() > 4 && name.ends_with(".git")) name.resize(name.size() - 4);
  fs::path cwd = fs::current_path(), app = cwd / name;
  Logger log({"exo-clone"});
  if (path_exists(app)) {
    log.error("exo-clone", "fatal: destination path '" + name + "' already exists");
    return 1;
  }
  if (git({"clone", origin, name}, cwd, log, "exo-clone") != 0) {
    log.error("exo-clone", "Error: cloning " + name + " failed");
    return 1;
  }
  log.log("exo-clone", name + " Application cloned into " + app.string());
  auto fail_and_remove = [&](const std::string& why) {
    std::error_code ec;
    fs::remove_all(app, ec);
    log.error("exo-clone", why);
    log.error("exo-clone", "Failed");
    return 1;
  };
  config::Application application;
  try {
    application = load_application(app);
  } catch (const UserError& e) {
    return fail_and_remove(std::string("Error: application could not be verified: ") + e.what());
  }
  log.add_roles(application.roles());
  bool ok = true;
  for (const auto& ref : application.services) {
    if (ref.origin.empty()) continue;
    std::string local = ref.local.empty() ? ref.location : ref.local;
    fs::path target = (app / local).lexically_normal();
    // A relative origin is relative to the application repository, as git submodule URLs are.
    std::string source = ref.origin;
    if (!source.empty() && source[0] == '.') source = (fs::path(origin) / source).lexically_normal().string();
    if (git({"clone", source, target.string()}, app, log, ref.role) != 0) {
      log.error(ref.role, "Service cloning failed");
      ok = false;
    } else if (!path_exists(target / "service.yml")) {
      log.error(ref.role, ref.role + " is an invalid service");
      ok = false;
    } else {
      log.log(ref.role, "done", Color::green);
    }
  }
  if (!ok) return fail_and_remove("Some services failed to clone or were invalid Exosphere services.");
  log.log("exo-clone", "All services successfully cloned.");
  log.log("exo-clone", "Done", Color::green);
  return 0;
}

constexpr std::string_view kSyncHelp = R"(Usage: exo sync

Syncs all services of an Exosphere application with their git repositories: runs `git pull` in
every service that lives outside the application folder (location ../...).
This command must be run in the root directory of the application.
)";

int run_sync(const Args& args) {
  Options("sync").parse(args);
  auto app = load_application(fs::current_path());
  auto roles = app.roles();
  roles.push_back("exo-sync");
  Logger log(roles);
  log.log("exo-sync", "Syncing application " + app.name);
  if (find_program("git").empty()) throw UserError("exo sync needs git; install it first");
  bool ok = true;
  for (const auto& ref : app.services) {
    if (ref.location.rfind("../", 0) != 0) continue;
    if (git({"pull"}, config::service_dir(app, ref), log, ref.role) == 0) {
      log.log(ref.role, "Sync ok");
    } else {
      log.error(ref.role, "Sync error");
      ok = false;
    }
  }
  if (ok) {
    log.log("exo-sync", "Sync successful", Color::green);
    return 0;
  }
  log.error("exo-sync", "Some services failed to sync");
  return 1;
}

}  // namespace

Command clone_command() { return {"clone", "Download the source code of an application", kHelp, run_clone}; }
Command sync_command() {
  return {"sync", "Download updates for an application from its Git repository", kSyncHelp, run_sync};
}

}  // namespace exo::cli
