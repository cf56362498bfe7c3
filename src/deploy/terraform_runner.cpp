#include "deploy/terraform_runner.hpp"

#include <unistd.h>

#include <cstdlib>

#include "common/container_engine.hpp"
#include "common/error.hpp"
#include "common/json.hpp"
#include "common/text.hpp"

namespace exo::deploy {

namespace fs = std::filesystem;

namespace {

// "1.11.4" → {1, 11}
std::pair<int, int> major_minor(const std::string& version) {
  auto parts = split(version, '.');
  try {
    return {parts.size() > 0 ? std::stoi(parts[0]) : 0, parts.size() > 1 ? std::stoi(parts[1]) : 0};
  } catch (const std::exception&) {
    return {0, 0};
  }
}

}  // namespace

Terraform Terraform::locate(const std::filesystem::path& dir) {
  Terraform t;
  t.dir_ = dir;
  if (std::string path = find_program("terraform"); !path.empty()) {
    t.prefix_ = {"terraform"};
    auto r = t.capture({"version", "-json"});
    std::string version;
    if (r.exit_code == 0) {
      try {
        version = string_at(parse_json(r.out, "terraform version -json").as_object(), "terraform_version");
      } catch (const UserError&) {
      }
    }
    if (version.empty())
      throw UserError("'terraform version' failed (" + path + "); reinstall Terraform 1.10 or newer, or remove it from PATH to use Docker");
    auto [major, minor] = major_minor(version);
    if (major < 1 || (major == 1 && minor < 10))
      throw UserError("Terraform " + version + " (" + path + ") is too old: exo deploy needs 1.10 or newer for S3 state "
                      "locking; install a newer Terraform, or remove it from PATH to use Docker");
    t.description_ = "Terraform " + version;
    return t;
  }
  ContainerEngine engine;
  try {
    engine = find_container_engine();
  } catch (const UserError&) {
    throw UserError("exo deploy needs Terraform 1.10 or newer: install it (https://developer.hashicorp.com/terraform/install) "
                    "or install Docker or Podman to run it from the hashicorp/terraform image");
  }
  std::string home = std::getenv("HOME") ? std::getenv("HOME") : "/root";
  t.prefix_ = {engine.program, "run", "--rm", "-i", "--user", std::to_string(getuid()) + ":" + std::to_string(getgid()),
               "-v", dir.string() + ":/workspace", "-w", "/workspace", "-v", home + "/.aws:/tmp/.aws:ro", "-e", "HOME=/tmp",
               "-e", "TF_IN_AUTOMATION=1"};
  for (const char* name : {"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"})
    t.prefix_.insert(t.prefix_.end(), {"-e", name});
  t.prefix_.emplace_back(kTerraformImage);
  t.description_ = "Terraform in " + fs::path(engine.program).filename().string() + " (" + std::string(kTerraformImage) + ")";
  return t;
}

SpawnOptions Terraform::options(const std::vector<std::string>& args) const {
  SpawnOptions o;
  o.argv = prefix_;
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.cwd = dir_;
  o.env["TF_IN_AUTOMATION"] = "1";  // no "run terraform apply" hints: exo does that
  return o;
}

int Terraform::run(const std::vector<std::string>& args) const { return run_attached(options(args)); }

RunResult Terraform::capture(const std::vector<std::string>& args) const {
  return run_captured(options(args), {}, std::chrono::minutes(5));
}

void Terraform::check(const std::vector<std::string>& args, const std::string& step, const std::string& fix) const {
  int code = run(args);
  if (code != 0) throw UserError(step + " failed (terraform exited with " + std::to_string(code) + "); " + fix);
}

}  // namespace exo::deploy
