#include <cstdio>
#include <filesystem>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "cli/prompt.hpp"
#include "cli/rehearsal.hpp"
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
       exo deploy [<environment>] --rehearse [--secrets <file>] [--port <port>]

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
  --rehearse       run the deployment on this machine instead: the production images with each
                   service's production environment and secrets, ExoCom under its AWS host name,
                   public and private networks, and one reverse proxy standing in for the load
                   balancers at http://<url>.localhost:<port>/; Ctrl-C removes it all
  --secrets <file> the rehearsal's secrets, NAME=value lines (default .exosphere/secrets/<env>.env)
  --port <port>    the rehearsal proxy's port on 127.0.0.1 (default 8080, else a free one)

Exits with 2 when you decline. Terraform runs from PATH (1.10 or newer), else in the
hashicorp/terraform image through Docker or Podman. See docs/deploy.md.
This command must be run in the root directory of the application.
)";

int run_deploy(const Args& args) {
  std::vector<std::string> positionals;
  deploy::DeployOptions options;
  bool teardown = false, nuke = false, rehearse = false;
  std::string secrets, port;
  Options("deploy")
      .flag("--auto-approve", &options.auto_approve, "apply without asking")
      .option("--registry", &options.registry, "dockerhub or ecr")
      .flag("--teardown", &teardown, "destroy the deployment")
      .flag("--nuke", &nuke, "destroy the deployment and the hosted zone")
      .flag("--rehearse", &rehearse, "run the deployment on this machine")
      .option("--secrets", &secrets, "the rehearsal's secrets file")
      .option("--port", &port, "the rehearsal's port")
      .positionals(&positionals)
      .parse(args);
  if (positionals.size() > 1)
    throw UserError("exo deploy takes one environment, got " + std::to_string(positionals.size()) + ": " +
                    join(positionals, " ") + "; see 'exo deploy help'");
  if (!rehearse && (!secrets.empty() || !port.empty()))
    throw UserError(std::string(secrets.empty() ? "--port" : "--secrets") + " goes with --rehearse");
  if (rehearse) {
    if (teardown || nuke || options.auto_approve)
      throw UserError("--rehearse runs on this machine; it does not go with --teardown, --nuke or --auto-approve");
    RehearsalOptions r;
    r.environment = positionals.empty() ? "" : positionals[0];
    r.secrets_file = secrets;
    if (!port.empty()) {
      size_t used = 0;
      try {
        r.port = std::stoi(port, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != port.size() || r.port < 0 || r.port > 65535)
        throw UserError("--port: '" + port + "' is not a port number (0: any free port)");
    }
    return rehearse_deployment(load_workspace(fs::current_path()), r);
  }
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
