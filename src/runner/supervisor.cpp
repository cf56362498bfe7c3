// `exo run`: one thread, one event loop. Every child's output, its exit, file changes, timers and
// signals are events; nothing blocks the loop for long.

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/process.hpp"
#include "runner/change_watch.hpp"
#include "runner/child_io.hpp"
#include "runner/dashboard.hpp"
#include "runner/launch.hpp"
#include "runner/lifecycle.hpp"
#include "runner/ports.hpp"
#include "runner/probe.hpp"
#include "runner/runner.hpp"
#include "runner/unit_graph.hpp"

namespace exo::runner {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using error_code = boost::system::error_code;

namespace {

constexpr int kExocomMaxRestarts = 5;
constexpr size_t kLastLines = 3;  // of a unit's output, shown when it is given up on

// A unit as it runs: its description, what it needs, its lifecycle (lifecycle.hpp: the only place
// its state changes) and the handles of its process and timers.
struct Unit : UnitSpec {
  std::vector<Unit*> needs;
  Lifecycle life;
  std::shared_ptr<Child> child;
  std::unique_ptr<asio::steady_timer> timer;     // readiness polls and the start deadline
  std::unique_ptr<asio::steady_timer> back_off;  // while backing off
  std::deque<std::string> last_lines;            // of the current run, for the give-up line
};

class Supervisor {
 public:
  Supervisor(const config::Application& app, const std::map<std::string, config::Service>& services,
             const RunOptions& options, Logger& log)
      : app_(app), services_(services), options_(options), log_(log) {}

  Supervisor(const Supervisor&) = delete;
  ~Supervisor() { log_.set_tap({}); }

  int run() {
    resolve_stop_timeout();
    build_units();
    signals_.add(SIGPIPE);
    if (options_.dashboard_port) open_dashboard(*options_.dashboard_port);
    signals_.async_wait([this](const error_code& ec, int) {
      if (!ec) shutdown(0);
    });
    if (options_.watch) start_watching();
    start_what_can_start();
    io_.run();
    return exit_code_;
  }

 private:
  // --- setting up --------------------------------------------------------------------------------

  void build_units() {
    PortReservation ports;  // every port picked while building the units is different
    Host host{[&ports] { return free_port(&ports); }, port_open, find_program, data_root(), observe_token_};
    UnitGraph graph = build_graph(app_, services_, options_, host);
    for (UnitSpec& spec : graph.units) {
      auto u = std::make_unique<Unit>();
      static_cast<UnitSpec&>(*u) = std::move(spec);
      units_.push_back(std::move(u));
    }
    for (size_t i = 0; i < units_.size(); ++i)
      for (size_t n : graph.needs[i]) units_[i]->needs.push_back(units_[n].get());
    for (size_t b : graph.buses) buses_.push_back(units_[b].get());
    if (graph.nats) {
      nats_ = units_[*graph.nats].get();
      std::error_code ec;
      fs::create_directories(data_root() / "nats", ec);  // JetStream's folder: the graph only names it
    }
    gateway_port_ = graph.gateway_port;
  }

  fs::path data_root() const { return options_.data_dir.empty() ? app_.root / ".exosphere/data" : options_.data_dir; }

  // NATS subjects of the application's nodes start with it: letters, digits, '-' and '_'.
  std::string cluster_name() const {
    std::string name = app_.name.empty() ? "exosphere" : app_.name;
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
    return name;
  }

  const ContainerSpec* container_spec(const std::string& role) const {
    return spec_of(options_.containers ? &*options_.containers : nullptr, role);
  }

  // Where everything is, for the command lines (launch.hpp).
  Placement placement() const {
    Placement p;
    for (const auto& u : units_) p.units.push_back(u.get());
    p.buses.assign(buses_.begin(), buses_.end());
    p.nats = nats_;
    p.gateway = app_.gateway();
    p.gateway_port = gateway_port_;
    p.exocom_binary = options_.exocom_binary;
    p.data_root = data_root();
    p.cluster_name = cluster_name();
    p.log_payloads = options_.log_payloads;
    p.extra_env = options_.extra_env;
    p.containers = options_.containers ? &*options_.containers : nullptr;
    p.stop_timeout = stop_timeout_setting_;
    p.stop_bound = stop_timeout_;
    return p;
  }

  // The stop bound (runner.hpp): from RunOptions, else EXOSPHERE_STOP_TIMEOUT, else 5 s.
  void resolve_stop_timeout() {
    if (options_.stop_timeout) {
      stop_timeout_ = *options_.stop_timeout;
      stop_timeout_setting_ = fmt::format("{}ms", stop_timeout_.count());
    } else if (const char* v = std::getenv(kStopTimeoutVariable); v && *v) {
      stop_timeout_ = parse_stop_timeout(v);
      stop_timeout_setting_ = v;
    }
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
      const Lifecycle& l = u->life;
      switch (l.state) {
        case State::waiting: v.state = "waiting"; break;
        case State::starting: v.state = l.starts > 1 ? "restarting" : "starting"; break;
        case State::ready: v.state = "online"; break;
        case State::stopping: v.state = l.then_start ? "restarting" : "stopping"; break;
        case State::backing_off: v.state = "crashed"; break;  // until it starts again, as a user sees it
        case State::crashed: case State::given_up: v.state = "crashed"; break;
        case State::stopped: v.state = "stopped"; break;
      }
      if (u->child && !u->child->exited) v.pid = u->child->process.pid();
      if (l.state == State::ready && l.ready_since)
        v.uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *l.ready_since).count();
      v.restarts = std::max(l.starts - 1, 0);
      v.controllable = u->kind == Unit::Kind::service;
      out.push_back(std::move(v));
    }
    return out;
  }

  // The dashboard's buttons: events of the unit's lifecycle.
  std::string act(const std::string& role, const std::string& action) {
    Unit* u = nullptr;
    for (auto& x : units_)
      if (x->role == role && x->kind == Unit::Kind::service) u = x.get();
    if (!u) return "'" + role + "' is not a service of this application";
    if (shutting_down_) return "exo run is stopping";
    if (action == "restart") {
      bool after_stop = u->life.state == State::stopping;
      if (handle(*u, Event::restart) == Action::refuse) return "'" + role + "' cannot restart: " + u->life.why;
      log_.log(kRunRole, "restarting '" + role + "' (from the dashboard)" + (after_stop ? " once it has stopped" : ""));
      return {};
    }
    if (action == "stop") {
      if (handle(*u, Event::stop) == Action::refuse) return "'" + role + "' is not running";
      return {};
    }
    if (action == "start") {
      if (u->life.state == State::starting || u->life.state == State::ready || u->life.state == State::waiting)
        return "'" + role + "' is already running";
      log_.log(kRunRole, "starting '" + role + "' (from the dashboard)");
      handle(*u, Event::start);
      return {};
    }
    return "unknown action '" + action + "'; use restart, stop or start";
  }

  // --- the lifecycle -----------------------------------------------------------------------------

  RestartPolicy policy(const Unit& u) const {
    switch (u.kind) {
      case Unit::Kind::service: return {u.service->restart.on_failure, u.service->restart.max_restarts, false};
      case Unit::Kind::exocom: return {true, kExocomMaxRestarts, !u.life.ever_ready};
      case Unit::Kind::dependency:
      case Unit::Kind::nats: return {false, 0, true};
    }
    return {};
  }

  // The one way a unit's state changes: the transition function decides, this carries it out.
  Action handle(Unit& u, Event event, int exit_code = 0) {
    const State before = u.life.state;
    const Action action = step(u.life, event, policy(u), Clock::now(), exit_code);
    if (before == State::backing_off && u.life.state != State::backing_off && u.back_off) u.back_off->cancel();
    if (dashboard_ && u.life.state != before) dashboard_->services_changed();
    if (shutting_down_ && action != Action::terminate) return action;  // nothing starts any more
    switch (action) {
      case Action::none:
      case Action::refuse:
      case Action::report_crash: break;
      case Action::spawn: spawn(u); break;
      case Action::terminate: terminate(u); break;
      case Action::back_off: back_off(u); break;
      case Action::give_up: give_up(u); break;
      case Action::fatal: fatal(u); break;
    }
    return action;
  }

  void back_off(Unit& u) {
    if (u.kind == Unit::Kind::exocom) {
      if (nats_)
        log_.log(kRunRole, bus_name(u) + " stopped; its services move to the other nodes, and what it held is taken over from JetStream");
      else
        log_.log(kRunRole, "ExoCom stopped; messages it held for services that were offline and messages on their way "
                       "through it are lost");
    }
    log_.log(kRunRole, fmt::format("restarting '{}' in {}ms ({})", u.role, u.life.delay.count(),
                               u.kind == Unit::Kind::exocom ? "ExoCom is restarted on the same ports" : "restart: on-failure"));
    u.back_off = std::make_unique<asio::steady_timer>(io_, u.life.delay);
    u.back_off->async_wait([this, &u](const error_code& ec) {
      if (!ec) handle(u, Event::retry);
    });
  }

  // What it printed last, for a line that says why it is given up on.
  std::string last_output(const Unit& u) const {
    if (u.last_lines.empty()) return "it printed nothing";
    std::string out = "its last output: ";
    for (size_t i = 0; i < u.last_lines.size(); ++i) out += (i ? " | \"" : "\"") + u.last_lines[i] + "\"";
    return out;
  }

  // One line: who, how often, with what exit code and its last words, and how it comes back.
  void give_up(Unit& u) {
    bool bus = u.kind == Unit::Kind::exocom;
    std::string again = bus ? "; the application cannot run without it"
                        : options_.watch && dashboard_ ? "; it starts again when its files change or with Restart on the dashboard"
                        : options_.watch ? "; it starts again when its files change"
                        : dashboard_     ? "; Restart on the dashboard starts it again"
                                         : "";
    log_.error(kRunRole, fmt::format("'{}' crashed {} times in a row; giving up on it (exit code {}, {}){}", u.role,
                                 u.life.crashes, u.life.exit_code, last_output(u), again));
    if (bus) shutdown(1);  // without the bus, nothing works: stop everything, exit 1
  }

  void fatal(Unit& u) {
    int code = u.life.exit_code;
    if (!u.life.ever_ready && (code == 126 || code == 127)) {
      std::string where = u.service ? u.service->file : std::string("application.yml");
      log_.error(kRunRole, fmt::format("'{}' could not start: its command {} ({}); fix startup.command in {}", u.role,
                                   code == 127 ? "was not found" : "is not executable", u.command, where));
    } else if (u.kind == Unit::Kind::exocom) {
      log_.error(kRunRole, fmt::format("ExoCom stopped before it was ready (exit code {}, {}); the application cannot run without it",
                                   code, last_output(u)));
    } else {
      log_.error(kRunRole, fmt::format("dependency '{}' stopped (exit code {}, {}); the application cannot run without it",
                                   u.role, code, last_output(u)));
    }
    shutdown(1);
  }

  void remove_container(const Unit& u) {
    options_.containers->engine.ok({"rm", "-f", options_.containers->name(u.role)});
  }

  // SIGTERM to its group now; SIGKILL when it has not ended within the stop bound plus a margin.
  void terminate(Unit& u) {
    if (u.timer) u.timer->cancel();
    if (!u.child || u.child->exited) return;
    u.child->process.signal(SIGTERM);
    auto child = u.child;
    auto kill = std::make_shared<asio::steady_timer>(io_, stop_timeout_ + kStopMargin);
    kill->async_wait([this, child, kill, role = u.role](const error_code& ec) {
      if (ec || child->exited) return;
      child->process.signal(SIGKILL);
      log_.log(kRunRole, fmt::format("'{}' did not stop within {} of SIGTERM; killed", role, duration_text(stop_timeout_)));
    });
  }

  static std::string duration_text(std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000) : fmt::format("{} ms", d.count());
  }

  // --- starting --------------------------------------------------------------------------------

  void spawn(Unit& u) {
    u.last_lines.clear();
    if (dashboard_) dashboard_->services_changed();
    Launch l = launch(u, placement());
    SpawnOptions o;
    if (options_.containers) {
      remove_container(u);  // one a killed engine client left behind would hold the name
    } else if (u.kind == Unit::Kind::service) {
      std::error_code ec;
      fs::create_directories(data_root() / u.role, ec);
    }
    o.argv = std::move(l.argv);
    o.env = std::move(l.env);
    o.cwd = u.dir;
    o.merge_stderr = true;
    o.die_with_parent = true;
    auto child = std::make_shared<Child>();
    try {
      child->process = Process(o);
    } catch (const UserError& e) {
      log_.error(kRunRole, "'" + u.role + "' could not start: " + e.what());
      return shutdown(1);
    }
    child->on_line = [this, &u](const std::string& line) { on_line(u, line); };
    child->on_exit = [this, &u, c = child.get()](int code) { on_exit(u, *c, code); };
    u.child = child;
    children_.attach(child);
    if (u.online_text.empty() && u.health.empty()) return ready(u);
    u.timer = std::make_unique<asio::steady_timer>(io_);
    poll_health(u, Clock::now() + u.timeout, child.get());
  }

  // Health checks poll every 100 ms, each asynchronously (the loop never waits for a service);
  // the same timer enforces the start timeout.
  void poll_health(Unit& u, Clock::time_point deadline, Child* child) {
    u.timer->expires_after(std::chrono::milliseconds(100));
    u.timer->async_wait([this, &u, deadline, child](const error_code& ec) {
      if (ec || u.life.state != State::starting || u.child.get() != child) return;
      if (u.health.empty()) return check_deadline(u, deadline, child);
      const ContainerSpec* spec = container_spec(u.role);
      bool through_proxy = spec && spec->probe_port;
      probe(io_, through_proxy ? spec->probe_port : u.port, u.health.tcp ? std::string() : u.health.http_path,
            std::chrono::seconds(1),
            [this, &u, deadline, child](bool up) {
              if (u.life.state != State::starting || u.child.get() != child) return;
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
    log_.error(kRunRole, fmt::format("'{}' did not become ready within {}s: {}", u.role, u.timeout.count(), what));
    shutdown(1);
  }

  void on_line(Unit& u, const std::string& line) {
    if (shown(u.role)) log_.log(u.role, line);
    else if (dashboard_) dashboard_->log(u.role, line);
    u.last_lines.push_back(line.size() > 200 ? line.substr(0, 200) + "..." : line);
    if (u.last_lines.size() > kLastLines) u.last_lines.pop_front();
    if (u.kind == Unit::Kind::exocom && u.life.state == State::starting) {
      static constexpr std::string_view kGateway = "' online at port ";
      if (auto pos = line.find(kGateway); pos != std::string::npos && line.find("gateway") != std::string::npos)
        gateway_port_ = static_cast<uint16_t>(std::stoi(line.substr(pos + kGateway.size())));
    }
    if (u.life.state == State::starting && !u.online_text.empty() && line.find(u.online_text) != std::string::npos) {
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
    const bool again = u.life.ever_ready || u.life.starts > 1;
    handle(u, Event::became_ready);
    if (u.timer) u.timer->cancel();
    if (dashboard_) {
      dashboard_->services_changed();
      if (u.kind == Unit::Kind::exocom && !options_.containers) dashboard_->observe(u.port, observe_token_);
    }
    if (u.kind == Unit::Kind::service) {
      if (again) {
        log_.log(kRunRole, "'" + u.role + "' restarted successfully");
      } else {
        log_.log(u.role, "'" + u.role + "' is running");
      }
    } else if (u.kind == Unit::Kind::exocom && again) {
      log_.log(kRunRole, fmt::format("{} is running again at port {}; the services reconnect to it", bus_name(u), u.port));
    } else if (u.kind == Unit::Kind::exocom) {
      log_.log(kRunRole, gateway_port_ && &u == buses_.front()
                         ? fmt::format("{} is running at port {}, its gateway for browsers at port {}", bus_name(u), u.port,
                                       gateway_port_)
                         : fmt::format("{} is running at port {}", bus_name(u), u.port));
    } else if (u.kind == Unit::Kind::nats) {
      log_.log(kRunRole, fmt::format("nats-server (JetStream) is running at port {} for {} ExoCom nodes", u.port, buses_.size()));
    } else {
      log_.log(kRunRole, "dependency '" + u.role + "' is running");
    }
    if (watch_) watch_->became_ready(u.role);
    start_what_can_start();
    if (!announced_ && std::all_of(units_.begin(), units_.end(), [](const auto& x) { return x->life.ever_ready; })) {
      announced_ = true;
      log_.log(kRunRole, "all services online");
      for (const auto& ref : app_.services)
        if (ref.protection_level == "public")
          for (const auto& x : units_)
            if (x->role == ref.role && x->kind == Unit::Kind::service) {
              const ContainerSpec* spec = container_spec(x->role);
              if (spec && !spec->url.empty()) log_.log(kRunRole, fmt::format("'{}' serves {}", x->role, spec->url));
              else if (!spec && x->port) log_.log(kRunRole, fmt::format("'{}' serves http://localhost:{}", x->role, x->port));
            }
      if (const ContainerSpec* spec = container_spec("exocom"); spec && !spec->url.empty())
        log_.log(kRunRole, "browsers reach ExoCom's gateway at " + spec->url);
      if (dashboard_) log_.log(kRunRole, "dashboard at " + dashboard_->url());
    }
  }

  void start_what_can_start() {
    if (shutting_down_) return;
    for (auto& u : units_) {
      if (u->life.state != State::waiting) continue;
      if (std::all_of(u->needs.begin(), u->needs.end(), [](Unit* n) { return n->life.ever_ready; }))
        handle(*u, Event::start);
    }
  }

  void on_exit(Unit& u, Child& c, int code) {
    if (u.child.get() != &c) return;
    if (u.timer) u.timer->cancel();
    const State before = u.life.state;
    const bool asked = before == State::stopping;  // stopped on purpose
    if (!asked && !shutting_down_) log_.log(kRunRole, fmt::format("{} exited with code {}", u.role, code));
    handle(u, Event::exited, code);
    if (asked && !shutting_down_ && u.life.state == State::stopped)
      log_.log(kRunRole, "'" + u.role + "' stopped (from the dashboard)");
  }

  // --- restart on change ---------------------------------------------------------------------------

  void start_watching() {
    watch_ = std::make_unique<ChangeWatch>(io_, children_, log_, services_, options_,
                                           [this](const std::string& role) { return shown(role); });
    for (auto& u : units_)
      if (u->kind == Unit::Kind::service) watch_->add(*u, u->life, [this, &u = *u] { handle(u, Event::restart); });
    watch_->start();
  }

  // --- shutting down -------------------------------------------------------------------------------

  void shutdown(int code) {
    if (shutting_down_) return;
    shutting_down_ = true;
    exit_code_ = code;
    if (code == 0) log_.log(kRunRole, "shutting down ...");
    else log_.log(kRunRole, "stopping everything ...");
    signals_.cancel();
    if (dashboard_) {
      log_.set_tap({});
      dashboard_->close();
    }
    for (auto& u : units_) {
      if (u->timer) u->timer->cancel();
      if (u->back_off) u->back_off->cancel();
    }
    // Services first, while the bus still runs; ExoCom after them, NATS last.
    for (auto& u : units_)
      if (u->kind != Unit::Kind::exocom && u->kind != Unit::Kind::nats) handle(*u, Event::shutdown);
    if (watch_) watch_->stop();
    continue_shutdown();
  }

  void continue_shutdown() {
    auto running = [](const Unit* u) { return u && u->child && !u->child->exited; };
    auto infrastructure = [&](const std::shared_ptr<Child>& c) {
      if (nats_ && c == nats_->child) return true;
      return std::any_of(buses_.begin(), buses_.end(), [&](const Unit* b) { return c == b->child; });
    };
    if (std::any_of(children_.running().begin(), children_.running().end(), [&](const auto& c) { return !infrastructure(c); })) return;
    bool buses_running = false;
    for (Unit* b : buses_)
      if (running(b)) {
        buses_running = true;
        handle(*b, Event::shutdown);
      }
    if (buses_running) return;
    if (running(nats_)) {
      handle(*nats_, Event::shutdown);
      return;
    }
    io_.stop();
  }

  std::string bus_name(const Unit& u) const { return buses_.size() == 1 && !nats_ ? "ExoCom" : "ExoCom node " + u.role; }

  const config::Application& app_;
  std::map<std::string, config::Service> services_;  // a copy: service.yml may change while running
  RunOptions options_;
  Logger& log_;
  asio::io_context io_{1};
  // A closed terminal (SIGHUP) or a reader of the log stream that went away (SIGPIPE) ends the run
  // as Ctrl-C does: everything stops and containers are removed, instead of exo dying mid-way.
  asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  std::vector<std::unique_ptr<Unit>> units_;
  std::vector<Unit*> buses_;  // ExoCom, or the nodes of an ExoCom cluster (--bus-nodes)
  Unit* nats_ = nullptr;      // with --bus-nodes
  uint16_t gateway_port_ = 0;
  // Every child's output as lines, its exit as an event; once exo run stops, each exit moves the
  // shutdown on.
  Children children_{io_, [this] {
                       if (shutting_down_) continue_shutdown();
                     }};
  std::unique_ptr<ChangeWatch> watch_;  // with RunOptions::watch
  bool announced_ = false;
  std::string observe_token_ = random_hex(16);  // ExoCom's /observe, for the dashboard only
  std::unique_ptr<Dashboard> dashboard_;
  std::chrono::milliseconds stop_timeout_ = kDefaultStopTimeout;
  std::optional<std::string> stop_timeout_setting_;  // EXOSPHERE_STOP_TIMEOUT for what exo run starts
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
