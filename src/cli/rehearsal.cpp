#include "cli/rehearsal.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "cli/container_session.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "deploy/target.hpp"
#include "runner/ports.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kProxyRole = "load-balancer";
constexpr int kProxyContainerPort = 8080;
constexpr uint16_t kDefaultPort = 8080;
constexpr int kExocomPort = 80;  // the exocom module's default port

// `NAME=value` lines (blank lines and # comments aside): the values SSM Parameter Store holds in AWS.
std::map<std::string, std::string> read_secrets(const fs::path& file, const std::vector<std::string>& needed) {
  std::map<std::string, std::string> values;
  if (needed.empty()) return values;
  auto text = try_read_file(file);
  std::string how = "write NAME=value lines to " + display_path(file) + " (or name another file with --secrets)";
  if (!text) throw UserError("the services need the secrets " + join(needed, ", ") + "; " + how);
  int number = 0;
  for (const auto& raw : split_lines(*text)) {
    ++number;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos || trim(line.substr(0, eq)).empty())
      throw UserError(fmt::format("{}:{}: expected NAME=value", display_path(file), number));
    values[std::string(trim(line.substr(0, eq)))] = std::string(line.substr(eq + 1));
  }
  std::vector<std::string> missing;
  for (const auto& n : needed)
    if (!values.count(n)) missing.push_back(n);
  if (!missing.empty()) throw UserError(display_path(file) + " lacks the secrets " + join(missing, ", ") + "; " + how);
  return values;
}

// One server block per public host name: the listener rule of that URL's load balancer.
std::string site(const std::string& comment, const std::string& host, const std::string& upstream, int idle_seconds) {
  return fmt::format(R"(# {}
server {{
  listen {};
  server_name {};
  location / {{
    set $target http://{};
    proxy_pass $target;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto http;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_read_timeout {}s;
  }}
}}
)",
                     comment, kProxyContainerPort, host, upstream, idle_seconds);
}

}  // namespace

int rehearse_deployment(const Workspace& ws, const RehearsalOptions& options) {
  auto target = deploy::deploy_target(ws.app, ws.services);
  if (target.environments.empty())
    throw UserError("application.yml has no environments; add environments.production with a domain and "
                    "providers.aws.region (see docs/deploy.md)");
  const auto& env = target.environment(config::choose_environment(ws.app, options.environment).name);
  fs::path secrets_file = options.secrets_file.empty() ? ws.app.root / ".exosphere" / "secrets" / (env.name + ".env")
                                                       : fs::absolute(options.secrets_file);
  std::vector<std::string> needed;
  for (const auto& s : target.services)
    for (const auto& n : env.secrets_for(s))
      if (std::find(needed.begin(), needed.end(), n) == needed.end()) needed.push_back(n);
  auto secrets = read_secrets(secrets_file, needed);
  // Local data, the proxy's rules and the secrets stay out of git (an application's own templates
  // in .exosphere/templates do not).
  if (!path_exists(ws.app.root / ".exosphere" / ".gitignore"))
    write_file(ws.app.root / ".exosphere" / ".gitignore", "data/\nrehearsal/\nsecrets/\n");

  uint16_t port = kDefaultPort;
  if (options.port > 0) {
    port = static_cast<uint16_t>(options.port);
    if (runner::port_open(port)) throw UserError(fmt::format("--port {}: the port is in use; pick another one", port));
  } else if (options.port == 0 || runner::port_open(port)) {
    port = runner::free_port();
  }
  auto local_host = [&](const std::string& role) { return env.urls.at(role) + ".localhost"; };
  deploy::Places places;
  places.origin = [&](const std::string& role) { return fmt::format("http://{}:{}", local_host(role), port); };
  places.socket_url = [&](const std::string& role) { return fmt::format("ws://{}:{}/", local_host(role), port); };
  places.exocom_host = deploy::exocom_host(env);
  places.exocom_port = std::to_string(kExocomPort);
  places.literal = [](std::string_view text) { return std::string(text); };

  std::vector<std::string> roles = ws.app.roles();
  roles.insert(roles.end(), {std::string(runner::kRunRole), "exocom", std::string(kProxyRole)});
  Logger log(roles);
  std::string public_net = env.name_prefix + "-public", private_net = env.name_prefix + "-private";
  auto toolchain = runner::find_toolchain();
  ContainerSession session(env.name_prefix, {public_net, private_net}, toolchain, log);
  runner::Containers& c = session.containers();
  if (env.exocom_nodes > 1)
    log.log(runner::kRunRole, fmt::format("{} runs {} ExoCom nodes; the rehearsal runs one", env.name, env.exocom_nodes));

  // The services as ECS runs them: their environment and secrets, public ones on both networks.
  auto services = ws.services;
  fs::path sites = ws.app.root / ".exosphere" / "rehearsal" / env.name / "sites";
  std::error_code ec;
  fs::remove_all(sites, ec);
  fs::create_directories(sites);
  for (const auto& s : target.services) {
    std::string image = "exo-rehearse/" + target.app_slug + "-" + s.slug + ":latest";
    session.build(s.role, image, s.dir);
    c.images[s.role] = image;
    runner::ContainerSpec spec;
    spec.networks = s.is_public ? std::vector<std::string>{public_net, private_net} : std::vector<std::string>{private_net};
    spec.env = deploy::task_environment(target, s, places);
    // By name only on podman's command line: the values stay out of every process's argv (`ps`).
    for (const auto& n : env.secrets_for(s)) spec.secrets[n] = secrets.at(n);
    config::Service& service = services.at(s.role);
    service.restart.on_failure = true;  // ECS replaces a task that stops
    if (s.is_public) {
      std::string host = local_host(s.role);
      write_file(sites / (s.slug + ".conf"),
                 site(fmt::format("{}: https://{} in AWS; forwards to port {}, health check {}", s.role, env.urls.at(s.role),
                                  s.port, s.health_check),
                      host, fmt::format("{}:{}", s.role, s.port), 60));
      spec.probe_port = port;
      spec.probe_host = host;
      spec.probe_path = s.health_check;
      spec.url = places.origin(s.role) + "/";
      config::ServiceDependency balancer;  // what the supervisor starts before the public services
      balancer.name = kProxyRole;
      balancer.image = "exosphere/proxy";
      balancer.version = image_version();
      service.dependencies.push_back(std::move(balancer));
    }
    c.specs[s.role] = std::move(spec);
  }

  // ExoCom under the name the services get in AWS, its gateway behind the proxy.
  runner::ContainerSpec exocom;
  exocom.networks = {private_net};
  exocom.aliases = {places.exocom_host};
  exocom.env = {{"PORT", std::to_string(kExocomPort)}, {"SERVICE_DATA", target.service_data}};
  exocom.args = {"exocom"};
  if (target.gateway) {
    exocom.networks.push_back(public_net);
    exocom.args.insert(exocom.args.end(), {"--gateway-port", std::to_string(target.gateway->port), "--gateway-role",
                                           target.gateway->role});
    for (const auto& origin : deploy::gateway_origins(target, places)) exocom.args.insert(exocom.args.end(), {"--gateway-origin", origin});
    write_file(sites / "exocom-gateway.conf",
               site(fmt::format("ExoCom's gateway: wss://{}/ in AWS", env.urls.at(target.gateway->role)),
                    local_host(target.gateway->role), fmt::format("exocom:{}", target.gateway->port), 3600));
    exocom.url = places.socket_url(target.gateway->role);
  }
  c.specs["exocom"] = std::move(exocom);

  runner::ContainerSpec proxy;
  proxy.networks = {public_net};
  proxy.publish = {fmt::format("127.0.0.1:{}:{}", port, kProxyContainerPort)};
  proxy.volumes = {fs::absolute(sites).string() + ":/etc/exosphere/sites:ro"};
  c.specs[std::string(kProxyRole)] = std::move(proxy);
  c.images[std::string(kProxyRole)] = "exosphere/proxy:" + image_version();
  session.create_networks();

  runner::RunOptions run;
  run.watch = false;
  run.containers = c;
  return runner::run(ws.app, services, run, log);
}

}  // namespace exo::cli
