#include "runner/launch.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace exo::runner {

namespace {

using Kind = UnitSpec::Kind;

// Index among the services: services are spread over the nodes of an ExoCom cluster.
size_t service_index(const UnitSpec& u, const Placement& p) {
  size_t i = 0;
  for (const UnitSpec* x : p.units) {
    if (x == &u) return i;
    if (x->kind == Kind::service) ++i;
  }
  return 0;
}

// Every node, the one this service starts on first.
std::string exocom_hosts(const Placement& p, size_t first) {
  std::string out;
  for (size_t i = 0; i < p.buses.size(); ++i)
    out += (i ? "," : "") + fmt::format("127.0.0.1:{}", p.buses[(first + i) % p.buses.size()]->port);
  return out;
}

const UnitSpec* dependency_unit(const Placement& p, const std::string& name) {
  for (const UnitSpec* x : p.units)
    if (x->kind == Kind::dependency && x->role == name) return x;
  return nullptr;
}


void add_env(std::vector<std::string>& argv, const std::string& name, const std::string& value) {
  argv.insert(argv.end(), {"-e", name + "=" + value});
}

// The engine's own `stop` (and the engine killing a container at exo run's exit) waits the stop
// bound and its margin too, in whole seconds.
std::string engine_stop_timeout(const Placement& p) {
  auto ms = (p.stop_bound + kStopMargin).count();
  return std::to_string((ms + 999) / 1000);
}

// `<engine> run` of a container the caller described in full.
Launch described_container(const UnitSpec& u, const ContainerSpec& spec, const Placement& p) {
  const Containers& c = *p.containers;
  Launch l;
  l.argv = {c.engine.program, "run", "--rm", "--name", c.name(u.role), "--label", "exosphere.run=" + c.network,
            "--network-alias", u.role, "--stop-timeout", engine_stop_timeout(p)};
  if (c.engine.podman) l.argv.push_back("--no-healthcheck");
  for (const auto& n : spec.networks) l.argv.insert(l.argv.end(), {"--network", n});
  for (const auto& a : spec.aliases) l.argv.insert(l.argv.end(), {"--network-alias", a});
  for (const auto& [k, v] : spec.env)
    if (!spec.secrets.count(k)) add_env(l.argv, k, v);
  // A secret's value never goes on the command line: `-e NAME` makes the engine take it from its
  // own environment (as src/deploy passes passwords on stdin rather than in argv).
  for (const auto& [k, v] : spec.secrets) {
    l.argv.insert(l.argv.end(), {"-e", k});
    l.env[k] = v;
  }
  for (const auto& pub : spec.publish) l.argv.insert(l.argv.end(), {"-p", pub});
  for (const auto& v : spec.volumes) l.argv.insert(l.argv.end(), {"-v", v});
  l.argv.push_back(u.kind == Kind::exocom ? c.exocom_image : c.images.at(u.role));
  l.argv.insert(l.argv.end(), spec.args.begin(), spec.args.end());
  return l;
}

// `<engine> run` of the unit's image, attached: its output is the unit's, and the engine passes
// the SIGTERM of a stop on to the container.
Launch container(const UnitSpec& u, const Placement& p) {
  if (const ContainerSpec* spec = spec_of(p.containers, u.role)) return described_container(u, *spec, p);
  const Containers& c = *p.containers;
  Launch l;
  auto& argv = l.argv;
  argv = {c.engine.program, "run", "--rm", "--name", c.name(u.role), "--network", c.network,
          "--network-alias", u.role, "--label", "exosphere.run=" + c.network, "--stop-timeout", engine_stop_timeout(p)};
  // Podman without systemd cannot schedule health checks and says so on every start; readiness
  // comes from the unit's output here, as for local processes.
  if (c.engine.podman) argv.push_back("--no-healthcheck");
  for (const auto& [k, v] : unit_environment(u, p, Where::container)) add_env(argv, k, v);
  if (u.port && u.kind == Kind::service) argv.insert(argv.end(), {"-p", fmt::format("127.0.0.1:{}:{}", u.port, u.port)});
  if (u.kind == Kind::service) argv.insert(argv.end(), {"-v", c.name(u.role) + "-data:/data"});
  if (u.kind == Kind::exocom) {
    if (p.gateway_port) argv.insert(argv.end(), {"-p", fmt::format("127.0.0.1:{}:{}", p.gateway_port, p.gateway_port)});
    argv.push_back(c.exocom_image);
    argv.push_back("exocom");
    if (p.log_payloads) argv.push_back("--log-payloads");
    if (p.gateway && !spec_of(p.containers, "exocom")) {
      argv.insert(argv.end(), {"--gateway-port", std::to_string(p.gateway_port), "--gateway-role", p.gateway->role});
      for (const auto& o : p.gateway->origins) argv.insert(argv.end(), {"--gateway-origin", o});
    }
    return l;
  }
  auto image = c.images.find(u.role);
  if (image == c.images.end()) bug("a unit without an image in container mode", __FILE__, __LINE__);
  argv.push_back(image->second);
  return l;
}

}  // namespace

std::map<std::string, std::string> unit_environment(const UnitSpec& u, const Placement& p, Where where) {
  const bool inside = where == Where::container;
  std::map<std::string, std::string> env = inside ? std::map<std::string, std::string>{} : p.extra_env;
  if (u.kind == Kind::exocom) {
    env.insert(u.env.begin(), u.env.end());
    if (inside) env["PORT"] = "80";
    return env;
  }
  if (u.kind == Kind::dependency && inside) return u.env;  // an image of its own: as application.yml says
  if (u.service)
    for (const auto& [k, v] : u.service->environment) env[k] = v;
  for (const auto& [k, v] : u.env) env[k] = v;
  // Local: every node of a cluster, this service's first. In a container: ExoCom by its role.
  size_t first = u.kind == Kind::service ? service_index(u, p) % p.buses.size() : 0;
  env["EXOCOM_HOST"] = inside ? p.buses.front()->role : p.buses.size() == 1 ? "127.0.0.1" : exocom_hosts(p, first);
  env["EXOCOM_PORT"] = inside ? "80" : std::to_string(p.buses[first]->port);
  if (p.gateway_port) env["EXOCOM_GATEWAY_PORT"] = std::to_string(p.gateway_port);
  if (u.port) env["PORT"] = std::to_string(u.port);
  if (u.kind != Kind::service) return env;
  env["ROLE"] = u.role;
  // Where the service keeps its local data (its SQLite store, ...); `exo clean` removes it.
  env["EXOSPHERE_DATA_DIR"] = inside ? "/data" : (p.data_root / u.role).string();
  if (p.stop_timeout) env[kStopTimeoutVariable] = *p.stop_timeout;
  for (const auto& d : u.service->dependencies)
    if (const UnitSpec* n = dependency_unit(p, d.name)) {
      env[env_name(n->role)] = inside ? n->role : "127.0.0.1";
      if (!inside) env[env_name(n->role) + "_PORT"] = std::to_string(n->port);
    }
  for (const UnitSpec* other : p.units)
    if (other->kind == Kind::service && other->port)
      env[env_name(other->role) + "_INTERNAL_ORIGIN"] =
          fmt::format("http://{}:{}", inside ? other->role : "127.0.0.1", other->port);
  return env;
}

std::string exocom_command(const UnitSpec& bus, const Placement& p) {
  std::string command = shell_quote(p.exocom_binary.string()) + fmt::format(" --host 127.0.0.1 --port {}", bus.port);
  if (p.log_payloads) command += " --log-payloads";
  if (p.gateway && !p.buses.empty() && &bus == p.buses.front()) {
    command += fmt::format(" --gateway-port {} --gateway-role {}", p.gateway_port, shell_quote(p.gateway->role));
    for (const auto& o : p.gateway->origins) command += " --gateway-origin " + shell_quote(o);
  }
  if (p.nats)
    command += fmt::format(" --cluster nats://127.0.0.1:{} --node-name {} --cluster-name {}", p.nats->port, bus.role,
                           shell_quote(p.cluster_name));
  return command;
}

Launch launch(const UnitSpec& u, const Placement& p) {
  if (p.containers) return container(u, p);
  Launch l;
  l.argv = shell(u.kind == Kind::exocom ? exocom_command(u, p) : u.command);
  l.env = unit_environment(u, p, Where::local);
  return l;
}

}  // namespace exo::runner
