#pragma once

#include <map>
#include <string>

#include "config/config.hpp"

namespace exo::deploy {

// The docker compose file for an application: ExoCom, every service (local folders are built,
// docker-image services pulled), and their dependencies, with the same environment `exo run`
// gives. Deterministic: the same configuration gives the same bytes.
std::string compose_file(const config::Application& app, const std::map<std::string, config::Service>& services);
// A compose project name from the application name: lower case, [a-z0-9_-].
std::string project_name(const std::string& app_name);

}  // namespace exo::deploy
