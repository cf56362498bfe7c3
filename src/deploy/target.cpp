#include "deploy/target.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/text.hpp"

namespace exo::deploy {

namespace {

constexpr size_t kPrefixMax = 22;  // + '-' + 9 = 32, the load balancer name limit
constexpr size_t kShortMax = 9;

// `text` cut to `max` characters with a hash of the whole text at the end, so distinct long
// texts stay distinct.
std::string shorten(std::string_view text, size_t max, size_t hash_digits) {
  if (text.size() <= max) return std::string(text);
  std::string head(text.substr(0, max - hash_digits - 1));
  while (!head.empty() && head.back() == '-') head.pop_back();
  return head + "-" + stable_hash_hex(text, hash_digits);
}

std::string hcl_identifier(std::string_view role) {
  std::string out;
  for (char c : role) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "svc_" + out;
  return out;
}

bool inside_domain(std::string_view host, std::string_view domain) {
  return host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                            host[host.size() - domain.size() - 1] == '.');
}

// Collects every problem so the user fixes them in one round.
struct Problems {
  std::vector<std::string> lines;
  void add(const config::Location& where, const std::string& message) { lines.push_back(where.str() + ": " + message); }
  void missing(config::Location where, const std::string& key, const std::string& what) {
    where.key = key;
    add(where, "is required for deploy (" + what + ")");
  }
};

config::Location at(const config::Location& base, const std::string& key) {
  config::Location l = base;
  l.key = key;
  return l;
}

}  // namespace

std::string slug(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string name_prefix(std::string_view app_slug, std::string_view env_slug) {
  std::string full = std::string(app_slug) + "-" + std::string(env_slug);
  // Load balancer names must not start with "internal-".
  if (full.starts_with("internal-")) full = "x" + full;
  return shorten(full, kPrefixMax, 6);
}

std::string secrets_path(std::string_view app_name, std::string_view env_name) {
  return "/exo/" + slug(app_name) + "/" + slug(env_name) + "/";
}

std::string short_name(std::string_view role_slug) { return shorten(role_slug, kShortMax, 4); }

std::string load_balancer_name(const EnvironmentTarget& env, const ServiceTarget& service) {
  return env.name_prefix + "-" + service.short_name;
}

std::string load_balancer_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 32) return "must have 1 to 32 characters";
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return "may hold only letters, digits and '-'";
  if (name.front() == '-' || name.back() == '-') return "must not start or end with '-'";
  if (name.starts_with("internal-")) return "must not start with 'internal-'";
  return {};
}

std::string bucket_name_problem(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return "must have 3 to 63 characters";
  for (char c : name)
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return "may hold only lower-case letters, digits, '-' and '.'";
  if (!std::isalnum(static_cast<unsigned char>(name.front())) || !std::isalnum(static_cast<unsigned char>(name.back())))
    return "must start and end with a letter or digit";
  return {};
}

std::string EnvironmentTarget::state_bucket(const std::string& account) const {
  return remote_state_store.empty() ? name_prefix + "-terraform-" + account : remote_state_store;
}

std::vector<std::string> EnvironmentTarget::secrets_for(const ServiceTarget& service) const {
  std::set<std::string> all(secrets.begin(), secrets.end());
  all.insert(service.secrets.begin(), service.secrets.end());
  return {all.begin(), all.end()};
}

std::map<std::string, std::string> task_environment(const DeployTarget& target, const ServiceTarget& service,
                                                    const Places& places) {
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : service.environment) env[k] = places.literal(v);
  for (const auto& s : target.services)
    if (s.is_public) env[env_name(s.role) + "_EXTERNAL_ORIGIN"] = places.origin(s.role);
  if (target.gateway) env["EXOCOM_GATEWAY_URL"] = places.socket_url(target.gateway->role);
  env["ROLE"] = places.literal(service.role);
  env["EXOCOM_HOST"] = places.exocom_host;
  env["EXOCOM_PORT"] = places.exocom_port;
  if (service.port) env["PORT"] = std::to_string(service.port);
  return env;
}

std::string exocom_host(const EnvironmentTarget& env) { return "exocom." + env.name_prefix + std::string(kInternalDomain); }

std::vector<std::string> gateway_origins(const DeployTarget& target, const Places& places) {
  std::vector<std::string> origins;
  for (const auto& s : target.services)
    if (s.is_public) origins.push_back(places.origin(s.role));
  return origins;
}

const EnvironmentTarget& DeployTarget::environment(const std::string& name) const {
  for (const auto& e : environments)
    if (e.name == name) return e;
  bug("an environment that application.yml does not have", __FILE__, __LINE__);
}

bool DeployTarget::has_public() const {
  return std::any_of(services.begin(), services.end(), [](const ServiceTarget& s) { return s.is_public; });
}
bool DeployTarget::has_private() const {
  return std::any_of(services.begin(), services.end(), [](const ServiceTarget& s) { return !s.is_public; });
}

DeployTarget deploy_target(const config::Application& app, const std::map<std::string, config::Service>& services) {
  Problems problems;
  DeployTarget t;
  t.app_name = app.name;
  t.app_slug = slug(app.name);
  config::Location app_where{app.file, 1, "name"};
  if (t.app_slug.empty() || !std::isalpha(static_cast<unsigned char>(t.app_slug[0])))
    problems.add(app_where, "'" + app.name + "' cannot form AWS resource names; use a name that starts with a letter, like my-app");
  const config::AppDependency* exocom = app.dependency("exocom");
  t.exocom_image = "exosphere/exocom:" + (exocom && !exocom->version.empty() ? exocom->version : std::string("latest"));
  t.service_data = config::to_service_data(config::compile_routes(app, services));
  if (const config::GatewayConfig* g = app.gateway()) t.gateway = GatewayTarget{g->role, g->port ? g->port : 3001};

  std::set<std::string> modules, short_names;
  for (const auto& ref : app.services) {
    if (ref.location.empty()) {
      problems.add(ref.where, "runs the image '" + ref.docker_image +
                                  "'; exo deploy builds services from their folders, so give this role a 'location'");
      continue;
    }
    auto it = services.find(ref.role);
    if (it == services.end()) {
      problems.add(ref.where, "has no service.yml at '" + ref.location + "'");
      continue;
    }
    const config::Service& s = it->second;
    const config::Production& p = s.production;
    ServiceTarget st;
    st.role = ref.role;
    st.module = hcl_identifier(ref.role);
    st.slug = slug(ref.role);
    st.short_name = short_name(st.slug);
    st.is_public = ref.protection_level == "public";
    st.dir = config::service_dir(app, ref);
    st.file = s.file;
    st.location = ref.location;
    st.cpu = p.cpu;
    st.memory = p.memory;
    st.port = p.public_port ? p.public_port : s.port;
    st.health_check = p.health_check.empty() ? "/" : p.health_check;
    st.url = p.url;
    st.environment = s.environment;
    st.secrets = p.secrets;
    st.scale = p.scale;
    config::Location where = p.where.file.empty() ? config::Location{s.file, 0, ""} : p.where;
    if (where.line == 0) where.file = s.file;
    if (!st.cpu) problems.missing(where, "production.aws.cpu", "CPU units for its container, like 256 (1024 = one vCPU)");
    if (!st.memory) problems.missing(where, "production.aws.memory", "memory for its container in MiB, like 512");
    if (st.is_public && !st.port)
      problems.missing(where, "production.aws.public-port", "the port its server listens on, like 3000");
    if (!st.is_public && st.scale.requests_per_target)
      problems.add(where, "production.scale.requests-per-target: '" + ref.role +
                              "' is private, so no load balancer counts its requests; scale it on cpu or memory");
    if (!modules.insert(st.module).second || !short_names.insert(st.short_name).second)
      problems.add(ref.where, "role '" + ref.role + "' gives the same AWS names as another role; rename one of them");
    if (st.slug.empty()) problems.add(ref.where, "role '" + ref.role + "' cannot form AWS resource names");
    if (st.slug == "exocom")
      problems.add(ref.where, "role '" + ref.role + "' would share its AWS names with ExoCom's; rename the role");
    t.services.push_back(std::move(st));
  }

  for (const auto& env : app.environments) {
    EnvironmentTarget e;
    e.name = env.name;
    e.domain = env.domain;
    e.secrets = env.secrets;
    e.dockerhub_namespace = env.dockerhub_namespace;
    e.exocom_nodes = env.exocom.nodes;
    e.alert_email = env.alert_email;
    std::string key = "environments." + env.name;
    std::string env_slug = slug(env.name);
    if (env_slug.empty() || !config::valid_role_name(env.name))
      problems.add(env.where, "'" + env.name + "' cannot name an environment; use letters, digits, '-' and '_'");
    if (e.domain.empty()) problems.missing(env.where, key + ".domain", "the domain of its public DNS zone, like example.com");
    if (!env.aws) {
      problems.missing(env.where, key + ".providers.aws.region", "the AWS region to deploy to, like us-west-2");
    } else {
      const config::AwsProvider& aws = *env.aws;
      e.region = aws.region;
      e.account_id = aws.account_id;
      e.ssl_certificate_arn = aws.ssl_certificate_arn;
      e.remote_state_store = aws.remote_state_store;
      e.public_instance_type = aws.public_cluster_size.empty() ? "t3.small" : aws.public_cluster_size;
      e.private_instance_type = aws.private_cluster_size.empty() ? "t3.small" : aws.private_cluster_size;
      if (e.region.empty()) problems.missing(aws.where, key + ".providers.aws.region", "the AWS region to deploy to, like us-west-2");
      if (!e.remote_state_store.empty())
        if (auto why = bucket_name_problem(e.remote_state_store); !why.empty())
          problems.add(aws.remote_state_store_where, "'" + e.remote_state_store + "' is not a valid S3 bucket name: " + why);
    }
    for (const auto& [where, message] : env.exocom.problems) problems.add(where, message);
    e.name_prefix = name_prefix(t.app_slug, env_slug);
    e.secrets_path = secrets_path(app.name, env.name);
    e.state_key = "exosphere/" + t.app_slug + "/" + env_slug + ".tfstate";
    for (const auto& s : t.services) {
      if (!s.is_public) continue;
      auto override = env.urls.find(s.role);
      std::string url = override != env.urls.end() ? override->second : s.url;
      if (url.empty()) {
        problems.missing(config::Location{s.file, 0, ""}, "production.url",
                         "the host name public role '" + s.role + "' answers on, like www." +
                             (e.domain.empty() ? std::string("example.com") : e.domain));
        continue;
      }
      if (!e.domain.empty() && !inside_domain(url, e.domain))
        problems.add(at(env.where, key + ".urls." + s.role),
                     "'" + url + "' (the URL of " + s.role + ") is outside the domain " + e.domain +
                         "; set a host name inside it here");
      e.urls[s.role] = url;
      if (auto why = load_balancer_name_problem(load_balancer_name(e, s)); !why.empty() && !t.app_slug.empty())
        problems.add(env.where, "load balancer name '" + load_balancer_name(e, s) + "' " + why);
    }
    if (t.gateway) {
      auto override = env.urls.find(t.gateway->role);
      std::string url = override != env.urls.end() ? override->second : "exocom." + e.domain;
      if (!e.domain.empty() && !inside_domain(url, e.domain))
        problems.add(at(env.where, key + ".urls." + t.gateway->role),
                     "'" + url + "' (the URL of ExoCom's gateway) is outside the domain " + e.domain + "; set a host name inside it here");
      e.urls[t.gateway->role] = url;
    }
    t.environments.push_back(std::move(e));
  }
  if (!problems.lines.empty()) {
    std::string message = "the configuration is not ready to deploy:";
    for (const auto& l : problems.lines) message += "\n  " + l;
    throw UserError(message);
  }
  return t;
}

}  // namespace exo::deploy
