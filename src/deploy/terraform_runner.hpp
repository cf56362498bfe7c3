#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/process.hpp"

namespace exo::deploy {

// Runs Terraform in the application's terraform/ folder: the `terraform` on PATH (1.10 or newer,
// for S3 state locking without DynamoDB), else the hashicorp/terraform image through the container
// engine at hand (Docker when its daemon answers, else Podman).
class Terraform {
 public:
  // Throws, saying what to install, when neither is there.
  static Terraform locate(const std::filesystem::path& dir);

  // Output goes to the terminal; returns the exit code.
  int run(const std::vector<std::string>& args) const;
  RunResult capture(const std::vector<std::string>& args) const;
  // `run`, throwing "<step> failed (terraform exited with N); <fix>" on failure.
  void check(const std::vector<std::string>& args, const std::string& step, const std::string& fix) const;
  const std::string& description() const { return description_; }

 private:
  SpawnOptions options(const std::vector<std::string>& args) const;
  std::filesystem::path dir_;
  std::vector<std::string> prefix_;  // the command before terraform's own arguments
  std::string description_;
};

// The Terraform image used when Terraform is not installed.
constexpr std::string_view kTerraformImage = "hashicorp/terraform:1.11";

}  // namespace exo::deploy
