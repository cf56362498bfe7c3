#include "config/translation.hpp"

namespace exo::config {

std::string to_public(const RoleRoutes& routes, std::string_view role, std::string_view internal_name) {
  for (const auto& t : routes.translations)
    if (t.internal_name == internal_name) return t.public_name;
  // The namespace rule renames only names in the role's own namespace: `mongo.create` for role
  // `users` in namespace `mongo` is `users.create`; `tweets.created` stays as it is.
  if (!routes.ns.empty() && internal_name.size() > routes.ns.size() + 1 && internal_name.starts_with(routes.ns) &&
      internal_name[routes.ns.size()] == '.')
    return std::string(role) + std::string(internal_name.substr(routes.ns.size()));
  return std::string(internal_name);
}

}  // namespace exo::config
