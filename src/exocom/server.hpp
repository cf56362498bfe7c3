#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/routes.hpp"
#include "exocom/cluster.hpp"
#include "exocom/gateway.hpp"
#include "exocom/options.hpp"

namespace exo::exocom {

struct Listen {
  std::string host = "0.0.0.0";
  uint16_t port = 80;  // 0: the OS picks one; the chosen port is printed
  bool gateway = false;        // also serve browsers (see Gateway)
  uint16_t gateway_port = 0;   // 0: the OS picks one
  GatewayOptions gateway_options;
  std::optional<ClusterOptions> cluster;  // a node of a cluster over NATS
};

// The ExoCom process: WebSocket at /services, HTTP /config.json, /status and /metrics on the same
// port, all on one thread. `run` returns the exit code after SIGTERM/SIGINT (0) or a fatal error.
class Server {
 public:
  Server(Listen listen, config::RouteTable routes, Options options);
  ~Server();
  // Binds the port and joins the cluster; throws UserError when it cannot (e.g. "port 80 is
  // already in use", "cannot reach NATS").
  void bind();
  uint16_t port() const;
  uint16_t gateway_port() const;
  int run();

  struct Impl;  // defined in server.cpp, shared with the connections there

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::exocom
