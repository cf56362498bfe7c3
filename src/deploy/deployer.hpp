#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "deploy/target.hpp"

namespace exo::deploy {

struct DeployOptions {
  enum class Mode { deploy, teardown, nuke } mode = Mode::deploy;
  bool auto_approve = false;
  std::string registry = "dockerhub";  // or "ecr"
};

// Asks the user a yes/no question; true for yes.
using Confirm = std::function<bool(const std::string& question)>;

// `exo deploy`: writes terraform/, checks credentials and secrets, prepares the state bucket and
// the hosted zone, delivers the images, then init → plan → confirm → apply. Teardown and nuke
// plan the destruction, confirm, apply it, and (nuke) remove the hosted zone. Every step is
// safe to repeat, so a failed run is continued by running again. Returns the exit code: 0, or 2
// when the user declines; failures throw UserError naming the step and the fix.
int deploy(const DeployTarget& target, const EnvironmentTarget& env, const std::filesystem::path& app_root,
           const DeployOptions& options, const Confirm& confirm);

// Files under terraform/ exo wrote once but no longer would: variable files of environments
// application.yml no longer has, modules exo no longer ships. As paths like terraform/x.
std::vector<std::string> leftover_terraform_files(const DeployTarget& target, const std::filesystem::path& app_root);

struct TerraformChanges {
  std::vector<std::string> written, removed;  // paths like terraform/main.tf
};
// Writes terraform/ under `app_root` (only files whose content changes) and removes leftovers.
TerraformChanges write_terraform(const DeployTarget& target, const std::filesystem::path& app_root);

}  // namespace exo::deploy
