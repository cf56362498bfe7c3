#include "deploy/deployer.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "deploy/aws.hpp"
#include "deploy/images.hpp"
#include "deploy/terraform.hpp"
#include "deploy/terraform_runner.hpp"

namespace exo::deploy {

namespace fs = std::filesystem;

namespace {

void step(const std::string& text) {
  std::printf("==> %s\n", text.c_str());
  std::fflush(stdout);
}

void say(const std::string& text) {
  std::printf("    %s\n", text.c_str());
  std::fflush(stdout);
}

Registry make_registry(const std::string& kind, const EnvironmentTarget& env, const std::string& account) {
  Registry r;
  if (kind == "ecr") {
    r.kind = Registry::Kind::ecr;
    r.host = account + ".dkr.ecr." + env.region + ".amazonaws.com";
    return r;
  }
  if (kind != "dockerhub") throw UserError("--registry must be 'dockerhub' or 'ecr', not '" + kind + "'");
  if (env.dockerhub_namespace.empty())
    throw UserError("application.yml: environments." + env.name +
                    ".providers.docker-hub.namespace: is required to push images to DockerHub (your DockerHub user or "
                    "organization); set it, or deploy with --registry ecr");
  r.namespace_ = env.dockerhub_namespace;
  return r;
}

void check_secrets(Aws& aws, const DeployTarget& target, const EnvironmentTarget& env) {
  std::set<std::string> needed;
  for (const auto& s : target.services)
    for (const auto& name : env.secrets_for(s)) needed.insert(name);
  if (needed.empty()) return;
  step("Checking secrets in SSM Parameter Store (" + env.secrets_path + ")");
  auto present = aws.secret_names(env.secrets_path);
  std::vector<std::string> missing;
  for (const auto& name : needed)
    if (std::find(present.begin(), present.end(), name) == present.end()) missing.push_back(name);
  if (!missing.empty())
    throw UserError("the secret" + std::string(missing.size() > 1 ? "s " : " ") + join(missing, ", ") +
                    (missing.size() > 1 ? " are" : " is") + " not set for " + env.name + "; run 'exo configure create " +
                    env.name + "' and run exo deploy again");
}

void prepare_hosted_zone(Aws& aws, const EnvironmentTarget& env, const DeployTarget& target) {
  step("Preparing the hosted zone " + env.domain);
  if (auto zone = aws.find_hosted_zone(env.domain)) {
    say("name servers: " + join(zone->name_servers, ", "));
    return;
  }
  std::string reference = "exo-" + env.name_prefix + "-" + std::to_string(std::time(nullptr));
  HostedZone zone = aws.create_hosted_zone(env.domain, reference);
  say("Created the hosted zone " + env.domain + " for " + target.app_name + ". Point the domain at these name servers");
  say("at its registrar (HTTPS certificates are validated through them):");
  for (const auto& ns : zone.name_servers) say("  " + ns);
}

void print_outputs(const Terraform& terraform) {
  auto r = terraform.capture({"output", "-json"});
  if (r.exit_code != 0) return;  // the deployment stands; only the summary is missing
  json::value v;
  try {
    v = parse_json(r.out, "terraform output -json");
  } catch (const UserError&) {
    return;
  }
  if (!v.is_object()) return;
  const auto& o = v.as_object();
  auto value = [&](std::string_view key) -> const json::value* {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_object()) return nullptr;
    auto val = it->value().as_object().find("value");
    return val == it->value().as_object().end() ? nullptr : &val->value();
  };
  if (const json::value* urls = value("urls"); urls && urls->is_object())
    for (const auto& [role, url] : urls->as_object())
      if (url.is_string()) say(std::string(role) + ": " + std::string(url.as_string()));
  if (const json::value* ns = value("name_servers"); ns && ns->is_array()) {
    std::vector<std::string> names;
    for (const auto& n : ns->as_array())
      if (n.is_string()) names.emplace_back(n.as_string());
    say("name servers: " + join(names, ", "));
  }
}

void remove_hosted_zone(Aws& aws, const EnvironmentTarget& env) {
  step("Removing the hosted zone " + env.domain);
  if (auto zone = aws.find_hosted_zone(env.domain)) {
    aws.delete_hosted_zone(*zone, env.domain);
    say("removed");
  } else {
    say("there is none");
  }
}

}  // namespace

std::vector<std::string> leftover_terraform_files(const DeployTarget& target, const fs::path& app_root) {
  auto files = terraform_files(target);
  for (const auto& e : target.environments) files[images_var_file_name(e)];
  std::vector<std::string> leftovers;
  fs::path dir = app_root / "terraform";
  auto consider = [&](const fs::path& file) {
    std::string rel = fs::relative(file, dir).string();
    if (!files.count(rel)) leftovers.push_back("terraform/" + rel);
  };
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().string().ends_with(".tfvars.json")) consider(entry.path());
  for (const auto& entry : fs::directory_iterator(dir / "modules", ec))
    if (entry.is_directory()) consider(entry.path() / "main.tf");
  std::sort(leftovers.begin(), leftovers.end());
  return leftovers;
}

TerraformChanges write_terraform(const DeployTarget& target, const fs::path& app_root) {
  TerraformChanges changes;
  changes.removed = leftover_terraform_files(target, app_root);
  for (const auto& rel : changes.removed) {
    fs::path file = app_root / rel;
    fs::remove(file);
    if (file.parent_path().parent_path().filename() == "modules") fs::remove_all(file.parent_path());
  }
  for (const auto& [path, content] : terraform_files(target)) {
    fs::path file = app_root / "terraform" / path;
    if (try_read_file(file) == content) continue;
    fs::create_directories(file.parent_path());
    write_file(file, content);
    changes.written.push_back("terraform/" + path);
  }
  return changes;
}

int deploy(const DeployTarget& target, const EnvironmentTarget& env, const fs::path& app_root,
           const DeployOptions& options, const Confirm& confirm) {
  using Mode = DeployOptions::Mode;
  bool destroying = options.mode != Mode::deploy;
  if (options.mode == Mode::teardown)
    std::printf("You are about to tear down %s in %s: every service and all infrastructure.\n"
                "The state bucket, the hosted zone %s and the secrets remain.\n\n",
                target.app_name.c_str(), env.name.c_str(), env.domain.c_str());
  else if (options.mode == Mode::nuke)
    std::printf("You are about to remove all of %s in %s: every service, all infrastructure and the hosted zone %s.\n"
                "The state bucket and the secrets remain.\n\n",
                target.app_name.c_str(), env.name.c_str(), env.domain.c_str());
  else
    std::printf("Deploying %s to %s\n\n", target.app_name.c_str(), env.name.c_str());

  fs::path tf_dir = app_root / "terraform";
  step("Writing terraform/");
  auto changes = write_terraform(target, app_root);
  if (!changes.written.empty()) say("wrote " + join(changes.written, ", "));
  if (!changes.removed.empty()) say("removed " + join(changes.removed, ", "));
  if (changes.written.empty() && changes.removed.empty()) say("up to date");
  Terraform terraform = Terraform::locate(tf_dir);
  say("using " + terraform.description());

  Aws aws(env.region);
  step("Checking AWS credentials");
  std::string account = aws.caller_account();
  if (!env.account_id.empty() && account != env.account_id)
    throw UserError("the AWS credentials are for account " + account + ", but environments." + env.name +
                    ".providers.aws.account-id is " + env.account_id + "; use credentials of that account (AWS_PROFILE)");
  say("account " + account);
  std::string bucket = env.state_bucket(account);

  fs::path images_file = tf_dir / images_var_file_name(env);
  if (!destroying) {
    check_secrets(aws, target, env);
    Registry registry = make_registry(options.registry, env, account);
    auto images = plan_images(target, registry);  // Dockerfiles and git checked before anything changes
    step("Preparing the state bucket " + bucket);
    aws.ensure_state_bucket(bucket);
    prepare_hosted_zone(aws, env, target);
    step(registry.kind == Registry::Kind::ecr ? "Delivering images to ECR (" + registry.host + ")"
                                              : "Delivering images to DockerHub (" + registry.namespace_ + ")");
    push_images(images, registry, &aws, target);
    std::map<std::string, std::string> refs;
    for (const auto& img : images) refs[img.role] = img.image;
    write_file(images_file, images_var_file(refs));
  } else {
    step("Checking the state bucket " + bucket);
    if (!aws.bucket_exists(bucket)) {
      say("it does not exist: nothing of " + target.app_name + " is deployed to " + env.name);
      if (options.mode == Mode::nuke) {
        if (!options.auto_approve && !confirm("Remove the hosted zone " + env.domain + "?")) {
          std::puts("Nothing was changed.");
          return 2;
        }
        remove_hosted_zone(aws, env);
      }
      return 0;
    }
    // Destroying needs no images; the variable only has to be set.
    std::map<std::string, std::string> none;
    for (const auto& s : target.services) none[s.role] = "none";
    write_file(images_file, images_var_file(none));
  }

  step("Preparing Terraform (terraform init)");
  terraform.check({"init", "-input=false", "-reconfigure", "-backend-config=bucket=" + bucket,
                   "-backend-config=key=" + env.state_key, "-backend-config=region=" + env.region},
                  "terraform init", "see its output above; then run exo deploy again");
  std::string plan_file = env.name + ".tfplan";
  std::vector<std::string> plan = {"plan", "-input=false", "-out=" + plan_file, "-var-file=" + var_file_name(env),
                                   "-var-file=" + images_var_file_name(env)};
  if (destroying) plan.push_back("-destroy");
  step(destroying ? "Planning the teardown (terraform plan -destroy)" : "Planning the deployment (terraform plan)");
  terraform.check(plan, "terraform plan", "see its output above; fix the cause and run exo deploy again");

  if (!options.auto_approve) {
    std::string question = destroying ? "Destroy everything listed above" +
                                            std::string(options.mode == Mode::nuke ? " and the hosted zone " + env.domain : "") +
                                            "? Are you sure?"
                                      : "Apply this plan to " + env.name + "?";
    if (!confirm(question)) {
      fs::remove(tf_dir / plan_file);
      std::puts(destroying ? "Teardown abandoned: nothing was changed." : "Deployment abandoned: the plan was not applied.");
      return 2;
    }
  }
  step(destroying ? "Destroying (terraform apply)" : "Applying (terraform apply)");
  terraform.check({"apply", "-input=false", plan_file}, "terraform apply",
                  "see its output above; what was applied is in the state, so run exo deploy again to continue");
  fs::remove(tf_dir / plan_file);

  if (options.mode == Mode::nuke) remove_hosted_zone(aws, env);
  if (destroying) {
    std::printf("\n%s is torn down in %s.\n", target.app_name.c_str(), env.name.c_str());
    return 0;
  }
  std::printf("\n%s is deployed to %s.\n", target.app_name.c_str(), env.name.c_str());
  print_outputs(terraform);
  return 0;
}

}  // namespace exo::deploy
