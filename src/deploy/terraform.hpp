#pragma once

#include <map>
#include <string>

#include "deploy/target.hpp"

namespace exo::deploy {

// Every file of the application's Terraform, by path relative to `terraform/`: the root module
// (main.tf, variables.tf, services.tf, outputs.tf), the modules it uses (shipped with exo),
// one `<env>.tfvars.json` per environment, and .gitignore. Deterministic: the same target gives
// the same bytes, already formatted as `terraform fmt` would.
std::map<std::string, std::string> terraform_files(const DeployTarget& target);

// `<env>.tfvars.json`'s companion written by exo deploy: each role's image.
std::string images_var_file(const std::map<std::string, std::string>& images);
std::string images_var_file_name(const EnvironmentTarget& env);
std::string var_file_name(const EnvironmentTarget& env);

// The modules shipped with exo (terraform_modules.cpp, generated from src/deploy/modules).
const std::map<std::string, std::string>& terraform_modules();

}  // namespace exo::deploy
