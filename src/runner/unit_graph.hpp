// The units of one `exo run` and what each needs before it starts: built from application.yml,
// the service.yml files and the run's options. The machine's ports and programs come through
// `Host`, so building is a pure function: unit-tested in tests/unit/runner/unit_graph_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/runner.hpp"
#include "runner/unit.hpp"

namespace exo::runner {

// What building the graph asks of the machine (the supervisor's asks the OS; tests make it up).
struct Host {
  std::function<uint16_t()> free_port;          // nothing listens on it, and it was not given before
  std::function<bool(uint16_t)> port_in_use;    // something accepts connections on 127.0.0.1 there
  std::function<std::string(const std::string&)> find_program;  // its path on PATH, or ""
  std::filesystem::path data_root;              // nats-server keeps JetStream's data in <data_root>/nats
  std::string observe_token;                    // ExoCom's /observe, when there is a dashboard
};

struct UnitGraph {
  // nats-server (with --bus-nodes), ExoCom or its nodes, then each service after the dependencies
  // it brought in first.
  std::vector<UnitSpec> units;
  std::vector<std::vector<size_t>> needs;  // per unit: the units that must be ready before it starts
  std::vector<size_t> buses;               // ExoCom, or the nodes of an ExoCom cluster
  std::optional<size_t> nats;
  uint16_t gateway_port = 0;               // 0: none, or ExoCom picks one and says which
};

// Throws UserError for what cannot run: a port in use or given twice, a missing command, a
// dependency without one, services that depend on each other in a circle ("a → b → a"). Each service unit's
// `service` points into `services`.
UnitGraph build_graph(const config::Application& app, const std::map<std::string, config::Service>& services,
                      const RunOptions& options, const Host& host);

}  // namespace exo::runner
