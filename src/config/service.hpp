#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/application.hpp"
#include "config/yaml_reader.hpp"

namespace exo::config {

// How `exo run` learns that a service is ready.
struct HealthCheck {
  std::string http_path;  // GET http://127.0.0.1:$PORT<path> answers 2xx
  bool tcp = false;       // $PORT accepts a connection
  bool empty() const { return http_path.empty() && !tcp; }
};

struct Startup {
  std::string command;
  std::string online_text;   // a literal substring of one output line
  HealthCheck health_check;
  int timeout_seconds = 60;  // how long `exo run` waits for readiness
};

// Infrastructure a service needs (a database, ...): a local command or a Docker image.
struct ServiceDependency {
  std::string name;
  std::string image, version;
  std::string command;  // runs locally instead of an image
  std::string online_text;
  std::vector<std::string> ports, volumes;
  std::map<std::string, std::string> environment;
  Location where;
};

struct RestartPolicy {
  std::vector<std::string> ignore;       // globs relative to the service folder
  std::vector<std::string> setup_on;     // globs whose change re-runs `setup` before the restart
  bool on_failure = false;               // restart a crashed service, with back-off
  int max_restarts = 5;
};

// How many tasks of a service run in production, and what makes ECS add or remove some
// (`production.scale`): target tracking on average CPU and memory use (percent) and, for public
// services, on requests per task through the load balancer. 0: not tracked.
struct Scale {
  int min = 1, max = 1;
  int cpu = 0, memory = 0, requests_per_target = 0;
  bool scales() const { return max > min; }
};

// How the service runs when deployed (`production:` in service.yml, docs/deploy.md).
struct Production {
  std::string url;           // the public host name of a public service
  int public_port = 0;       // the port its container listens on
  int cpu = 0, memory = 0;   // CPU units (1024 = one vCPU) and MiB
  std::string health_check;  // the load balancer's health-check path
  std::vector<std::string> secrets;  // names of secrets it receives as environment variables
  Scale scale;
  Location where;
};

struct Service {
  std::filesystem::path dir;
  std::string file;  // service.yml as the user sees it
  std::string type, name, description, author;
  std::string setup, tests;
  Startup startup;
  std::vector<std::string> sends, receives;
  std::string messages_namespace;  // older service.yml files declared `messages.namespace`
  std::vector<ServiceDependency> dependencies;
  std::vector<std::string> docker_ports;
  std::map<std::string, std::string> environment;
  RestartPolicy restart;
  Production production;
  int port = 0;  // the port it listens on when it is not assigned one
};

// True for names secrets may have: an environment variable name, like DATABASE_URL.
bool valid_secret_name(std::string_view name);
// Reads a list of secret names, failing at the first invalid one.
std::vector<std::string> read_secret_names(const YamlNode& node);

// Reads `<dir>/service.yml`.
Service load_service(const std::filesystem::path& dir, Warnings& warnings);
Service parse_service(const std::string& text, const std::string& file, const std::filesystem::path& dir,
                      Warnings& warnings);
// The service behind `ref`: its folder relative to the app root. Throws for docker-image services,
// whose service.yml lives in the image.
Service load_service(const Application& app, const ServiceRef& ref, Warnings& warnings);
std::filesystem::path service_dir(const Application& app, const ServiceRef& ref);

}  // namespace exo::config
