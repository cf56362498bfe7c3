#include "runner/unit_graph.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/text.hpp"
#include "config/routes.hpp"

namespace exo::runner {

namespace {

// Throws UserError naming the circle when units need each other.
void check_cycles(const UnitGraph& graph) {
  std::vector<int> mark(graph.units.size(), 0);  // 1: on the path being followed, 2: done
  std::vector<std::string> path;
  std::function<void(size_t)> visit = [&](size_t u) {
    if (mark[u] == 2) return;
    path.push_back(graph.units[u].role);
    if (mark[u] == 1) throw UserError("services depend on each other in a circle: " + join(path, " → "));
    mark[u] = 1;
    for (size_t n : graph.needs[u]) visit(n);
    mark[u] = 2;
    path.pop_back();
  };
  for (size_t u = 0; u < graph.units.size(); ++u) visit(u);
}

// One build: dependencies are looked up in the units built so far, so each is one unit.
class Builder {
 public:
  Builder(const config::Application& app, const std::map<std::string, config::Service>& services,
          const RunOptions& options, const Host& host)
      : app_(app), services_(services), options_(options), host_(host) {}

  UnitGraph build() {
    if (const config::GatewayConfig* g = app_.gateway(); g && !container_spec("exocom")) {
      g_.gateway_port = static_cast<uint16_t>(options_.gateway_port >= 0 ? options_.gateway_port : g->port);
      if (options_.containers && g_.gateway_port == 0) g_.gateway_port = host_.free_port();  // published: known first
      if (g_.gateway_port && host_.port_in_use(g_.gateway_port))
        throw UserError(fmt::format("the gateway port {} is already in use; stop what uses it or change it in application.yml",
                                    g_.gateway_port));
    }
    std::string service_data = config::to_service_data(config::compile_routes(app_, services_));
    // With --bus-nodes N: nats-server with JetStream, then N ExoCom nodes joined through it.
    std::optional<size_t> nats;
    if (options_.bus_nodes > 0) nats = nats_unit();
    int buses = std::max(options_.bus_nodes, 1);
    for (int i = 0; i < buses; ++i) {
      UnitSpec exocom;
      exocom.role = options_.bus_nodes > 0 ? fmt::format("exocom-{}", i + 1) : "exocom";
      exocom.kind = UnitSpec::Kind::exocom;
      exocom.online_text = "ExoCom online at port ";
      exocom.timeout = std::chrono::seconds(10);
      exocom.env["SERVICE_DATA"] = service_data;
      if (options_.dashboard_port && !options_.containers) exocom.env["EXOCOM_OBSERVE_TOKEN"] = host_.observe_token;
      exocom.dir = app_.root;
      g_.buses.push_back(add(std::move(exocom)));
      if (nats) g_.needs.back().push_back(*nats);
    }

    std::set<uint16_t> taken;
    for (const auto& ref : app_.services) {
      if (ref.location.empty())
        throw UserError("'" + ref.role + "' runs the Docker image " + ref.docker_image +
                        (options_.containers ? "; exo run --docker runs services from their folders only (an image's own service.yml is not read yet)"
                                             : "; exo run starts local processes only, so run this application with 'exo run --docker'"));
      const config::Service& s = services_.at(ref.role);
      if (s.startup.command.empty() && !options_.containers)
        throw UserError(s.file + ": startup.command is missing; exo run needs it to start '" + ref.role + "'");
      UnitSpec u;
      u.role = ref.role;
      u.service = &s;
      u.dir = s.dir;
      u.command = s.startup.command;
      u.online_text = s.startup.online_text;
      u.health = s.startup.health_check;
      u.timeout = std::chrono::seconds(s.startup.timeout_seconds);
      if (const ContainerSpec* spec = container_spec(ref.role); spec && !spec->probe_path.empty()) {
        u.online_text.clear();
        u.health = config::HealthCheck{spec->probe_path, false};
      }
      // A container described in full publishes nothing of its own: its port is the container's.
      u.port = container_spec(ref.role)      ? static_cast<uint16_t>(s.port)
               : options_.ports.count(ref.role) ? options_.ports.at(ref.role)
                                                : service_port(s, ref.role);
      if (options_.ports.count(ref.role) && host_.port_in_use(u.port))
        throw UserError(fmt::format("port {} (--port {}={}) is already in use", u.port, ref.role, u.port));
      if (u.port && !container_spec(ref.role) && !taken.insert(u.port).second)
        throw UserError(fmt::format("port {} is given to two services; change one of them in its service.yml", u.port));
      std::vector<size_t> needs = g_.buses;
      for (const auto& d : s.dependencies) needs.push_back(dependency(d, ref.role));
      add(std::move(u));
      g_.needs.back() = std::move(needs);
    }
    for (size_t i = 0; i < g_.units.size(); ++i)
      if (g_.units[i].kind == UnitSpec::Kind::service)
        for (const auto& dep_role : app_.find(g_.units[i].role)->depends_on) g_.needs[i].push_back(find(dep_role));
    check_cycles(g_);
    return std::move(g_);
  }

 private:
  size_t add(UnitSpec u) {
    g_.units.push_back(std::move(u));
    g_.needs.emplace_back();
    return g_.units.size() - 1;
  }

  // nats-server with JetStream, its data in the application's data folder.
  size_t nats_unit() {
    std::string binary = host_.find_program("nats-server");
    if (binary.empty())
      throw UserError("--bus-nodes needs nats-server on PATH (Debian: apt install nats-server); run without --bus-nodes for one ExoCom");
    UnitSpec u;
    u.role = "nats";
    u.kind = UnitSpec::Kind::nats;
    u.port = host_.free_port();
    u.command = fmt::format("{} -a 127.0.0.1 -p {} -js -sd {}", shell_quote(binary), u.port,
                            shell_quote((host_.data_root / "nats").string()));
    u.online_text = "Server is ready";
    u.timeout = std::chrono::seconds(20);
    u.dir = app_.root;
    g_.nats = add(std::move(u));
    return *g_.nats;
  }

  uint16_t service_port(const config::Service& s, const std::string& role) {
    uint16_t port = static_cast<uint16_t>(s.port);
    for (const auto& mapping : s.docker_ports) {
      auto host = split(mapping, ':').front();
      try {
        port = static_cast<uint16_t>(std::stoi(host));
      } catch (const std::exception&) {
        throw UserError(s.file + ": docker.ports '" + mapping + "' is not <host port>:<container port>");
      }
      break;
    }
    if (port == 0) return host_.free_port();
    if (host_.port_in_use(port))
      throw UserError(fmt::format("port {} of '{}' is already in use; stop what uses it or change the port in {}", port,
                                  role, s.file));
    return port;
  }

  // One unit per dependency, however many services name it.
  size_t dependency(const config::ServiceDependency& d, const std::string& role) {
    for (size_t i = 0; i < g_.units.size(); ++i)
      if (g_.units[i].kind == UnitSpec::Kind::dependency && g_.units[i].role == d.name) return i;
    if (d.command.empty() && !options_.containers)
      throw UserError("dependency '" + d.name + "' of '" + role + "' is the Docker image " + d.image +
                      (d.version.empty() ? "" : ":" + d.version) +
                      "; give it a 'command' to run it locally, or use 'exo run --docker'");
    UnitSpec u;
    u.role = d.name;
    u.kind = UnitSpec::Kind::dependency;
    u.command = d.command;
    u.online_text = d.online_text;
    u.env = d.environment;
    u.dir = app_.root;
    u.port = host_.free_port();
    return add(std::move(u));
  }

  size_t find(const std::string& role) const {
    for (size_t i = 0; i < g_.units.size(); ++i)
      if (g_.units[i].role == role && g_.units[i].kind == UnitSpec::Kind::service) return i;
    bug("unknown role after validation", __FILE__, __LINE__);
  }

  const ContainerSpec* container_spec(const std::string& role) const {
    return spec_of(options_.containers ? &*options_.containers : nullptr, role);
  }

  const config::Application& app_;
  const std::map<std::string, config::Service>& services_;
  const RunOptions& options_;
  const Host& host_;
  UnitGraph g_;
};

}  // namespace

UnitGraph build_graph(const config::Application& app, const std::map<std::string, config::Service>& services,
                      const RunOptions& options, const Host& host) {
  return Builder(app, services, options, host).build();
}

}  // namespace exo::runner
