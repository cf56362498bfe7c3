#include "config/service.hpp"

#include <algorithm>
#include <cctype>

#include "common/files.hpp"
#include "config/yaml_reader.hpp"

namespace exo::config {

namespace {

std::map<std::string, std::string> read_environment(const YamlNode& node) {
  std::map<std::string, std::string> out;
  node.expect_map();
  for (const auto& [k, v] : node.entries()) out[k] = v.text();
  return out;
}

Scale read_scale(const YamlNode& node, Warnings& warnings) {
  Scale scale;
  if (node.is_null()) return scale;
  node.expect_map();
  node.warn_unknown({"min", "max", "cpu", "memory", "requests-per-target"}, warnings);
  auto whole = [&](const char* key, long high, const char* unit) -> int {
    YamlNode n = node.get(key);
    auto v = n.integer();
    if (!v) return 0;
    if (*v < 1 || *v > high) n.fail("must be from 1 to " + std::to_string(high) + " " + unit);
    return static_cast<int>(*v);
  };
  if (int min = whole("min", 100, "tasks")) scale.min = min;
  int max = whole("max", 100, "tasks");
  if (max && max < scale.min) node.get("max").fail("must be at least min (" + std::to_string(scale.min) + ")");
  scale.max = std::max(scale.min, max);
  scale.cpu = whole("cpu", 100, "percent (the average CPU use to keep)");
  scale.memory = whole("memory", 100, "percent (the average memory use to keep)");
  scale.requests_per_target = whole("requests-per-target", 1000000, "requests a minute per task");
  if (scale.scales() && !scale.cpu && !scale.memory && !scale.requests_per_target)
    node.fail("scales from " + std::to_string(scale.min) + " to " + std::to_string(scale.max) +
              " tasks on nothing; give cpu, memory or requests-per-target");
  return scale;
}

HealthCheck read_health_check(const YamlNode& node, Warnings& warnings) {
  HealthCheck hc;
  if (node.is_null()) return hc;
  node.expect_map();
  node.warn_unknown({"http", "tcp"}, warnings);
  hc.http_path = node.get("http").text();
  if (!hc.http_path.empty() && hc.http_path[0] != '/') node.get("http").fail("must be a path starting with '/', like /status");
  hc.tcp = node.get("tcp").boolean().value_or(false);
  return hc;
}

int read_port(const YamlNode& node) {
  auto v = node.integer();
  if (v && (*v < 1 || *v > 65535)) node.fail("must be a port number between 1 and 65535");
  return static_cast<int>(v.value_or(0));
}

}  // namespace

bool valid_secret_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::vector<std::string> read_secret_names(const YamlNode& node) {
  std::vector<std::string> names;
  std::vector<YamlNode> items = node.is_scalar() ? std::vector<YamlNode>{node} : node.items();
  for (const auto& item : items) {
    std::string name = item.text();
    if (!valid_secret_name(name))
      item.fail("'" + name + "' is not a valid secret name; use letters, digits and '_', like DATABASE_URL");
    names.push_back(name);
  }
  return names;
}

Service parse_service(const std::string& text, const std::string& file, const std::filesystem::path& dir,
                      Warnings& warnings) {
  YamlNode doc = YamlNode::parse(text, file);
  if (!doc.is_null() && !doc.is_map()) doc.fail("expected a map of keys (type, startup, messages, ...), found " + doc.kind());
  doc.warn_unknown({"type", "name", "title", "description", "author", "setup", "tests", "startup", "messages",
                    "dependencies", "docker", "restart", "production", "environment", "port"},
                   warnings);
  Service s;
  s.dir = dir;
  s.file = file;
  s.type = doc.get("type").text();
  s.name = doc.get("name").text(doc.get("title").text());
  s.description = doc.get("description").text();
  s.author = doc.get("author").text();
  s.setup = doc.get("setup").text();
  s.tests = doc.get("tests").text();
  s.port = read_port(doc.get("port"));
  s.environment = read_environment(doc.get("environment"));

  YamlNode startup = doc.get("startup");
  startup.expect_map();
  startup.warn_unknown({"command", "online-text", "health-check", "timeout"}, warnings);
  s.startup.command = startup.get("command").text();
  s.startup.online_text = startup.get("online-text").text();
  s.startup.health_check = read_health_check(startup.get("health-check"), warnings);
  if (auto t = startup.get("timeout").integer()) {
    if (*t <= 0) startup.get("timeout").fail("must be a positive number of seconds");
    s.startup.timeout_seconds = static_cast<int>(*t);
  }

  YamlNode messages = doc.get("messages");
  messages.expect_map();
  messages.warn_unknown({"sends", "receives", "namespace"}, warnings);
  s.sends = messages.get("sends").text_list();
  s.receives = messages.get("receives").text_list();
  s.messages_namespace = messages.get("namespace").text();
  for (const auto* list : {&s.sends, &s.receives})
    for (const auto& name : *list)
      if (name.empty()) messages.fail("message names must not be empty");

  YamlNode deps = doc.get("dependencies");
  deps.expect_map();
  for (const auto& [name, node] : deps.entries()) {
    node.expect_map();
    node.warn_unknown({"dev", "production"}, warnings);
    YamlNode dev = node.get("dev");
    dev.expect_map();
    dev.warn_unknown({"image", "version", "command", "online-text", "ports", "volumes", "environment"}, warnings);
    ServiceDependency d;
    d.name = name;
    d.where = node.where();
    d.image = dev.get("image").text();
    d.version = dev.get("version").text();
    d.command = dev.get("command").text();
    d.online_text = dev.get("online-text").text();
    d.ports = dev.get("ports").text_list();
    d.volumes = dev.get("volumes").text_list();
    d.environment = read_environment(dev.get("environment"));
    s.dependencies.push_back(std::move(d));
  }

  YamlNode docker = doc.get("docker");
  docker.expect_map();
  docker.warn_unknown({"ports", "publish", "link", "volumes"}, warnings);
  s.docker_ports = docker.get("ports").text_list();
  if (s.docker_ports.empty()) s.docker_ports = docker.get("publish").text_list();

  YamlNode restart = doc.get("restart");
  if (restart.is_scalar()) {
    std::string policy = restart.text();
    if (policy != "on-failure" && policy != "no") restart.fail("expected 'on-failure' or 'no', found '" + policy + "'");
    s.restart.on_failure = policy == "on-failure";
  } else {
    restart.expect_map();
    restart.warn_unknown({"ignore", "setup-on", "on-failure", "max-restarts"}, warnings);
    s.restart.ignore = restart.get("ignore").text_list();
    s.restart.setup_on = restart.get("setup-on").text_list();
    s.restart.on_failure = restart.get("on-failure").boolean().value_or(false);
    if (auto m = restart.get("max-restarts").integer()) s.restart.max_restarts = static_cast<int>(*m);
  }

  YamlNode production = doc.get("production");
  production.expect_map();
  production.warn_unknown({"url", "aws", "health-check", "port", "secrets", "scale"}, warnings);
  s.production.where = production.where();
  s.production.url = production.get("url").text();
  s.production.health_check = production.get("health-check").text();
  if (!s.production.health_check.empty() && s.production.health_check[0] != '/')
    production.get("health-check").fail("must be a path starting with '/', like /status");
  s.production.secrets = read_secret_names(production.get("secrets"));
  YamlNode aws = production.get("aws");
  aws.expect_map();
  aws.warn_unknown({"public-port", "cpu", "memory"}, warnings);
  s.production.public_port = read_port(aws.get("public-port"));
  if (!s.production.public_port) s.production.public_port = read_port(production.get("port"));
  s.production.cpu = static_cast<int>(aws.get("cpu").integer().value_or(0));
  s.production.memory = static_cast<int>(aws.get("memory").integer().value_or(0));
  s.production.scale = read_scale(production.get("scale"), warnings);
  return s;
}

Service load_service(const std::filesystem::path& dir, Warnings& warnings) {
  std::filesystem::path file = dir / "service.yml";
  if (!path_exists(file)) throw UserError(display_path(file) + ": not found");
  return parse_service(read_file(file), display_path(file), dir, warnings);
}

std::filesystem::path service_dir(const Application& app, const ServiceRef& ref) {
  return (app.root / ref.location).lexically_normal();
}

Service load_service(const Application& app, const ServiceRef& ref, Warnings& warnings) {
  if (ref.location.empty())
    throw ConfigError(ref.where, "runs the image '" + ref.docker_image + "'; its service.yml is inside the image");
  auto dir = service_dir(app, ref);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw ConfigError(ref.where, "location '" + ref.location + "' is not a folder (" + display_path(dir) + ")");
  if (!path_exists(dir / "service.yml"))
    throw ConfigError(ref.where, "location '" + ref.location + "' has no service.yml (" +
                                     display_path(dir / "service.yml") + ")");
  return load_service(dir, warnings);
}

}  // namespace exo::config
