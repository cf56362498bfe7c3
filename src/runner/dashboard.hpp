// `exo run`'s dashboard (docs/dashboard.md): a page exo serves itself on 127.0.0.1 behind a random
// token, fed by the supervisor (services, logs) and by ExoCom's read-only /observe stream (trace).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}

namespace exo::runner {

// One row of the services table.
struct ServiceView {
  std::string role;
  std::string state;  // waiting, starting, online, restarting, stopping, stopped, crashed
  int pid = 0;        // its process group; 0 when not running
  int64_t uptime = -1;  // seconds since it came online; -1 when not online
  int restarts = 0;
  bool controllable = false;  // restart, stop and start apply
};

class Dashboard {
 public:
  using Services = std::function<std::vector<ServiceView>()>;
  // Runs `action` (restart, stop, start) on `role`; returns why not, or an empty string when done.
  using Act = std::function<std::string(const std::string& role, const std::string& action)>;

  // Listens on 127.0.0.1:`port` (0: a port the OS picks); throws UserError when it cannot.
  Dashboard(boost::asio::io_context& io, const config::Application& app, const std::map<std::string, config::Service>& services,
            Services list, Act act, uint16_t port);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // http://localhost:<port>/?token=<token>
  std::string url() const;
  void log(std::string_view role, std::string_view text);
  // The services table changed: every page gets it now rather than at the next second.
  void services_changed();
  // Reads the trace of the ExoCom on `port` (again, after a restart), presenting `token`.
  void observe(uint16_t port, const std::string& token);
  // Closes every connection: `exo run` is ending.
  void close();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace exo::runner
