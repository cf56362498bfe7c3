#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace exo::deploy {

// One role as it is deployed: everything Terraform and the image build need, validated.
struct ServiceTarget {
  std::string role;
  std::string module;      // its Terraform module name (an HCL identifier)
  std::string slug;        // lower-case [a-z0-9-]: image repositories
  std::string short_name;  // at most 9 characters: load balancer and target group names
  bool is_public = false;
  std::filesystem::path dir;
  std::string file;      // its service.yml as the user sees it
  std::string location;  // as application.yml gives it
  int cpu = 0, memory = 0, port = 0;
  std::string health_check;
  std::string url;  // production.url (environments may override it)
  std::map<std::string, std::string> environment;  // from service.yml
  std::vector<std::string> secrets;                // production.secrets
  config::Scale scale;                             // production.scale
};

// One environment of `environments:` with everything deploy needs from it.
struct EnvironmentTarget {
  std::string name;
  std::string domain, region, account_id, ssl_certificate_arn, dockerhub_namespace;
  std::string remote_state_store;  // empty: `state_bucket` derives it
  std::string public_instance_type, private_instance_type;
  int exocom_nodes = 1;                     // ExoCom tasks; 2 or more: a cluster joined through NATS
  std::string alert_email;                  // subscribed to the alarms; empty: nobody
  std::vector<std::string> secrets;         // given to every service
  std::map<std::string, std::string> urls;  // public role (and the gateway role) → host name
  std::string name_prefix;                  // at most 22 characters: prefixes every AWS name
  std::string secrets_path;                 // /exo/<app>/<env>/ in SSM Parameter Store
  std::string state_key;                    // the state object in the bucket

  // The state bucket: remote-state-store, else <prefix>-terraform-<account> (globally unique).
  std::string state_bucket(const std::string& account) const;
  // Secrets a service receives: the environment's and its own, sorted, each once.
  std::vector<std::string> secrets_for(const ServiceTarget& service) const;
};

// ExoCom's gateway for browsers, when application.yml configures one.
struct GatewayTarget {
  std::string role;
  int port = 0;
};

// The application as deploy sees it.
struct DeployTarget {
  std::string app_name, app_slug;
  std::string exocom_image;
  std::optional<GatewayTarget> gateway;  // reached at https://<urls[role]>, by default exocom.<domain>
  std::string service_data;  // ExoCom's routing table (SERVICE_DATA)
  std::vector<ServiceTarget> services;  // public roles first, each in application order
  std::vector<EnvironmentTarget> environments;

  // The environment named `name`, one of application.yml's (see config::choose_environment).
  const EnvironmentTarget& environment(const std::string& name) const;
  bool has_public() const;
  bool has_private() const;
};

// Where a deployment puts what a service's configuration points to: Terraform names AWS resources
// (as HCL template text), `exo deploy --rehearse` names containers and its proxy.
struct Places {
  std::function<std::string(const std::string& role)> origin;      // a public role's origin: https://<url>
  std::function<std::string(const std::string& role)> socket_url;  // the gateway's: wss://<url>/
  std::string exocom_host, exocom_port;
  std::function<std::string(std::string_view)> literal;  // configuration text as the places' language writes it
};

// A service's container environment in a deployment, as its task definition gives it (secrets
// come on their own: EnvironmentTarget::secrets_for).
std::map<std::string, std::string> task_environment(const DeployTarget& target, const ServiceTarget& service,
                                                    const Places& places);
// The origins ExoCom's gateway accepts: the origin of every public role.
std::vector<std::string> gateway_origins(const DeployTarget& target, const Places& places);

// Validates the configuration for deploy and builds the target. Every missing or invalid key is
// reported in one UserError, one line per key (file:line: key: what to write there).
DeployTarget deploy_target(const config::Application& app, const std::map<std::string, config::Service>& services);

// An environment's private DNS namespace is <name_prefix> followed by this; ExoCom is
// exocom.<namespace> in it.
inline constexpr std::string_view kInternalDomain = ".internal";
// The host name services reach ExoCom at in an environment.
std::string exocom_host(const EnvironmentTarget& env);

// Names: lower-case [a-z0-9-] from any text; empty when nothing usable remains.
std::string slug(std::string_view text);
// `<app>-<env>`, shortened with a hash suffix to at most 22 characters, unique per app and env.
std::string name_prefix(std::string_view app_slug, std::string_view env_slug);
// A role shortened with a hash suffix to at most 9 characters.
std::string short_name(std::string_view role_slug);
// The load balancer (and target group) name of a public service in an environment.
std::string load_balancer_name(const EnvironmentTarget& env, const ServiceTarget& service);
// Why `name` is not a valid application load balancer name (32 characters, [A-Za-z0-9-], ...); empty when valid.
std::string load_balancer_name_problem(std::string_view name);
// `/exo/<app>/<env>/`: where an environment's secrets live in SSM Parameter Store.
std::string secrets_path(std::string_view app_name, std::string_view env_name);
// Why `name` is not a valid S3 bucket name; empty when valid.
std::string bucket_name_problem(std::string_view name);

}  // namespace exo::deploy
