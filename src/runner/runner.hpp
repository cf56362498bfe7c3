// The local process supervisor behind `exo run`: ExoCom, dependencies and services as child
// processes, in dependency order, with readiness checks, one log stream and restart on change.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/container_engine.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "config/config.hpp"

namespace exo::runner {

// One container exactly as the caller describes it (`exo deploy --rehearse`, from the deployment's
// model): nothing about it is derived from the application's run configuration.
struct ContainerSpec {
  std::vector<std::string> networks;  // every network it joins
  std::vector<std::string> aliases;   // its names on them, besides its role
  std::map<std::string, std::string> env;
  // Given like `env`, but only by name on the engine's command line (`-e NAME`): the value is in
  // the engine client's own environment, which other users cannot read (/proc/<pid>/environ).
  std::map<std::string, std::string> secrets;
  std::vector<std::string> publish;   // -p values
  std::vector<std::string> volumes;   // -v values
  std::vector<std::string> args;      // after the image
  // Readiness instead of the service's own: GET `probe_path` on 127.0.0.1:`probe_port` with Host
  // `probe_host` answers 2xx or 3xx (a load balancer's health check through the proxy).
  uint16_t probe_port = 0;
  std::string probe_host, probe_path;
  std::string url;  // announced once everything is online
};

// `exo run --docker`: every unit runs as a container of the engine, on one network where each is
// reachable by its role; ports of public services and the gateway are published on 127.0.0.1.
struct Containers {
  ContainerEngine engine;
  std::string network;                         // also the label of every container of this run
  std::string exocom_image;
  std::map<std::string, std::string> images;   // role → image (services and dependencies)
  std::map<std::string, ContainerSpec> specs;  // role → its container as given (exocom and dependencies too)
  std::string name(const std::string& role) const { return network + "-" + role; }
};

// The container of `role` as given, or nullptr (also when `c` is: not a container run).
inline const ContainerSpec* spec_of(const Containers* c, const std::string& role) {
  if (!c) return nullptr;
  auto it = c->specs.find(role);
  return it == c->specs.end() ? nullptr : &it->second;
}

// The name exo run's own lines go under in the log stream (beside each service's role).
inline constexpr std::string_view kRunRole = "exo-run";

struct RunOptions {
  std::vector<std::string> only;     // show only these roles' lines (exo-run's own always show)
  bool watch = true;                 // restart services when their files change
  std::chrono::milliseconds debounce{100};
  // The stop bound (common/signals.hpp); none: EXOSPHERE_STOP_TIMEOUT from the environment, else
  // kDefaultStopTimeout. Passed on to what exo run starts when the user set it; SIGKILL only after
  // the bound plus kStopMargin.
  std::optional<std::chrono::milliseconds> stop_timeout;
  std::filesystem::path exocom_binary;
  std::map<std::string, std::string> extra_env;  // given to every service (e.g. where the SDK is)
  std::map<std::string, uint16_t> ports;         // role → port, over what service.yml says
  int gateway_port = -1;                         // over application.yml (0: a free port)
  std::filesystem::path data_dir;                // where services keep data (default .exosphere/data)
  int bus_nodes = 0;                             // 0: one ExoCom; N: N ExoCom nodes joined through nats-server
  std::optional<Containers> containers;          // run in containers instead of local processes
  std::optional<uint16_t> dashboard_port;        // serve the dashboard there (0: a free port); none: no dashboard
  bool log_payloads = false;                     // ExoCom logs each delivered payload (and the dashboard shows it)
};

// Runs the application until SIGINT/SIGTERM (exit code 0) or a fatal error (exit code 1).
int run(const config::Application& app, const std::map<std::string, config::Service>& services,
        const RunOptions& options, Logger& log);

// Where `exo` finds what it came with: the exocom binary and the SDK's CMake package.
struct Toolchain {
  std::filesystem::path exocom;      // the exocom executable
  std::filesystem::path sdk_prefix;  // a CMAKE_PREFIX_PATH entry with exosphereConfig.cmake
  std::filesystem::path source_root; // templates and generic services
  std::map<std::string, std::string> env() const;  // CMAKE_PREFIX_PATH and EXOSPHERE_* for children
};
Toolchain find_toolchain();

}  // namespace exo::runner
