// What `exo run` runs: one unit per process (ExoCom or one of its nodes, nats-server, a
// dependency, a service), as application.yml and service.yml describe it. Plain data, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "config/config.hpp"

namespace exo::runner {

struct UnitSpec {
  enum class Kind { exocom, nats, dependency, service };
  std::string role;
  Kind kind = Kind::service;
  const config::Service* service = nullptr;  // services only
  std::filesystem::path dir;                 // where its command runs
  std::string command;                       // a shell command (local processes)
  std::map<std::string, std::string> env;    // its own variables, before what exo run adds
  std::string online_text;
  config::HealthCheck health;
  std::chrono::seconds timeout{60};          // to become ready
  uint16_t port = 0;
};

}  // namespace exo::runner
