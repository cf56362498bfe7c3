// Restart on change under `exo run`: a service's files change; once the burst of changes is over
// it restarts, after running its setup when the changes call for it, with service.yml reloaded
// when that changed. On the supervisor's event loop; the restart itself is the supervisor's event.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "runner/child_io.hpp"
#include "runner/lifecycle.hpp"
#include "runner/runner.hpp"
#include "runner/unit.hpp"
#include "runner/watcher.hpp"

namespace exo::runner {

class ChangeWatch {
 public:
  // `services` is the supervisor's copy, where a reloaded service.yml goes; `shown` says whether
  // a role's lines (its setup's too) are printed.
  ChangeWatch(boost::asio::io_context& io, Children& children, Logger& log,
              std::map<std::string, config::Service>& services, const RunOptions& options,
              std::function<bool(const std::string& role)> shown);
  ChangeWatch(const ChangeWatch&) = delete;
  ChangeWatch& operator=(const ChangeWatch&) = delete;

  // Watches a service's folder. `restart` sends it Event::restart; `unit` and `life` outlive the watch.
  void add(UnitSpec& unit, const Lifecycle& life, std::function<void()> restart);
  void start();
  // A change seen while the service restarted applies once it is ready.
  void became_ready(const std::string& role);
  // exo run stops: changes are no longer read or acted on, running setups get SIGTERM.
  void stop();

 private:
  struct Watched {
    UnitSpec* unit = nullptr;
    const Lifecycle* life = nullptr;
    std::function<void()> restart;
    std::optional<std::filesystem::path> pending_change;  // a change seen while restarting
    std::unique_ptr<boost::asio::steady_timer> debounce;
    // Paths changed within the debounce window, with their first and last event.
    std::map<std::filesystem::path, std::pair<std::string, std::string>> changes;
    bool setup_needed = false;
    std::shared_ptr<Child> setup_job;
  };

  void wait_for_changes();
  void changed(Watched& w, const std::filesystem::path& path, const char* what);
  void settle(Watched& w);
  void reload(Watched& w);
  void run_setup(Watched& w);

  boost::asio::io_context& io_;
  Children& children_;
  Logger& log_;
  std::map<std::string, config::Service>& services_;
  const RunOptions& options_;
  std::function<bool(const std::string&)> shown_;
  Watcher watcher_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> descriptor_;
  std::map<std::string, Watched> watched_;  // by role
  bool stopped_ = false;
};

}  // namespace exo::runner
