#include "config/lint.hpp"

#include <algorithm>
#include <set>

#include "common/files.hpp"
#include "common/text.hpp"

namespace exo::config {

size_t LintReport::problems() const {
  return sent_not_received.size() + received_not_sent.size() + name_collisions.size() + unused_translations.size() +
         missing_service_files.size();
}

namespace {

// Public name → roles, in first-seen order; `internal` remembers how each role spells it.
struct NameUse {
  std::vector<std::string> roles;
  std::vector<std::string> spellings;
};

void record(std::vector<std::pair<std::string, NameUse>>& uses, const std::string& public_name, const std::string& role,
            const std::string& internal_name) {
  auto it = std::find_if(uses.begin(), uses.end(), [&](const auto& u) { return u.first == public_name; });
  if (it == uses.end()) {
    uses.push_back({public_name, {}});
    it = std::prev(uses.end());
  }
  if (std::find(it->second.roles.begin(), it->second.roles.end(), role) == it->second.roles.end()) {
    it->second.roles.push_back(role);
    it->second.spellings.push_back(internal_name);
  }
}

std::string describe(const std::string& public_name, const NameUse& use, std::string_view verb) {
  std::set<std::string> other;
  for (const auto& s : use.spellings)
    if (s != public_name) other.insert(s);
  if (other.empty()) return public_name;
  return public_name + " (" + std::string(verb) + " as " + join(std::vector<std::string>(other.begin(), other.end()), ", ") + ")";
}

}  // namespace

LintReport lint(const Application& app, const std::map<std::string, Service>& services,
                const std::vector<std::string>& missing) {
  LintReport report;
  RouteTable table = compile_routes(app, services);
  std::vector<std::pair<std::string, NameUse>> sent, received;
  const GatewayConfig* gateway = app.gateway();
  for (const auto& [role, routes] : table.roles) {
    if (!services.count(role) && !(gateway && gateway->role == role)) continue;
    std::map<std::string, std::set<std::string>> spellings;  // public → internal names of this role
    for (const auto& name : routes.sends) {
      auto pub = to_public(routes, role, name);
      record(sent, pub, role, name);
      spellings[pub].insert(name);
    }
    for (const auto& name : routes.receives) {
      auto pub = to_public(routes, role, name);
      record(received, pub, role, name);
      spellings[pub].insert(name);
    }
    for (const auto& [pub, names] : spellings)
      if (names.size() > 1)
        report.name_collisions.push_back(
            {{role}, "'" + join(std::vector<std::string>(names.begin(), names.end()), "' and '") + "' are all '" + pub + "'"});
    std::set<std::string> declared(routes.sends.begin(), routes.sends.end());
    declared.insert(routes.receives.begin(), routes.receives.end());
    for (const auto& t : routes.translations)
      if (!declared.count(t.internal_name))
        report.unused_translations.push_back(
            {{role}, t.internal_name + " (public " + t.public_name + ") is neither sent nor received by the service"});
  }
  auto contains = [](const auto& uses, const std::string& name) {
    return std::any_of(uses.begin(), uses.end(), [&](const auto& u) { return u.first == name; });
  };
  for (const auto& [name, use] : sent)
    if (!contains(received, name)) report.sent_not_received.push_back({use.roles, describe(name, use, "sent")});
  for (const auto& [name, use] : received)
    if (!contains(sent, name)) report.received_not_sent.push_back({use.roles, describe(name, use, "received")});
  for (const auto& role : missing) {
    const ServiceRef* ref = app.find(role);
    report.missing_service_files.push_back(
        {{role}, display_path(service_dir(app, *ref) / "service.yml") + " not found (location " + ref->location + ")"});
  }
  return report;
}

}  // namespace exo::config
