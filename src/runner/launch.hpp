// The command line and environment of each unit `exo run` starts, as a local process or as a
// container of the engine. Pure functions of the unit and where everything else is: unit-tested
// in tests/unit/runner/launch_test.cpp.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/runner.hpp"
#include "runner/unit.hpp"

namespace exo::runner {

// Everything a unit's command line depends on besides the unit itself.
struct Placement {
  std::vector<const UnitSpec*> units;  // every unit of the run, in application.yml's order
  std::vector<const UnitSpec*> buses;  // ExoCom, or the nodes of an ExoCom cluster
  const UnitSpec* nats = nullptr;      // with --bus-nodes
  const config::GatewayConfig* gateway = nullptr;
  uint16_t gateway_port = 0;
  std::filesystem::path exocom_binary;
  std::filesystem::path data_root;     // services' data: <data_root>/<role>
  std::string cluster_name;
  bool log_payloads = false;
  std::map<std::string, std::string> extra_env;  // every local service gets these
  const Containers* containers = nullptr;        // with --docker or a rehearsal
  std::optional<std::string> stop_timeout;       // EXOSPHERE_STOP_TIMEOUT as the user set it
  std::chrono::milliseconds stop_bound = kDefaultStopTimeout;  // what it means
};

// How to start one unit. `env` goes into the started process's own environment (on top of what
// it inherits), never onto its command line: a container's secrets travel as `-e NAME` in `argv`
// with their values here, so `ps` and /proc/<pid>/cmdline show names only.
struct Launch {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
};

// Where the others are, seen from where the unit runs.
enum class Where { local, container };

// The variables a unit gets: its own, then where ExoCom, the dependencies and the other services
// are. One function for both places; only the addresses differ.
std::map<std::string, std::string> unit_environment(const UnitSpec& u, const Placement& p, Where where);

// ExoCom's shell command as a local process (on the port it had, so a restarted bus is where the
// services look for it).
std::string exocom_command(const UnitSpec& bus, const Placement& p);

// The full launch: `bash -c <command>` with its environment, or `<engine> run ...` of its image.
Launch launch(const UnitSpec& u, const Placement& p);


}  // namespace exo::runner
