// `exo run`: one thread, one event loop. Every child's output, its exit, file changes, timers and
// signals are events; nothing blocks the loop for long.
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "runner/dashboard.hpp"
#include "runner/ports.hpp"
#include "runner/probe.hpp"
#include "runner/runner.hpp"
#include "runner/watcher.hpp"

namespace exo::runner {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using error_code = boost::system::error_code;

namespace {

constexpr std::string_view kRun = "exo-run";
constexpr int kExocomMaxRestarts = 5;
using Clock = std::chrono::steady_clock;

// A running child: its process group, and its merged output turned into lines.
struct Child {
  Process process;
  std::unique_ptr<asio::posix::stream_descriptor> output;
  std::string partial;
  std::function<void(const std::string&)> on_line;
  std::function<void(int)> on_exit;
  bool exited = false;
};

struct Unit {
  enum class Kind { exocom, nats, dependency, service };
  enum class State { waiting, starting, ready, stopping, stopped };
  std::string role;
  Kind kind = Kind::service;
  const config::Service* service = nullptr;
  fs::path dir;
  std::string command;
  std::map<std::string, std::string> env;
  std::string online_text;
  config::HealthCheck health;
  std::chrono::seconds timeout{60};
  uint16_t port = 0;
  std::vector<Unit*> needs;
  State state = State::waiting;
  std::shared_ptr<Child> child;
  std::unique_ptr<asio::steady_timer> timer;
  bool ever_ready = false;
  bool restarting = false;           // stopped on purpose, to start again
  std::optional<fs::path> pending_change;  // a change seen while restarting
  std::unique_ptr<asio::steady_timer> debounce;
  fs::path changed_path;
  bool setup_needed = false;
  int crashes = 0;  // in a row: a service that stays up 10 s starts counting again
  int restarts = 0;  // starts after the first, for the dashboard
  bool started_once = false;
  bool crashed = false;       // exited on its own; cleared when it starts again
  bool user_stopped = false;  // stopped from the dashboard: stays stopped
  Clock::time_point ready_since;
  std::shared_ptr<Child> setup_job;
  // Paths changed within the debounce window, with their first and last event.
  std::map<fs::path, std::pair<std::string, std::string>> changes;
};

class Supervisor {
 public:
  Supervisor(const config::Application& app, const std::map<std::string, config::Service>& services,
             const RunOptions& options, Logger& log)
      : app_(app), services_(services), options_(options), log_(log) {}

  Supervisor(const Supervisor&) = delete;
  ~Supervisor() { log_.set_tap({}); }

  int run() {
    {
      PortReservation ports;  // every port picked while building the units is different
      reservation_ = &ports;
      build_units();
      reservation_ = nullptr;
    }
    signals_.add(SIGPIPE);
    if (options_.dashboard_port) open_dashboard(*options_.dashboard_port);
    signals_.async_wait([this](const error_code& ec, int) {
      if (!ec) shutdown(0);
    });
    watch_children();
    if (options_.watch) start_watching();
    start_what_can_start();
    io_.run();
    return exit_code_;
  }

 private:
  // --- setting up --------------------------------------------------------------------------------

  void build_units() {
    if (const config::GatewayConfig* g = app_.gateway(); g && !container_spec("exocom")) {
      gateway_port_ = static_cast<uint16_t>(options_.gateway_port >= 0 ? options_.gateway_port : g->port);
      if (options_.containers && gateway_port_ == 0) gateway_port_ = free_port(reservation_);  // published: known first
      if (gateway_port_ && port_open(gateway_port_))
        throw UserError(fmt::format("the gateway port {} is already in use; stop what uses it or change it in application.yml",
                                    gateway_port_));
    }
    std::map<std::string, config::Service> with_routes;
    for (const auto& [role, s] : services_) with_routes.emplace(role, s);
    std::string service_data = config::to_service_data(config::compile_routes(app_, with_routes));
    // With --bus-nodes N: nats-server with JetStream, then N ExoCom nodes joined through it.
    Unit* nats = options_.bus_nodes > 0 ? &nats_unit() : nullptr;
    int buses = std::max(options_.bus_nodes, 1);
    for (int i = 0; i < buses; ++i) {
      auto exocom = std::make_unique<Unit>();
      exocom->role = options_.bus_nodes > 0 ? fmt::format("exocom-{}", i + 1) : "exocom";
      exocom->kind = Unit::Kind::exocom;
      exocom->online_text = "ExoCom online at port ";
      exocom->timeout = std::chrono::seconds(10);
      exocom->env["SERVICE_DATA"] = service_data;
      if (options_.dashboard_port && !options_.containers) exocom->env["EXOCOM_OBSERVE_TOKEN"] = observe_token_;
      exocom->dir = app_.root;
      if (nats) exocom->needs.push_back(nats);
      buses_.push_back(exocom.get());
      units_.push_back(std::move(exocom));
      buses_.back()->command = exocom_command(*buses_.back());
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
      auto u = std::make_unique<Unit>();
      u->role = ref.role;
      u->service = &s;
      u->dir = s.dir;
      u->command = s.startup.command;
      u->online_text = s.startup.online_text;
      u->health = s.startup.health_check;
      u->timeout = std::chrono::seconds(s.startup.timeout_seconds);
      if (const ContainerSpec* spec = container_spec(ref.role); spec && !spec->probe_path.empty()) {
        u->online_text.clear();
        u->health = config::HealthCheck{spec->probe_path, false};
      }
      // A container described in full publishes nothing of its own: its port is the container's.
      u->port = container_spec(ref.role)      ? static_cast<uint16_t>(s.port)
                : options_.ports.count(ref.role) ? options_.ports.at(ref.role)
                                                 : service_port(s, ref.role);
      if (options_.ports.count(ref.role) && port_open(u->port))
        throw UserError(fmt::format("port {} (--port {}={}) is already in use", u->port, ref.role, u->port));
      if (u->port && !container_spec(ref.role) && !taken.insert(u->port).second)
        throw UserError(fmt::format("port {} is given to two services; change one of them in its service.yml", u->port));
      u->needs.insert(u->needs.end(), buses_.begin(), buses_.end());
      for (const auto& d : s.dependencies) u->needs.push_back(&dependency(d, ref.role));
      units_.push_back(std::move(u));
    }
    for (auto& u : units_)
      if (u->kind == Unit::Kind::service)
        for (const auto& dep_role : app_.find(u->role)->depends_on) u->needs.push_back(find(dep_role));
    check_cycles();
  }

  // ExoCom on the ports it had (none yet: the OS picks them), so a restarted bus is where the
  // services look for it. In a cluster each node keeps its name, so a restarted node takes over
  // what its previous run held; the first node serves the browsers.
  std::string exocom_command(const Unit& bus) const {
    std::string command = shell_quote(options_.exocom_binary.string()) + fmt::format(" --host 127.0.0.1 --port {}", bus.port);
    if (options_.log_payloads) command += " --log-payloads";
    const config::GatewayConfig* g = app_.gateway();
    if (g && &bus == buses_.front()) {
      command += fmt::format(" --gateway-port {} --gateway-role {}", gateway_port_, shell_quote(g->role));
      for (const auto& o : g->origins) command += " --gateway-origin " + shell_quote(o);
    }
    if (nats_)
      command += fmt::format(" --cluster nats://127.0.0.1:{} --node-name {} --cluster-name {}", nats_->port, bus.role,
                             shell_quote(cluster_name()));
    return command;
  }

  // nats-server with JetStream, its data in the application's data folder.
  Unit& nats_unit() {
    std::string binary = find_program("nats-server");
    if (binary.empty())
      throw UserError("--bus-nodes needs nats-server on PATH (Debian: apt install nats-server); run without --bus-nodes for one ExoCom");
    auto u = std::make_unique<Unit>();
    u->role = "nats";
    u->kind = Unit::Kind::nats;
    u->port = free_port(reservation_);
    fs::path data = data_root() / "nats";
    std::error_code ec;
    fs::create_directories(data, ec);
    u->command = fmt::format("{} -a 127.0.0.1 -p {} -js -sd {}", shell_quote(binary), u->port, shell_quote(data.string()));
    u->online_text = "Server is ready";
    u->timeout = std::chrono::seconds(20);
    u->dir = app_.root;
    nats_ = u.get();
    units_.push_back(std::move(u));
    return *nats_;
  }

  fs::path data_root() const { return options_.data_dir.empty() ? app_.root / ".exosphere/data" : options_.data_dir; }

  // NATS subjects of the application's nodes start with it: letters, digits, '-' and '_'.
  std::string cluster_name() const {
    std::string name = app_.name.empty() ? "exosphere" : app_.name;
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
    return name;
  }

  // Every node, the one this service starts on first: services are spread over the nodes.
  std::string exocom_hosts(size_t first) const {
    std::string out;
    for (size_t i = 0; i < buses_.size(); ++i)
      out += (i ? "," : "") + fmt::format("127.0.0.1:{}", buses_[(first + i) % buses_.size()]->port);
    return out;
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
    if (port == 0) return free_port(reservation_);
    if (port_open(port))
      throw UserError(fmt::format("port {} of '{}' is already in use; stop what uses it or change the port in {}", port,
                                  role, s.file));
    return port;
  }

  Unit& dependency(const config::ServiceDependency& d, const std::string& role) {
    for (auto& u : units_)
      if (u->kind == Unit::Kind::dependency && u->role == d.name) return *u;
    if (d.command.empty() && !options_.containers)
      throw UserError("dependency '" + d.name + "' of '" + role + "' is the Docker image " + d.image +
                      (d.version.empty() ? "" : ":" + d.version) +
                      "; give it a 'command' to run it locally, or use 'exo run --docker'");
    auto u = std::make_unique<Unit>();
    u->role = d.name;
    u->kind = Unit::Kind::dependency;
    u->command = d.command;
    u->online_text = d.online_text;
    u->env = d.environment;
    u->dir = app_.root;
    u->port = free_port(reservation_);
    units_.push_back(std::move(u));
    return *units_.back();
  }

  Unit* find(const std::string& role) {
    for (auto& u : units_)
      if (u->role == role && u->kind == Unit::Kind::service) return u.get();
    bug("unknown role after validation", __FILE__, __LINE__);
  }

  void check_cycles() {
    std::map<Unit*, int> mark;
    std::function<void(Unit*, std::vector<std::string>&)> visit = [&](Unit* u, std::vector<std::string>& path) {
      if (mark[u] == 2) return;
      path.push_back(u->role);
      if (mark[u] == 1) throw UserError("services depend on each other in a circle: " + join(path, " → "));
      mark[u] = 1;
      for (Unit* n : u->needs) visit(n, path);
      mark[u] = 2;
      path.pop_back();
    };
    for (auto& u : units_) {
      std::vector<std::string> path;
      visit(u.get(), path);
    }
  }

  const ContainerSpec* container_spec(const std::string& role) const {
    if (!options_.containers) return nullptr;
    auto it = options_.containers->specs.find(role);
    return it == options_.containers->specs.end() ? nullptr : &it->second;
  }

  // `<engine> run` of a container the caller described in full.
  std::vector<std::string> container_command(const Unit& u, const ContainerSpec& spec) {
    const Containers& c = *options_.containers;
    std::vector<std::string> argv = {c.engine.program, "run", "--rm", "--name", c.name(u.role), "--label",
                                     "exosphere.run=" + c.network, "--network-alias", u.role};
    if (c.engine.podman) argv.push_back("--no-healthcheck");
    for (const auto& n : spec.networks) argv.insert(argv.end(), {"--network", n});
    for (const auto& a : spec.aliases) argv.insert(argv.end(), {"--network-alias", a});
    for (const auto& [k, v] : spec.env) argv.insert(argv.end(), {"-e", k + "=" + v});
    for (const auto& p : spec.publish) argv.insert(argv.end(), {"-p", p});
    for (const auto& v : spec.volumes) argv.insert(argv.end(), {"-v", v});
    argv.push_back(u.kind == Unit::Kind::exocom ? c.exocom_image : c.images.at(u.role));
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    return argv;
  }

  // Inside a container: the others by their role on the network, the data in a volume at /data.
  std::map<std::string, std::string> container_environment(const Unit& u) {
    std::map<std::string, std::string> env;
    if (u.kind == Unit::Kind::exocom) {
      env.insert(u.env.begin(), u.env.end());
      env["PORT"] = "80";
      return env;
    }
    if (u.kind == Unit::Kind::dependency) return u.env;  // an image of its own: as application.yml says
    if (u.service)
      for (const auto& [k, v] : u.service->environment) env[k] = v;
    for (const auto& [k, v] : u.env) env[k] = v;
    env["EXOCOM_HOST"] = buses_.front()->role;
    env["EXOCOM_PORT"] = "80";
    if (gateway_port_) env["EXOCOM_GATEWAY_PORT"] = std::to_string(gateway_port_);
    if (u.port) env["PORT"] = std::to_string(u.port);
    if (u.kind == Unit::Kind::service) {
      env["ROLE"] = u.role;
      env["EXOSPHERE_DATA_DIR"] = "/data";
      for (const Unit* n : u.needs)
        if (n->kind == Unit::Kind::dependency) env[env_name(n->role)] = n->role;
      for (const auto& other : units_)
        if (other->kind == Unit::Kind::service && other->port)
          env[env_name(other->role) + "_INTERNAL_ORIGIN"] = fmt::format("http://{}:{}", other->role, other->port);
    }
    return env;
  }

  // `<engine> run` of the unit's image, attached: its output is the unit's, and the engine passes
  // the SIGTERM of a stop on to the container.
  std::vector<std::string> container_command(const Unit& u) {
    if (const ContainerSpec* spec = container_spec(u.role)) return container_command(u, *spec);
    const Containers& c = *options_.containers;
    std::vector<std::string> argv = {c.engine.program, "run", "--rm", "--name", c.name(u.role), "--network", c.network,
                                     "--network-alias", u.role, "--label", "exosphere.run=" + c.network};
    // Podman without systemd cannot schedule health checks and says so on every start; readiness
    // comes from the unit's output here, as for local processes.
    if (c.engine.podman) argv.push_back("--no-healthcheck");
    for (const auto& [k, v] : container_environment(u)) argv.insert(argv.end(), {"-e", k + "=" + v});
    if (u.port && u.kind == Unit::Kind::service) argv.insert(argv.end(), {"-p", fmt::format("127.0.0.1:{}:{}", u.port, u.port)});
    if (u.kind == Unit::Kind::service) argv.insert(argv.end(), {"-v", c.name(u.role) + "-data:/data"});
    if (u.kind == Unit::Kind::exocom) {
      if (gateway_port_) argv.insert(argv.end(), {"-p", fmt::format("127.0.0.1:{}:{}", gateway_port_, gateway_port_)});
      argv.push_back(c.exocom_image);
      argv.push_back("exocom");
      if (options_.log_payloads) argv.push_back("--log-payloads");
      if (const config::GatewayConfig* g = app_.gateway(); g && !container_spec("exocom")) {
        argv.insert(argv.end(), {"--gateway-port", std::to_string(gateway_port_), "--gateway-role", g->role});
        for (const auto& o : g->origins) argv.insert(argv.end(), {"--gateway-origin", o});
      }
      return argv;
    }
    auto image = c.images.find(u.role);
    if (image == c.images.end()) bug("a unit without an image in container mode", __FILE__, __LINE__);
    argv.push_back(image->second);
    return argv;
  }

  std::map<std::string, std::string> environment(const Unit& u) {
    std::map<std::string, std::string> env = options_.extra_env;
    if (u.kind == Unit::Kind::exocom) {
      env.insert(u.env.begin(), u.env.end());
      return env;
    }
    if (u.service)
      for (const auto& [k, v] : u.service->environment) env[k] = v;
    for (const auto& [k, v] : u.env) env[k] = v;
    size_t first = u.kind == Unit::Kind::service ? service_index(u) % buses_.size() : 0;
    env["EXOCOM_HOST"] = buses_.size() == 1 ? "127.0.0.1" : exocom_hosts(first);
    env["EXOCOM_PORT"] = std::to_string(buses_[first]->port);
    if (gateway_port_) env["EXOCOM_GATEWAY_PORT"] = std::to_string(gateway_port_);
    if (u.port) env["PORT"] = std::to_string(u.port);
    if (u.kind == Unit::Kind::service) {
      env["ROLE"] = u.role;
      // Where the service keeps its local data (its SQLite store, ...); `exo clean` removes it.
      fs::path data = data_root() / u.role;
      std::error_code ec;
      fs::create_directories(data, ec);
      env["EXOSPHERE_DATA_DIR"] = data.string();
      for (const Unit* n : u.needs)
        if (n->kind == Unit::Kind::dependency) {
          env[env_name(n->role)] = "127.0.0.1";
          env[env_name(n->role) + "_PORT"] = std::to_string(n->port);
        }
      for (const auto& other : units_)
        if (other->kind == Unit::Kind::service && other->port)
          env[env_name(other->role) + "_INTERNAL_ORIGIN"] = fmt::format("http://127.0.0.1:{}", other->port);
    }
    return env;
  }

  // --- the dashboard ---------------------------------------------------------------------------

  void open_dashboard(uint16_t port) {
    dashboard_ = std::make_unique<Dashboard>(
        io_, app_, services_, [this] { return views(); },
        [this](const std::string& role, const std::string& action) { return act(role, action); }, port);
    log_.set_tap([this](std::string_view role, std::string_view text) { dashboard_->log(role, text); });
  }

  std::vector<ServiceView> views() const {
    std::vector<ServiceView> out;
    for (const auto& u : units_) {
      ServiceView v;
      v.role = u->role;
      switch (u->state) {
        case Unit::State::waiting: v.state = "waiting"; break;
        case Unit::State::starting: v.state = u->restarts > 0 ? "restarting" : "starting"; break;
        case Unit::State::ready: v.state = "online"; break;
        case Unit::State::stopping: v.state = u->restarting ? "restarting" : "stopping"; break;
        case Unit::State::stopped: v.state = u->crashed && !u->user_stopped ? "crashed" : "stopped"; break;
      }
      if (u->child && !u->child->exited) v.pid = u->child->process.pid();
      if (u->state == Unit::State::ready)
        v.uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - u->ready_since).count();
      v.restarts = u->restarts;
      v.controllable = u->kind == Unit::Kind::service;
      out.push_back(std::move(v));
    }
    return out;
  }

  // The dashboard's buttons.
  std::string act(const std::string& role, const std::string& action) {
    Unit* u = nullptr;
    for (auto& x : units_)
      if (x->role == role && x->kind == Unit::Kind::service) u = x.get();
    if (!u) return "'" + role + "' is not a service of this application";
    if (shutting_down_) return "exo run is stopping";
    bool running = u->state == Unit::State::starting || u->state == Unit::State::ready;
    if (action == "restart") {
      log_.log(kRun, "restarting '" + role + "' (from the dashboard)");
      u->user_stopped = false;
      if (u->timer) u->timer->cancel();
      if (running) {
        u->restarting = true;
        stop(*u);
      } else if (u->state == Unit::State::stopped) {
        start(*u);
      }
      return {};
    }
    if (action == "stop") {
      if (!running) return "'" + role + "' is not running";
      u->user_stopped = true;
      u->restarting = false;
      if (u->timer) u->timer->cancel();
      stop(*u);
      return {};
    }
    if (action == "start") {
      if (u->state != Unit::State::stopped) return "'" + role + "' is already running";
      log_.log(kRun, "starting '" + role + "' (from the dashboard)");
      u->user_stopped = false;
      if (u->timer) u->timer->cancel();
      start(*u);
      return {};
    }
    return "unknown action '" + action + "'; use restart, stop or start";
  }

  // --- starting --------------------------------------------------------------------------------

  void start(Unit& u) {
    u.state = Unit::State::starting;
    if (u.started_once) ++u.restarts;
    u.started_once = true;
    u.crashed = false;
    if (dashboard_) dashboard_->services_changed();
    SpawnOptions o;
    if (options_.containers) {
      remove_container(u);  // one a killed engine client left behind would hold the name
      o.argv = container_command(u);
    } else {
      o.argv = shell(u.command);
      o.env = environment(u);
    }
    o.cwd = u.dir;
    o.merge_stderr = true;
    o.die_with_parent = true;
    auto child = std::make_shared<Child>();
    try {
      child->process = Process(o);
    } catch (const UserError& e) {
      log_.error(kRun, "'" + u.role + "' could not start: " + e.what());
      return shutdown(1);
    }
    child->on_line = [this, &u](const std::string& line) { on_line(u, line); };
    child->on_exit = [this, &u, c = child.get()](int code) { on_exit(u, *c, code); };
    u.child = child;
    attach(child);
    if (u.online_text.empty() && u.health.empty()) return ready(u);
    u.timer = std::make_unique<asio::steady_timer>(io_);
    poll_health(u, Clock::now() + u.timeout, child.get());
  }

  // Health checks poll every 100 ms, each asynchronously (the loop never waits for a service);
  // the same timer enforces the start timeout.
  void poll_health(Unit& u, Clock::time_point deadline, Child* child) {
    u.timer->expires_after(std::chrono::milliseconds(100));
    u.timer->async_wait([this, &u, deadline, child](const error_code& ec) {
      if (ec || u.state != Unit::State::starting || u.child.get() != child) return;
      if (u.health.empty()) return check_deadline(u, deadline, child);
      const ContainerSpec* spec = container_spec(u.role);
      bool through_proxy = spec && spec->probe_port;
      probe(io_, through_proxy ? spec->probe_port : u.port, u.health.tcp ? std::string() : u.health.http_path,
            std::chrono::seconds(1),
            [this, &u, deadline, child](bool up) {
              if (u.state != Unit::State::starting || u.child.get() != child) return;
              if (up) return ready(u);
              check_deadline(u, deadline, child);
            },
            through_proxy ? spec->probe_host : "127.0.0.1");
    });
  }

  void check_deadline(Unit& u, Clock::time_point deadline, Child* child) {
    if (Clock::now() <= deadline) return poll_health(u, deadline, child);
    std::string what = !u.online_text.empty() ? "it never printed \"" + u.online_text + "\""
                       : u.health.tcp         ? fmt::format("nothing accepted connections on port {}", u.port)
                                              : fmt::format("GET http://127.0.0.1:{}{} never answered 2xx", u.port,
                                                            u.health.http_path);
    log_.error(kRun, fmt::format("'{}' did not become ready within {}s: {}", u.role, u.timeout.count(), what));
    shutdown(1);
  }

  void on_line(Unit& u, const std::string& line) {
    if (shown(u.role)) log_.log(u.role, line);
    else if (dashboard_) dashboard_->log(u.role, line);
    if (u.kind == Unit::Kind::exocom && u.state == Unit::State::starting) {
      static constexpr std::string_view kGateway = "' online at port ";
      if (auto pos = line.find(kGateway); pos != std::string::npos && line.find("gateway") != std::string::npos)
        gateway_port_ = static_cast<uint16_t>(std::stoi(line.substr(pos + kGateway.size())));
    }
    if (u.state == Unit::State::starting && !u.online_text.empty() && line.find(u.online_text) != std::string::npos) {
      if (u.kind == Unit::Kind::exocom) u.port = static_cast<uint16_t>(std::stoi(line.substr(line.find(u.online_text) + u.online_text.size())));
      ready(u);
    }
  }

  bool shown(const std::string& role) const {
    auto listed = [&](const std::string& r) { return std::find(options_.only.begin(), options_.only.end(), r) != options_.only.end(); };
    // --only exocom shows every node of an ExoCom cluster.
    return options_.only.empty() || listed(role) || (role.rfind("exocom-", 0) == 0 && listed("exocom"));
  }

  void ready(Unit& u) {
    u.state = Unit::State::ready;
    u.ready_since = Clock::now();
    if (u.timer) u.timer->cancel();
    if (dashboard_) {
      dashboard_->services_changed();
      if (u.kind == Unit::Kind::exocom && !options_.containers) dashboard_->observe(u.port, observe_token_);
    }
    if (u.kind == Unit::Kind::service) {
      if (u.restarting || u.ever_ready) {
        log_.log(kRun, "'" + u.role + "' restarted successfully");
      } else {
        log_.log(u.role, "'" + u.role + "' is running");
      }
    } else if (u.kind == Unit::Kind::exocom && u.ever_ready) {
      log_.log(kRun, fmt::format("{} is running again at port {}; the services reconnect to it", bus_name(u), u.port));
    } else if (u.kind == Unit::Kind::exocom) {
      log_.log(kRun, gateway_port_ && &u == buses_.front()
                         ? fmt::format("{} is running at port {}, its gateway for browsers at port {}", bus_name(u), u.port,
                                       gateway_port_)
                         : fmt::format("{} is running at port {}", bus_name(u), u.port));
    } else if (u.kind == Unit::Kind::nats) {
      log_.log(kRun, fmt::format("nats-server (JetStream) is running at port {} for {} ExoCom nodes", u.port, buses_.size()));
    } else {
      log_.log(kRun, "dependency '" + u.role + "' is running");
    }
    u.ever_ready = true;
    u.restarting = false;
    if (u.pending_change) {
      auto path = *u.pending_change;
      u.pending_change.reset();
      changed(u, path, "changed");
    }
    start_what_can_start();
    if (!announced_ && std::all_of(units_.begin(), units_.end(), [](const auto& x) { return x->ever_ready; })) {
      announced_ = true;
      log_.log(kRun, "all services online");
      for (const auto& ref : app_.services)
        if (ref.protection_level == "public")
          for (const auto& x : units_)
            if (x->role == ref.role && x->kind == Unit::Kind::service) {
              const ContainerSpec* spec = container_spec(x->role);
              if (spec && !spec->url.empty()) log_.log(kRun, fmt::format("'{}' serves {}", x->role, spec->url));
              else if (!spec && x->port) log_.log(kRun, fmt::format("'{}' serves http://localhost:{}", x->role, x->port));
            }
      if (const ContainerSpec* spec = container_spec("exocom"); spec && !spec->url.empty())
        log_.log(kRun, "browsers reach ExoCom's gateway at " + spec->url);
      if (dashboard_) log_.log(kRun, "dashboard at " + dashboard_->url());
    }
  }

  void start_what_can_start() {
    if (shutting_down_) return;
    for (auto& u : units_) {
      if (u->state != Unit::State::waiting) continue;
      if (std::all_of(u->needs.begin(), u->needs.end(), [](Unit* n) { return n->ever_ready; })) start(*u);
    }
  }

  // --- children ----------------------------------------------------------------------------------

  void attach(const std::shared_ptr<Child>& child) {
    int fd = child->process.release_stdout();
    child->output = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    children_.push_back(child);
    read_output(child);
  }

  void read_output(const std::shared_ptr<Child>& child) {
    auto buf = std::make_shared<std::array<char, 8192>>();
    child->output->async_read_some(asio::buffer(*buf), [this, child, buf](const error_code& ec, size_t n) {
      if (ec) return flush_partial(*child);
      take_output(*child, std::string_view(buf->data(), n));
      read_output(child);
    });
  }

  void take_output(Child& c, std::string_view data) {
    c.partial.append(data);
    size_t start = 0;
    for (size_t nl; (nl = c.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = c.partial.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (c.on_line) c.on_line(line);
    }
    c.partial.erase(0, start);
    if (c.partial.size() > 65536) {  // a line without end: show it in pieces rather than hold it
      if (c.on_line) c.on_line(c.partial);
      c.partial.clear();
    }
  }

  void flush_partial(Child& c) {
    if (!c.partial.empty() && c.on_line) c.on_line(c.partial);
    c.partial.clear();
  }

  void watch_children() {
    children_signal_.async_wait([this](const error_code& ec, int) {
      if (ec) return;
      reap();
      watch_children();
    });
  }

  void reap() {
    std::vector<std::pair<std::shared_ptr<Child>, int>> exited;
    for (auto it = children_.begin(); it != children_.end();) {
      if (auto code = (*it)->process.poll()) {
        exited.emplace_back(*it, *code);
        it = children_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [child, code] : exited) {
      child->exited = true;
      // Whatever it wrote before exiting is shown before its exit is reported.
      if (child->output) {
        char buf[8192];
        error_code ec;
        child->output->non_blocking(true, ec);
        while (true) {
          size_t n = child->output->read_some(asio::buffer(buf), ec);
          if (ec || n == 0) break;
          take_output(*child, std::string_view(buf, n));
        }
        flush_partial(*child);
        child->output->close(ec);
      }
      child->process.signal(SIGKILL);  // anything it left behind in its group
      if (child->on_exit) child->on_exit(code);
    }
    if (shutting_down_) continue_shutdown();
  }

  void on_exit(Unit& u, Child& c, int code) {
    if (u.child.get() != &c) return;
    if (u.timer) u.timer->cancel();
    bool was_stopping = u.state == Unit::State::stopping;
    u.state = Unit::State::stopped;
    u.crashed = !was_stopping && !shutting_down_;  // it ended on its own
    if (dashboard_) dashboard_->services_changed();
    if (shutting_down_) return;
    if (was_stopping && u.restarting) return start(u);
    if (u.user_stopped) return log_.log(kRun, "'" + u.role + "' stopped (from the dashboard)");
    log_.log(kRun, fmt::format("{} exited with code {}", u.role, code));
    if (!u.ever_ready && (code == 126 || code == 127)) {
      std::string where = u.service ? u.service->file : std::string("application.yml");
      log_.error(kRun, fmt::format("'{}' could not start: its command {} ({}); fix startup.command in {}", u.role,
                                   code == 127 ? "was not found" : "is not executable", u.command, where));
      return shutdown(1);
    }
    if (u.kind == Unit::Kind::dependency || u.kind == Unit::Kind::nats) {
      log_.error(kRun, "dependency '" + u.role + "' stopped; the application cannot run without it");
      return shutdown(1);
    }
    if (u.kind == Unit::Kind::exocom) return restart_exocom(u);
    if (u.service->restart.on_failure) restart_later(u, u.service->restart.max_restarts, "restart: on-failure");
  }

  // The bus went down: a new ExoCom on the same ports, and the services (which retry) reconnect.
  // What it held for services that were offline, and what was on its way, is gone with it.
  void restart_exocom(Unit& u) {
    if (!u.ever_ready) {
      log_.error(kRun, "ExoCom stopped before it was ready; the application cannot run without it");
      return shutdown(1);
    }
    u.command = exocom_command(u);
    if (nats_)
      log_.log(kRun, bus_name(u) + " stopped; its services move to the other nodes, and what it held is taken over from JetStream");
    else
      log_.log(kRun, "ExoCom stopped; messages it held for services that were offline and messages on their way "
                     "through it are lost");
    if (!restart_later(u, kExocomMaxRestarts, "ExoCom is restarted on the same ports"))
      shutdown(1);  // without the bus, the application cannot run
  }

  // Starts a crashed unit again after a back-off (250 ms doubling); false when it crashed too
  // often in a row. A unit that stayed up for 10 s starts counting anew.
  bool restart_later(Unit& u, int max_restarts, std::string_view why) {
    if (Clock::now() - u.ready_since > std::chrono::seconds(10)) u.crashes = 0;
    if (u.crashes >= max_restarts) {
      log_.error(kRun, fmt::format("'{}' crashed {} times in a row; giving up on it", u.role, u.crashes));
      return false;
    }
    auto delay = std::chrono::milliseconds(250) * (1 << std::min(u.crashes, 6));
    ++u.crashes;
    log_.log(kRun, fmt::format("restarting '{}' in {}ms ({})", u.role, delay.count(), why));
    u.timer = std::make_unique<asio::steady_timer>(io_, delay);
    u.timer->async_wait([this, &u](const error_code& ec) {
      if (!ec && !shutting_down_) {
        u.restarting = true;
        start(u);
      }
    });
    return true;
  }

  // Stops a unit: SIGTERM to its group now, SIGKILL after the grace period.
  void remove_container(const Unit& u) {
    options_.containers->engine.ok({"rm", "-f", options_.containers->name(u.role)});
  }

  void stop(Unit& u) {
    if (!u.child || u.child->exited) {
      u.state = Unit::State::stopped;
      return;
    }
    u.state = Unit::State::stopping;
    u.child->process.signal(SIGTERM);
    auto child = u.child;
    auto kill = std::make_shared<asio::steady_timer>(io_, options_.stop_grace);
    kill->async_wait([child, kill](const error_code& ec) {
      if (!ec && !child->exited) child->process.signal(SIGKILL);
    });
  }

  // --- restart on change ---------------------------------------------------------------------------

  void start_watching() {
    watcher_ = std::make_unique<Watcher>();
    for (auto& u : units_)
      if (u->kind == Unit::Kind::service) watcher_->add(u->role, u->dir, u->service->restart.ignore);
    watch_descriptor_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(watcher_->fd()));
    wait_for_changes();
  }

  void wait_for_changes() {
    watch_descriptor_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
      if (ec) return;
      int overflows = watcher_->overflows();
      watcher_->read([this](const std::string& role, const fs::path& path, const char* what) {
        changed(*find(role), path, what);
      });
      if (watcher_->overflows() != overflows)
        log_.log(kRun, "too many file changes at once for the kernel's event queue; rescanned the service folders");
      wait_for_changes();
    });
  }

  void changed(Unit& u, const fs::path& path, const char* what) {
    if (shutting_down_ || !u.ever_ready) return;
    if (u.restarting || u.setup_job) {
      u.pending_change = path;
      return;
    }
    auto [it, fresh] = u.changes.try_emplace(path, what, what);
    if (!fresh) it->second.second = what;
    // Editors write in bursts: act once things are quiet.
    if (!u.debounce) u.debounce = std::make_unique<asio::steady_timer>(io_);
    u.debounce->expires_after(options_.debounce);
    u.debounce->async_wait([this, &u](const error_code& ec) {
      if (!ec) settle(u);
    });
  }

  // The burst is over. Files that appeared and vanished within it (an editor's or tool's temporary
  // file saved by rename) are no change at all.
  void settle(Unit& u) {
    auto changes = std::move(u.changes);
    u.changes.clear();
    std::error_code ec;
    std::optional<std::pair<fs::path, std::string>> last;
    size_t count = 0;
    const auto& setup_on = u.service->restart.setup_on;
    for (const auto& [path, events] : changes) {
      if (events.first == "created" && !fs::exists(path, ec)) continue;
      last = {path, events.second};
      ++count;
      std::string rel = path.lexically_relative(u.dir).generic_string();
      if (!u.service->setup.empty() &&
          (setup_on.empty() || std::any_of(setup_on.begin(), setup_on.end(), [&](const auto& g) { return glob_match(g, rel); })))
        u.setup_needed = true;
    }
    if (!last) return;
    u.changed_path = last->first;
    change_what_ = last->second;
    change_count_ = count;
    restart_for_change(u);
  }

  void restart_for_change(Unit& u) {
    if (change_count_ > 1)
      log_.log(kRun, fmt::format("Restarting service '{}' because {} and {} more files changed", u.role,
                                 u.changed_path.string(), change_count_ - 1));
    else
      log_.log(kRun, fmt::format("Restarting service '{}' because {} was {}", u.role, u.changed_path.string(), change_what_));
    if (u.changed_path.filename() == "service.yml") reload(u);
    if (u.setup_needed) {
      u.setup_needed = false;
      return run_setup(u);
    }
    u.restarting = true;
    stop(u);
  }

  // A changed service.yml takes effect with the restart (its routes need a new exo run).
  void reload(Unit& u) {
    try {
      config::Warnings warnings;
      config::Service fresh = config::load_service(u.dir, warnings);
      for (const auto& w : warnings.lines) log_.log(kRun, "Warning: " + w);
      if (fresh.startup.command.empty()) throw UserError(fresh.file + ": startup.command is missing");
      services_[u.role] = std::move(fresh);
      const config::Service& s = services_.at(u.role);
      u.service = &s;
      u.command = s.startup.command;
      u.online_text = s.startup.online_text;
      u.health = s.startup.health_check;
      u.timeout = std::chrono::seconds(s.startup.timeout_seconds);
    } catch (const UserError& e) {
      log_.error(kRun, std::string(e.what()) + "; keeping the previous settings of '" + u.role + "'");
    }
  }

  // Rebuilds while the old version keeps serving; restarts only when the build succeeded.
  void run_setup(Unit& u) {
    SpawnOptions o;
    o.argv = shell(u.service->setup);
    o.cwd = u.dir;
    o.env = options_.extra_env;
    o.merge_stderr = true;
    o.die_with_parent = true;
    auto job = std::make_shared<Child>();
    try {
      job->process = Process(o);
    } catch (const UserError& e) {
      log_.error(kRun, "setup of '" + u.role + "' could not start: " + e.what());
      return;
    }
    job->on_line = [this, &u](const std::string& line) {
      if (shown(u.role)) log_.log(u.role, line);
    };
    job->on_exit = [this, &u](int code) {
      u.setup_job.reset();
      if (shutting_down_) return;
      if (code != 0) {
        log_.error(kRun, fmt::format("setup of '{}' failed with exit code {}; it keeps running the previous version",
                                     u.role, code));
        return;
      }
      u.restarting = true;
      stop(u);
    };
    u.setup_job = job;
    attach(job);
  }

  // --- shutting down -------------------------------------------------------------------------------

  void shutdown(int code) {
    if (shutting_down_) return;
    shutting_down_ = true;
    exit_code_ = code;
    if (code == 0) log_.log(kRun, "shutting down ...");
    else log_.log(kRun, "stopping everything ...");
    signals_.cancel();
    if (watch_descriptor_) watch_descriptor_->close();
    if (dashboard_) {
      log_.set_tap({});
      dashboard_->close();
    }
    for (auto& u : units_) {
      if (u->timer) u->timer->cancel();
      if (u->debounce) u->debounce->cancel();
    }
    // Services first, while the bus still runs; ExoCom after them, NATS last.
    for (auto& u : units_)
      if (u->kind != Unit::Kind::exocom && u->kind != Unit::Kind::nats) stop(*u);
    for (auto& u : units_)
      if (u->setup_job && !u->setup_job->exited) u->setup_job->process.signal(SIGTERM);
    continue_shutdown();
  }

  void continue_shutdown() {
    auto running = [](const Unit* u) { return u && u->child && !u->child->exited; };
    auto infrastructure = [&](const std::shared_ptr<Child>& c) {
      if (nats_ && c == nats_->child) return true;
      return std::any_of(buses_.begin(), buses_.end(), [&](const Unit* b) { return c == b->child; });
    };
    if (std::any_of(children_.begin(), children_.end(), [&](const auto& c) { return !infrastructure(c); })) return;
    bool buses_running = false;
    for (Unit* b : buses_)
      if (running(b)) {
        buses_running = true;
        if (b->state != Unit::State::stopping) stop(*b);
      }
    if (buses_running) return;
    if (running(nats_)) {
      if (nats_->state != Unit::State::stopping) stop(*nats_);
      return;
    }
    io_.stop();
  }

  std::string bus_name(const Unit& u) const { return buses_.size() == 1 && !nats_ ? "ExoCom" : "ExoCom node " + u.role; }

  size_t service_index(const Unit& u) const {
    size_t i = 0;
    for (const auto& x : units_) {
      if (x.get() == &u) return i;
      if (x->kind == Unit::Kind::service) ++i;
    }
    return 0;
  }

  const config::Application& app_;
  std::map<std::string, config::Service> services_;  // a copy: service.yml may change while running
  RunOptions options_;
  Logger& log_;
  asio::io_context io_{1};
  // A closed terminal (SIGHUP) or a reader of the log stream that went away (SIGPIPE) ends the run
  // as Ctrl-C does: everything stops and containers are removed, instead of exo dying mid-way.
  asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  asio::signal_set children_signal_{io_, SIGCHLD};
  std::vector<std::unique_ptr<Unit>> units_;
  std::vector<Unit*> buses_;  // ExoCom, or the nodes of an ExoCom cluster (--bus-nodes)
  Unit* nats_ = nullptr;      // with --bus-nodes
  PortReservation* reservation_ = nullptr;
  uint16_t gateway_port_ = 0;
  std::vector<std::shared_ptr<Child>> children_;
  std::unique_ptr<Watcher> watcher_;
  std::unique_ptr<asio::posix::stream_descriptor> watch_descriptor_;
  std::string change_what_ = "changed";
  size_t change_count_ = 1;  // files in the burst behind the restart being logged
  bool announced_ = false;
  std::string observe_token_ = random_hex(16);  // ExoCom's /observe, for the dashboard only
  std::unique_ptr<Dashboard> dashboard_;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

}  // namespace

int run(const config::Application& app, const std::map<std::string, config::Service>& services,
        const RunOptions& options, Logger& log) {
  log.raw("Running " + app.name + (app.version.empty() ? "" : " " + app.version) + "\n");
  Supervisor supervisor(app, services, options, log);
  return supervisor.run();
}

}  // namespace exo::runner
