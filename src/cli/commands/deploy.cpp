#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/prompt.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "deploy/deployer.hpp"
#include "deploy/terraform.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHelp = R"(Usage: exo deploy [<environment>] [--auto-approve] [--registry dockerhub|ecr]
       exo deploy [<environment>] --teardown | --nuke [--auto-approve]

Deploys the application to AWS through Terraform. The environment is one of application.yml's
`environments` (default: the only one, else production). In order, exo deploy
  1. writes terraform/ (as `exo generate terraform` does),
  2. checks the AWS credentials (the aws CLI's: AWS_PROFILE, aws configure, ...) and the secrets
     the services need (`exo configure`),
  3. creates the Terraform state bucket when missing (versioned, encrypted, private),
  4. creates the public hosted zone when missing and prints its name servers,
  5. builds each service's image from its Dockerfile, tags it with the service folder's git
     commit (plus -dirty-<hash> for uncommitted changes) and pushes it to DockerHub
     (providers.docker-hub.namespace) or, with --registry ecr, to the account's ECR,
  6. runs terraform init and plan, shows the plan, asks, and applies it.
Every step may be repeated: when one fails, fix the cause and run exo deploy again.

Options:
  --auto-approve   apply without asking (for CI)
  --registry R     dockerhub (default) or ecr
  --teardown       destroy every service and all infrastructure, after confirmation; the state
                   bucket, the hosted zone and the secrets remain
  --nuke           like --teardown, and also remove the hosted zone

Exits with 2 when you decline. Terraform runs from PATH (1.10 or newer), else in the
hashicorp/terraform image through Docker. See docs/deploy.md.
This command must be run in the root directory of the application.
)";

int run_deploy(const Args& args) {
  std::vector<std::string> positionals;
  deploy::DeployOptions options;
  bool teardown = false, nuke = false;
  Options("deploy")
      .flag("--auto-approve", &options.auto_approve, "apply without asking")
      .option("--registry", &options.registry, "dockerhub or ecr")
      .flag("--teardown", &teardown, "destroy the deployment")
      .flag("--nuke", &nuke, "destroy the deployment and the hosted zone")
      .positionals(&positionals)
      .parse(args);
  if (positionals.size() > 1)
    throw UserError("exo deploy takes one environment, got " + std::to_string(positionals.size()) + ": " +
                    join(positionals, " ") + "; see 'exo deploy help'");
  if (teardown && nuke) throw UserError("--teardown and --nuke exclude each other; --nuke also tears down");
  if (options.registry != "dockerhub" && options.registry != "ecr")
    throw UserError("--registry must be 'dockerhub' or 'ecr', not '" + options.registry + "'");
  options.mode = nuke ? deploy::DeployOptions::Mode::nuke
                      : teardown ? deploy::DeployOptions::Mode::teardown : deploy::DeployOptions::Mode::deploy;
  Workspace ws = load_workspace(fs::current_path());
  auto target = deploy::deploy_target(ws.app, ws.services);
  const auto& env = target.environment(config::choose_environment(ws.app, positionals.empty() ? "" : positionals[0]).name);
  Prompt prompt;
  return deploy::deploy(target, env, ws.app.root, options,
                        [&](const std::string& question) { return prompt.confirm(question, "--auto-approve"); });
}

}  // namespace

int generate_terraform(const Args& args) {
  bool check = false;
  Options("generate terraform").flag("--check", &check, "only check that the files are current").parse(args);
  Workspace ws = load_workspace(fs::current_path());
  auto target = deploy::deploy_target(ws.app, ws.services);
  if (target.environments.empty())
    throw UserError("application.yml has no environments; add environments.production with a domain and "
                    "providers.aws.region (see docs/deploy.md)");
  if (check) {
    std::vector<std::string> stale;
    for (const auto& [path, content] : deploy::terraform_files(target))
      if (try_read_file(ws.app.root / "terraform" / path) != content) stale.push_back("terraform/" + path);
    auto leftovers = deploy::leftover_terraform_files(target, ws.app.root);
    if (stale.empty() && leftovers.empty()) {
      std::puts("terraform/ is up to date");
      return 0;
    }
    if (!stale.empty())
      std::fprintf(stderr, "out of date or missing: %s; run 'exo generate terraform'\n", join(stale, ", ").c_str());
    if (!leftovers.empty())
      std::fprintf(stderr, "no longer generated: %s; run 'exo generate terraform'\n", join(leftovers, ", ").c_str());
    return 1;
  }
  auto changes = deploy::write_terraform(target, ws.app.root);
  if (changes.written.empty() && changes.removed.empty()) std::puts("terraform/ is up to date");
  for (const auto& f : changes.written) std::printf("wrote %s\n", f.c_str());
  for (const auto& f : changes.removed) std::printf("removed %s\n", f.c_str());
  return 0;
}

Command deploy_command() { return {"deploy", "Deploy the application to AWS", kHelp, run_deploy}; }

}  // namespace exo::cli
