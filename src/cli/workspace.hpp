#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "config/config.hpp"

namespace exo::cli {

// An application as the commands see it: application.yml plus the service.yml of every local role.
struct Workspace {
  config::Application app;
  std::map<std::string, config::Service> services;  // by role; local services with a service.yml
  std::vector<std::string> missing;                 // roles whose location has no service.yml
};

// Prints configuration warnings (unknown keys, ...) to stderr, one line each.
void print_warnings(const config::Warnings& warnings);
// Loads application.yml from `dir`; a missing file is a UserError saying where to run the command.
config::Application load_application(const std::filesystem::path& dir);
// Loads the application and every local service. With `allow_missing`, a location without a
// service.yml is recorded in `missing` instead of failing.
Workspace load_workspace(const std::filesystem::path& dir, bool allow_missing = false);

}  // namespace exo::cli
