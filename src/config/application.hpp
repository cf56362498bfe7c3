#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"

namespace exo::config {

struct Translation {
  std::string public_name;
  std::string internal_name;
  bool operator==(const Translation&) const = default;
};

// One entry under `services.<protection level>` in application.yml.
struct ServiceRef {
  std::string role;
  std::string protection_level;  // "public" or "private"
  std::string location;          // service folder relative to the app root
  std::string docker_image;      // or an image that carries its own service.yml
  std::string ns;                // the older `namespace` translation rule
  std::vector<Translation> translations;
  std::vector<std::string> depends_on;  // roles that must be online before this one starts
  std::string local, origin;     // used by `exo clone`
  Location where;
};

// ExoCom's gateway for browsers: they send and receive as `role`.
struct GatewayConfig {
  std::string role = "browser";
  int port = 0;  // 0: a free port
  std::vector<std::string> origins;
  std::vector<std::string> sends, receives;
};

struct AppDependency {
  std::string type;     // exocom | nats
  std::string version;
  bool silent = false;  // hide its log lines in `exo run`
  std::optional<GatewayConfig> gateway;  // exocom only
  Location where;
};

struct AwsProvider {
  std::string region;
  std::string remote_state_store;    // the Terraform state bucket; empty: derived from app, env and account
  std::string public_cluster_size;   // EC2 instance types of the clusters
  std::string private_cluster_size;
  std::string account_id;
  std::string ssl_certificate_arn;   // empty: Terraform requests certificates validated by DNS
  Location where;
  Location remote_state_store_where;
};

// `environments.<name>.exocom`: how ExoCom is deployed there (docs/deploy.md).
struct ExocomDeployment {
  int nodes = 1;  // ExoCom tasks, 1 to 9; from 2 on they form a cluster joined through NATS
  // What is wrong in the section, each where it is written. Deploy reports them with its other
  // problems (deploy::deploy_target); commands that do not deploy ignore the section.
  std::vector<std::pair<Location, std::string>> problems;
};

// A deployment target under `environments.<name>` (docs/deploy.md).
struct Environment {
  std::string name;
  std::string domain;                       // the public hosted zone
  std::optional<AwsProvider> aws;
  std::string dockerhub_namespace;          // providers.docker-hub.namespace
  std::vector<std::string> secrets;         // given to every service, from SSM Parameter Store
  std::map<std::string, std::string> urls;  // role → host name, overriding production.url (and the gateway's)
  ExocomDeployment exocom;
  std::string alert_email;                  // alerts.email: subscribed to the alarms
  Location where;
};

struct Application {
  std::filesystem::path root;  // the folder holding application.yml
  std::string file;            // application.yml as the user sees it
  std::string name, description, version, author;
  std::vector<AppDependency> dependencies;
  std::vector<ServiceRef> services;  // public roles first, then private, each in file order
  std::vector<Environment> environments;

  const ServiceRef* find(std::string_view role) const;
  std::vector<std::string> roles() const;
  const AppDependency* dependency(std::string_view type) const;
  const GatewayConfig* gateway() const;
};

// Reads `<dir>/application.yml`. Throws ConfigError (file:line: key: what was expected) on the
// first error; unknown keys go to `warnings`.
Application load_application(const std::filesystem::path& dir, Warnings& warnings);
// Parses application.yml text (`file` names it in messages; `root` resolves locations).
Application parse_application(const std::string& text, const std::string& file, const std::filesystem::path& root,
                              Warnings& warnings);
// The environment a command acts on: `wanted`, else the only one, else `production`. Throws a
// UserError naming the valid environments.
const Environment& choose_environment(const Application& app, const std::string& wanted);
// True when `name` may be used as a role: letters, digits, '-' and '_', starting with a letter or digit.
bool valid_role_name(std::string_view name);

}  // namespace exo::config
