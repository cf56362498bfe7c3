#include <filesystem>

#include "cli/command.hpp"
#include "cli/container_session.hpp"
#include "cli/options.hpp"
#include "cli/workspace.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/text.hpp"
#include "deploy/compose.hpp"
#include "runner/ports.hpp"
#include "runner/runner.hpp"

namespace exo::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHelp = R"(Usage: exo run [--only <roles>] [--no-watch] [--port <role>=<port>] [--gateway-port <port>] [--data-dir <dir>] [--bus-nodes <n>] [--docker] [--dashboard-port <port>] [--no-dashboard] [--log-payloads]

Runs an Exosphere application: ExoCom with the application's routes, then each service's
dependencies, then the services, each once what it depends on is ready. Every line they print
appears under its role. A service restarts when its files change (after running its setup again
when its build inputs changed). Ctrl-C stops everything. Once everything is online it prints the
address of the dashboard: the services, their logs and the messages between them, live.

Options:
  --only <roles>   show only these roles' output (comma-separated)
  --no-watch       do not restart services when their files change
  --port <role>=<port>
                   run a service on another port than its service.yml says (repeatable)
  --gateway-port <port>
                   the port of ExoCom's gateway for browsers (0: any free port)
  --data-dir <dir> keep the services' data there instead of .exosphere/data
  --bus-nodes <n>  run ExoCom as a cluster of n nodes joined through nats-server (with JetStream,
                   its data in the data folder), the services spread over them
  --docker         run every service, its dependencies and ExoCom in containers (Docker, or Podman
                   when no Docker daemon answers) built from the services' Dockerfiles; public
                   services and the gateway are published on 127.0.0.1; no restart on change
  --dashboard-port <port>
                   serve the dashboard on this port of 127.0.0.1 (default 7600, else a free one);
                   its address carries a token, and only this machine can open it
  --no-dashboard   no dashboard
  --log-payloads   ExoCom prints each delivered message's payload under its trace line, and the
                   dashboard shows it in the trace

This command must be run in the root directory of the application.
)";

constexpr uint16_t kDefaultDashboardPort = 7600;

int run_run(const Args& args) {
  std::vector<std::string> only, ports;
  bool no_watch = false, docker = false, no_dashboard = false, log_payloads = false;
  std::string gateway_port, data_dir, bus_nodes, dashboard_port;
  Options("run")
      .list("--only", &only, "roles to show")
      .flag("--no-watch", &no_watch, "do not restart on change")
      .flag("--docker", &docker, "run in containers")
      .list("--port", &ports, "role=port")
      .option("--gateway-port", &gateway_port, "gateway port")
      .option("--data-dir", &data_dir, "data folder")
      .option("--bus-nodes", &bus_nodes, "ExoCom nodes")
      .option("--dashboard-port", &dashboard_port, "dashboard port")
      .flag("--no-dashboard", &no_dashboard, "no dashboard")
      .flag("--log-payloads", &log_payloads, "log payloads")
      .parse(args);
  Workspace ws = load_workspace(std::filesystem::current_path());
  int nodes = 0;
  if (!bus_nodes.empty()) {
    try {
      size_t used = 0;
      nodes = std::stoi(bus_nodes, &used);
      if (used != bus_nodes.size()) nodes = 0;
    } catch (const std::exception&) {
    }
    if (nodes < 1 || nodes > 9) throw UserError("--bus-nodes: '" + bus_nodes + "' is not a number of ExoCom nodes from 1 to 9");
  }
  for (const auto& role : only)
    if (!ws.app.find(role) && role != "exocom" && !(nodes && (role == "nats" || role.rfind("exocom-", 0) == 0)))
      throw UserError("--only: '" + role + "' is not a role of this application");
  auto toolchain = runner::find_toolchain();
  runner::RunOptions options;
  options.only = only;
  options.watch = !no_watch && !docker;
  if (docker) {
    if (nodes) throw UserError("--bus-nodes and --docker do not go together yet; run the cluster with local processes");
  } else if (toolchain.exocom.empty()) {
    throw UserError("cannot find the exocom program next to exo or on PATH; build it (make) or set EXOCOM_BINARY");
  }
  options.exocom_binary = toolchain.exocom;
  options.extra_env = toolchain.env();
  auto port_number = [](const std::string& text, const std::string& what) {
    try {
      size_t used = 0;
      int v = std::stoi(text, &used);
      if (used == text.size() && v >= 0 && v <= 65535) return v;
    } catch (const std::exception&) {
    }
    throw UserError(what + ": '" + text + "' is not a port number");
  };
  for (const auto& p : ports) {
    auto eq = p.find('=');
    if (eq == std::string::npos) throw UserError("--port: expected <role>=<port>, not '" + p + "'");
    std::string role = p.substr(0, eq);
    if (!ws.app.find(role)) throw UserError("--port: '" + role + "' is not a role of this application");
    int port = port_number(p.substr(eq + 1), "--port " + role);
    if (port == 0) throw UserError("--port " + role + ": give a port between 1 and 65535");
    options.ports[role] = static_cast<uint16_t>(port);
  }
  if (!gateway_port.empty()) {
    if (!ws.app.gateway()) throw UserError("--gateway-port: this application has no gateway (see dependencies in application.yml)");
    options.gateway_port = port_number(gateway_port, "--gateway-port");
  }
  if (!data_dir.empty()) options.data_dir = std::filesystem::absolute(data_dir);
  if (no_dashboard && !dashboard_port.empty()) throw UserError("--dashboard-port and --no-dashboard exclude each other");
  if (!dashboard_port.empty()) options.dashboard_port = static_cast<uint16_t>(port_number(dashboard_port, "--dashboard-port"));
  else if (!no_dashboard) options.dashboard_port = runner::port_open(kDefaultDashboardPort) ? 0 : kDefaultDashboardPort;
  options.bus_nodes = nodes;
  options.log_payloads = log_payloads;
  std::vector<std::string> roles = ws.app.roles();
  roles.insert(roles.end(), {std::string(runner::kRunRole), "exocom"});
  if (nodes) roles.push_back("nats");
  for (int i = 1; i <= nodes; ++i) roles.push_back("exocom-" + std::to_string(i));
  Logger log(roles);
  if (!docker) return runner::run(ws.app, ws.services, options, log);
  std::string network = deploy::project_name(ws.app.name.empty() ? "exosphere" : ws.app.name);
  ContainerSession session(network, {network}, toolchain, log);
  runner::Containers& c = session.containers();
  for (const auto& ref : ws.app.services) {
    auto s = ws.services.find(ref.role);
    if (s == ws.services.end()) continue;  // the supervisor says what is wrong with it
    std::string image = "exo-run/" + c.network + "-" + ref.role + ":latest";
    session.build(ref.role, image, s->second.dir);
    c.images[ref.role] = image;
    for (const auto& d : s->second.dependencies)
      if (!d.image.empty()) c.images[d.name] = d.image + (d.version.empty() ? "" : ":" + d.version);
  }
  session.create_networks();
  options.containers = c;
  return runner::run(ws.app, ws.services, options, log);
}

}  // namespace

Command run_command() { return {"run", "Run an application locally", kHelp, run_run}; }

}  // namespace exo::cli
