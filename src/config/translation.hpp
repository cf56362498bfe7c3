#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/application.hpp"

namespace exo::config {

// What one role may send and receives, in its own (internal) vocabulary, and how its names map to
// the names the rest of the application uses (public).
struct RoleRoutes {
  std::vector<std::string> receives;
  std::vector<std::string> sends;
  std::vector<Translation> translations;  // explicit 1:1 pairs; the first match wins
  std::string ns;                         // older prefix rule: `<ns>.x` internally is `<role>.x` publicly
  bool operator==(const RoleRoutes&) const = default;
};

// The public name of a name the role uses internally (when it sends it, or subscribes to it).
std::string to_public(const RoleRoutes& routes, std::string_view role, std::string_view internal_name);

}  // namespace exo::config
