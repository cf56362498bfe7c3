#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/service.hpp"
#include "config/translation.hpp"

namespace exo::config {

// The routing table ExoCom enforces: per role, what it sends and receives and its translations.
struct RouteTable {
  std::vector<std::pair<std::string, RoleRoutes>> roles;  // in application order
  const RoleRoutes* find(std::string_view role) const;
  RoleRoutes& add(const std::string& role);  // the existing entry or a new empty one
};

// Builds the table from application.yml and each role's service.yml (`services` keyed by role;
// a role without an entry, such as a docker-image service, gets empty routes).
RouteTable compile_routes(const Application& app, const std::map<std::string, Service>& services);

// `SERVICE_DATA`: an object keyed by role (ExoCom 0.27).
std::string to_service_data(const RouteTable& table);
// `SERVICE_ROUTES`: the older array of {role, receives, sends, namespace}.
std::string to_service_routes(const RouteTable& table);
// Reads either form (object or array); throws UserError naming `what` and the offending key.
RouteTable parse_routes(std::string_view json_text, std::string_view what);

}  // namespace exo::config
