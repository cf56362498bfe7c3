#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/routes.hpp"

namespace exo::config {

// One finding: the roles involved and what is wrong, as the user should read it.
struct LintFinding {
  std::vector<std::string> roles;
  std::string text;
};

struct LintReport {
  std::vector<LintFinding> sent_not_received;
  std::vector<LintFinding> received_not_sent;
  std::vector<LintFinding> name_collisions;       // one role, two internal names, one public name
  std::vector<LintFinding> unused_translations;   // `internal` names the service never declares
  std::vector<LintFinding> missing_service_files;  // `location` without service.yml
  size_t problems() const;
};

// Checks the message contract of an application: every message sent by some role is received by
// some role and vice versa, compared by public name (after translation and namespaces).
// `missing` lists the roles whose `location` has no service.yml.
LintReport lint(const Application& app, const std::map<std::string, Service>& services,
                const std::vector<std::string>& missing);

}  // namespace exo::config
