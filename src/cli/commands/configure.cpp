#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/command.hpp"
#include "cli/dispatcher.hpp"
#include "cli/options.hpp"
#include "cli/prompt.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "deploy/aws.hpp"
#include "deploy/target.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(Usage: exo configure read|create|update|delete [<environment>]

Manages the application's secrets for an environment in AWS SSM Parameter Store, as SecureString
parameters under /exo/<app>/<environment>/. Services receive the secrets listed in
`environments.<env>.secrets` (application.yml) and `production.secrets` (service.yml) as
environment variables, injected by ECS: never written to Terraform files or state.

  read     lists the stored secrets and which services use them, and the missing ones
  create   asks for new secrets (name, then value), then stores them after confirmation
  update   asks for new values of existing secrets, then stores them after confirmation
  delete   asks which secrets to delete, then deletes them after confirmation

Values are read from standard input (not echoed on a terminal) and handed to the aws CLI on its
standard input, never as arguments.
)";

struct Context {
  std::string app, env, region, path;
  std::map<std::string, std::vector<std::string>> users;  // secret → roles that receive it
};

Context context(const std::string& env_arg) {
  Workspace ws = load_workspace(fs::current_path(), true);
  const config::Environment* env = &config::choose_environment(ws.app, env_arg);
  if (!env->aws || env->aws->region.empty())
    throw UserError(env->where.str() + ": providers.aws.region is required to store secrets (like us-west-2)");
  Context c{ws.app.name, env->name, env->aws->region, deploy::secrets_path(ws.app.name, env->name), {}};
  for (const auto& ref : ws.app.services) {
    std::set<std::string> names_for(env->secrets.begin(), env->secrets.end());
    if (auto it = ws.services.find(ref.role); it != ws.services.end())
      names_for.insert(it->second.production.secrets.begin(), it->second.production.secrets.end());
    for (const auto& n : names_for) c.users[n].push_back(ref.role);
  }
  return c;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

int read_secrets(const Context& c, deploy::Aws& aws) {
  auto present = aws.secret_names(c.path);
  std::printf("Secrets of %s in %s (%s):\n", c.app.c_str(), c.env.c_str(), c.path.c_str());
  if (present.empty()) std::puts("  none");
  for (const auto& name : present) {
    auto it = c.users.find(name);
    std::printf("  %s  %s\n", name.c_str(),
                it == c.users.end() ? "(no service uses it)" : ("used by " + join(it->second, ", ")).c_str());
  }
  std::vector<std::string> missing;
  for (const auto& [name, roles] : c.users)
    if (!contains(present, name)) missing.push_back(name + " (" + join(roles, ", ") + ")");
  if (!missing.empty()) std::printf("Missing, run 'exo configure create %s': %s\n", c.env.c_str(), join(missing, ", ").c_str());
  return 0;
}

// Asks for names until an empty answer; `check` rejects a name with a message, or accepts it.
std::vector<std::string> ask_names(Prompt& prompt, const std::string& question,
                                   const std::function<std::string(const std::string&)>& check) {
  std::vector<std::string> names;
  while (true) {
    std::string name = prompt.ask(question + " (Enter to finish):", "");
    if (name.empty()) return names;
    if (std::string why = check(name); !why.empty()) {
      std::printf("%s\n", why.c_str());
      continue;
    }
    if (!contains(names, name)) names.push_back(name);
  }
}

int change_secrets(const Context& c, deploy::Aws& aws, const std::string& action) {
  Prompt prompt;
  auto present = aws.secret_names(c.path);
  std::printf("Stored secrets of %s in %s: %s\n", c.app.c_str(), c.env.c_str(), present.empty() ? "none" : join(present, ", ").c_str());
  std::vector<std::string> names;
  std::map<std::string, std::string> values;
  if (action == "create") {
    names = ask_names(prompt, "Name of a new secret", [&](const std::string& n) -> std::string {
      if (!config::valid_secret_name(n)) return "'" + n + "' is not a valid name; use letters, digits and '_', like DATABASE_URL";
      if (contains(present, n)) return n + " already exists; use 'exo configure update " + c.env + "' to change it";
      return {};
    });
  } else {
    if (present.empty()) {
      std::printf("There are no secrets to %s.\n", action.c_str());
      return 0;
    }
    names = ask_names(prompt, "Secret to " + action, [&](const std::string& n) -> std::string {
      return contains(present, n) ? "" : n + " is not stored; stored are " + join(present, ", ");
    });
  }
  if (names.empty()) {
    std::puts("Nothing to do.");
    return 0;
  }
  if (action != "delete")
    for (const auto& n : names) values[n] = prompt.ask_secret("Value of " + n + ":");
  std::string verb = action == "create" ? "creating" : action == "update" ? "updating" : "deleting";
  std::printf("You are %s these secrets in %s: %s\n", verb.c_str(), c.env.c_str(), join(names, ", ").c_str());
  if (!prompt.confirm("Do you want to continue?", "")) {
    std::puts("Nothing was changed.");
    return 2;
  }
  if (action == "delete") {
    std::vector<std::string> full;
    for (const auto& n : names) full.push_back(c.path + n);
    aws.delete_secrets(full);
  } else {
    for (const auto& n : names) aws.put_secret(c.path + n, values[n], action == "update");
  }
  std::printf("Done: %s %s.\n", action == "create" ? "created" : action == "update" ? "updated" : "deleted",
              join(names, ", ").c_str());
  return 0;
}

int run_configure(const Args& args) {
  std::vector<std::string> positionals;
  Options("configure").positionals(&positionals).parse(args);
  static const std::vector<std::string> actions = {"create", "delete", "read", "update"};
  if (positionals.empty()) throw UserError("exo configure: say what to do: read, create, update or delete");
  auto action = resolve_abbreviation(positionals[0], actions);
  if (!action) throw UserError("exo configure: unknown action '" + positionals[0] + "'; use read, create, update or delete");
  if (positionals.size() > 2) throw UserError("exo configure takes one environment; see 'exo configure help'");
  Context c = context(positionals.size() == 2 ? positionals[1] : "");
  deploy::Aws aws(c.region);
  if (*action == "read") return read_secrets(c, aws);
  return change_secrets(c, aws, *action);
}

}  // namespace

Command configure_command() {
  return {"configure", "Manage the application's secrets for deployment", kHelp, run_configure};
}

}  // namespace exo::cli
