#include "config/application.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/files.hpp"
#include "common/text.hpp"
#include "config/service.hpp"
#include "config/yaml_reader.hpp"

namespace exo::config {

const ServiceRef* Application::find(std::string_view role) const {
  for (const auto& s : services)
    if (s.role == role) return &s;
  return nullptr;
}

std::vector<std::string> Application::roles() const {
  std::vector<std::string> out;
  for (const auto& s : services) out.push_back(s.role);
  return out;
}

const AppDependency* Application::dependency(std::string_view type) const {
  for (const auto& d : dependencies)
    if (d.type == type) return &d;
  return nullptr;
}

const GatewayConfig* Application::gateway() const {
  const AppDependency* exocom = dependency("exocom");
  return exocom && exocom->gateway ? &*exocom->gateway : nullptr;
}

const Environment& choose_environment(const Application& app, const std::string& wanted) {
  const auto& envs = app.environments;
  if (envs.empty())
    throw UserError("application.yml has no environments to deploy to; add environments.production (see docs/deploy.md)");
  std::string name = wanted;
  if (name.empty() && envs.size() == 1) return envs.front();
  if (name.empty()) name = "production";
  std::vector<std::string> names;
  for (const auto& e : envs) {
    if (e.name == name) return e;
    names.push_back(e.name);
  }
  if (wanted.empty()) throw UserError("application.yml has several environments; name one: " + join(names, ", "));
  throw UserError("'" + name + "' is not an environment in application.yml; valid environments: " + join(names, ", "));
}

bool valid_role_name(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

namespace {

std::vector<Translation> read_translations(const YamlNode& node) {
  std::vector<Translation> out;
  for (const auto& item : node.items()) {
    if (!item.is_map()) item.fail("expected {public: <name>, internal: <name>}, found " + item.kind());
    Translation t{item.get("public").required_text(), item.get("internal").required_text()};
    for (const auto& [k, v] : item.entries())
      if (k != "public" && k != "internal") v.fail("unknown key in a translation; only 'public' and 'internal' are allowed");
    out.push_back(std::move(t));
  }
  return out;
}

ServiceRef read_service_ref(const std::string& role, const std::string& level, const YamlNode& node, Warnings& warnings) {
  ServiceRef ref;
  ref.role = role;
  ref.protection_level = level;
  ref.where = node.where();
  if (!valid_role_name(role))
    node.fail("is not a valid role name; use letters, digits, '-' and '_', starting with a letter or digit");
  if (node.is_null()) node.fail("needs 'location' or 'docker-image'");
  if (!node.is_map()) node.fail("expected a map with 'location' or 'docker-image', found " + node.kind());
  node.warn_unknown({"location", "docker-image", "namespace", "message-translation", "depends-on", "local", "origin"},
                    warnings);
  ref.location = node.get("location").text();
  ref.docker_image = node.get("docker-image").text();
  ref.local = node.get("local").text();
  ref.origin = node.get("origin").text();
  ref.ns = node.get("namespace").text();
  ref.translations = read_translations(node.get("message-translation"));
  ref.depends_on = node.get("depends-on").text_list();
  if (!ref.location.empty() && !ref.docker_image.empty())
    node.fail("has both 'location' and 'docker-image'; keep one");
  // `local`/`origin` describe where `exo clone` puts the service: that is a location too.
  if (ref.location.empty() && ref.docker_image.empty() && !ref.local.empty()) ref.location = ref.local;
  if (ref.location.empty() && ref.docker_image.empty()) node.fail("needs 'location' or 'docker-image'");
  return ref;
}

constexpr std::string_view kNodesHint = "must be a whole number from 1 to 9, like nodes: 3";

// `environments.<name>.exocom`. Problems are collected, not thrown: deploy reports them together
// with its own, and other commands do not need the section.
ExocomDeployment read_exocom(const YamlNode& node) {
  ExocomDeployment out;
  if (node.is_null()) return out;
  if (!node.is_map()) {
    out.problems.emplace_back(node.where(), "must be a map like exocom: {nodes: 3}; found " + node.kind());
    return out;
  }
  for (const auto& [key, value] : node.entries()) {
    if (key != "nodes") {
      out.problems.emplace_back(value.where(), "unknown key; under exocom write only nodes, like exocom: {nodes: 3}");
      continue;
    }
    if (!value.is_scalar()) {
      out.problems.emplace_back(value.where(), std::string(kNodesHint) + "; found " + value.kind());
      continue;
    }
    std::string text = value.text();
    bool digits = !text.empty() && text.size() <= 2 &&
                  std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    int n = digits ? std::stoi(text) : 0;
    if (n < 1 || n > 9) {
      out.problems.emplace_back(value.where(), std::string(kNodesHint) + "; found '" + text + "'");
      continue;
    }
    out.nodes = n;
  }
  return out;
}

}  // namespace

Application parse_application(const std::string& text, const std::string& file, const std::filesystem::path& root,
                              Warnings& warnings) {
  YamlNode doc = YamlNode::parse(text, file);
  if (doc.is_null()) doc.fail("is empty; it needs at least 'name' and 'services'");
  if (!doc.is_map()) doc.fail("expected a map of keys (name, version, services, ...), found " + doc.kind());
  doc.warn_unknown({"name", "description", "version", "author", "dependencies", "services", "environments", "bus"}, warnings);

  Application app;
  app.root = root;
  app.file = file;
  app.name = doc.get("name").required_text();
  app.description = doc.get("description").text();
  app.version = doc.get("version").text();
  app.author = doc.get("author").text();

  std::set<std::string> dependency_types;
  for (const auto& item : doc.get("dependencies").items()) {
    if (!item.is_map()) item.fail("expected {type: exocom|nats, version: <version>}, found " + item.kind());
    item.warn_unknown({"type", "name", "version", "silent", "gateway"}, warnings);
    AppDependency dep;
    dep.where = item.where();
    auto type_node = item.has("name") ? item.get("name") : item.get("type");
    dep.type = type_node.required_text();
    if (dep.type != "exocom" && dep.type != "nats")
      type_node.fail("unsupported dependency '" + dep.type + "'; supported are 'exocom' and 'nats'");
    if (!dependency_types.insert(dep.type).second) type_node.fail("dependency '" + dep.type + "' is listed twice");
    dep.version = item.get("version").text("latest");
    dep.silent = item.get("silent").boolean().value_or(false);
    YamlNode gw = item.get("gateway");
    if (!gw.is_null()) {
      if (dep.type != "exocom") gw.fail("only the exocom dependency has a gateway");
      gw.expect_map();
      gw.warn_unknown({"role", "port", "origins", "sends", "receives"}, warnings);
      GatewayConfig g;
      g.role = gw.get("role").text("browser");
      if (!valid_role_name(g.role)) gw.get("role").fail("is not a valid role name");
      if (auto p = gw.get("port").integer()) {
        if (*p < 1 || *p > 65535) gw.get("port").fail("must be a port number between 1 and 65535");
        g.port = static_cast<int>(*p);
      }
      g.origins = gw.get("origins").text_list();
      g.sends = gw.get("sends").text_list();
      g.receives = gw.get("receives").text_list();
      dep.gateway = std::move(g);
    }
    app.dependencies.push_back(dep);
  }

  YamlNode services = doc.get("services");
  if (!doc.has("services")) doc.fail("needs a 'services' key with 'public' and/or 'private' roles");
  services.expect_map();
  std::set<std::string> seen;
  for (const auto& [level, roles] : services.entries()) {
    if (level != "public" && level != "private")
      roles.fail("unknown protection level; use 'public' or 'private'");
    roles.expect_map();
    for (const auto& [role, node] : roles.entries()) {
      ServiceRef ref = read_service_ref(role, level, node, warnings);
      if (!seen.insert(role).second) node.fail("role '" + role + "' is defined twice; each role may appear once");
      app.services.push_back(std::move(ref));
    }
  }
  // Public roles first, then private, as every command walks them.
  std::stable_sort(app.services.begin(), app.services.end(),
                   [](const ServiceRef& a, const ServiceRef& b) { return a.protection_level == "public" && b.protection_level != "public"; });
  if (const GatewayConfig* g = app.gateway(); g && seen.count(g->role))
    throw ConfigError(app.dependency("exocom")->where, "the gateway role '" + g->role + "' is also a service; give it another name");
  for (const auto& s : app.services)
    for (const auto& dep : s.depends_on)
      if (!seen.count(dep))
        throw ConfigError(s.where, "depends on '" + dep + "', which is not a role of this application");

  YamlNode envs = doc.get("environments");
  envs.expect_map();
  for (const auto& [name, env] : envs.entries()) {
    env.expect_map();
    env.warn_unknown({"domain", "providers", "secrets", "urls", "exocom", "alerts"}, warnings);
    Environment e;
    e.name = name;
    e.where = env.where();
    e.domain = env.get("domain").text();
    e.secrets = read_secret_names(env.get("secrets"));
    e.exocom = read_exocom(env.get("exocom"));
    YamlNode alerts = env.get("alerts");
    alerts.expect_map();
    alerts.warn_unknown({"email"}, warnings);
    e.alert_email = alerts.get("email").text();
    if (!e.alert_email.empty() && (e.alert_email.find('@') == std::string::npos || e.alert_email.find(' ') != std::string::npos))
      alerts.get("email").fail("'" + e.alert_email + "' is not an email address");
    YamlNode urls = env.get("urls");
    urls.expect_map();
    for (const auto& [role, url] : urls.entries()) {
      bool gateway = app.gateway() && app.gateway()->role == role;
      if (!app.find(role) && !gateway) url.fail("'" + role + "' is not a role of this application");
      e.urls[role] = url.required_text();
    }
    YamlNode providers = env.get("providers");
    providers.expect_map();
    providers.warn_unknown({"aws", "docker-hub"}, warnings);
    YamlNode aws = providers.get("aws");
    if (!aws.is_null()) {
      aws.expect_map();
      aws.warn_unknown({"region", "remote-state-store", "public-cluster-size", "private-cluster-size", "account-id",
                        "ssl-certificate-arn"},
                       warnings);
      e.aws = AwsProvider{aws.get("region").text(), aws.get("remote-state-store").text(),
                          aws.get("public-cluster-size").text(), aws.get("private-cluster-size").text(),
                          aws.get("account-id").text(), aws.get("ssl-certificate-arn").text(), aws.where(),
                          aws.get("remote-state-store").where()};
      const std::string& account = e.aws->account_id;
      if (!account.empty() && (account.size() != 12 || !std::all_of(account.begin(), account.end(), ::isdigit)))
        aws.get("account-id").fail("'" + account + "' is not an AWS account id (12 digits, quoted so YAML keeps leading zeros)");
    }
    YamlNode hub = providers.get("docker-hub");
    hub.expect_map();
    hub.warn_unknown({"namespace"}, warnings);
    e.dockerhub_namespace = hub.get("namespace").text();
    app.environments.push_back(std::move(e));
  }
  return app;
}

Application load_application(const std::filesystem::path& dir, Warnings& warnings) {
  std::filesystem::path file = dir / "application.yml";
  if (!path_exists(file))
    throw UserError(display_path(file) + ": not found; run this command in the root folder of an Exosphere application"
                    " (the folder that holds application.yml)");
  return parse_application(read_file(file), display_path(file), dir, warnings);
}

}  // namespace exo::config
