#include "runner/change_watch.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace exo::runner {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using error_code = boost::system::error_code;

ChangeWatch::ChangeWatch(asio::io_context& io, Children& children, Logger& log,
                         std::map<std::string, config::Service>& services, const RunOptions& options,
                         std::function<bool(const std::string& role)> shown)
    : io_(io), children_(children), log_(log), services_(services), options_(options), shown_(std::move(shown)) {}

void ChangeWatch::add(UnitSpec& unit, const Lifecycle& life, std::function<void()> restart) {
  watcher_.add(unit.role, unit.dir, unit.service->restart.ignore);
  Watched& w = watched_[unit.role];
  w.unit = &unit;
  w.life = &life;
  w.restart = std::move(restart);
}

void ChangeWatch::start() {
  descriptor_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(watcher_.fd()));
  wait_for_changes();
}

void ChangeWatch::became_ready(const std::string& role) {
  auto it = watched_.find(role);
  if (it == watched_.end() || !it->second.pending_change) return;
  Watched& w = it->second;
  auto path = *w.pending_change;
  w.pending_change.reset();
  changed(w, path, "changed");
}

void ChangeWatch::stop() {
  stopped_ = true;
  if (descriptor_) descriptor_->close();
  for (auto& [role, w] : watched_) {
    if (w.debounce) w.debounce->cancel();
    if (w.setup_job && !w.setup_job->exited) w.setup_job->process.signal(SIGTERM);
  }
}

void ChangeWatch::wait_for_changes() {
  descriptor_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const error_code& ec) {
    if (ec) return;
    int overflows = watcher_.overflows();
    watcher_.read([this](const std::string& role, const fs::path& path, const char* what) {
      changed(watched_.at(role), path, what);
    });
    if (watcher_.overflows() != overflows)
      log_.log(kRunRole, "too many file changes at once for the kernel's event queue; rescanned the service folders");
    wait_for_changes();
  });
}

void ChangeWatch::changed(Watched& w, const fs::path& path, const char* what) {
  if (stopped_) return;
  const Lifecycle& l = *w.life;
  // Not before its first start is over (its own build may write files), nor while stopped from
  // the dashboard; a crashed or given-up service starts again with the change.
  if (l.state == State::waiting || l.state == State::stopped || (l.state == State::starting && l.starts == 1)) return;
  if ((l.state == State::stopping && l.then_start) || (l.state == State::starting && l.ever_ready) || w.setup_job) {
    w.pending_change = path;
    return;
  }
  auto [it, fresh] = w.changes.try_emplace(path, what, what);
  if (!fresh) it->second.second = what;
  // Editors write in bursts: act once things are quiet.
  if (!w.debounce) w.debounce = std::make_unique<asio::steady_timer>(io_);
  w.debounce->expires_after(options_.debounce);
  w.debounce->async_wait([this, &w](const error_code& ec) {
    if (!ec) settle(w);
  });
}

// The burst is over. Files that appeared and vanished within it (an editor's or tool's temporary
// file saved by rename) are no change at all.
void ChangeWatch::settle(Watched& w) {
  UnitSpec& u = *w.unit;
  auto changes = std::move(w.changes);
  w.changes.clear();
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
      w.setup_needed = true;
  }
  if (!last) return;
  const auto& [changed_path, what] = *last;
  if (count > 1)
    log_.log(kRunRole, fmt::format("Restarting service '{}' because {} and {} more files changed", u.role,
                               changed_path.string(), count - 1));
  else
    log_.log(kRunRole, fmt::format("Restarting service '{}' because {} was {}", u.role, changed_path.string(), what));
  if (changed_path.filename() == "service.yml") reload(w);
  if (w.setup_needed) {
    w.setup_needed = false;
    return run_setup(w);
  }
  w.restart();
}

// A changed service.yml takes effect with the restart (its routes need a new exo run).
void ChangeWatch::reload(Watched& w) {
  UnitSpec& u = *w.unit;
  try {
    config::Warnings warnings;
    config::Service fresh = config::load_service(u.dir, warnings);
    for (const auto& line : warnings.lines) log_.log(kRunRole, "Warning: " + line);
    if (fresh.startup.command.empty()) throw UserError(fresh.file + ": startup.command is missing");
    services_[u.role] = std::move(fresh);
    const config::Service& s = services_.at(u.role);
    u.service = &s;
    u.command = s.startup.command;
    u.online_text = s.startup.online_text;
    u.health = s.startup.health_check;
    u.timeout = std::chrono::seconds(s.startup.timeout_seconds);
  } catch (const UserError& e) {
    log_.error(kRunRole, std::string(e.what()) + "; keeping the previous settings of '" + u.role + "'");
  }
}

// Rebuilds while the old version keeps serving; restarts only when the build succeeded.
void ChangeWatch::run_setup(Watched& w) {
  const UnitSpec& u = *w.unit;
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
    log_.error(kRunRole, "setup of '" + u.role + "' could not start: " + e.what());
    return;
  }
  job->on_line = [this, &u](const std::string& line) {
    if (shown_(u.role)) log_.log(u.role, line);
  };
  job->on_exit = [this, &w](int code) {
    w.setup_job.reset();
    if (stopped_) return;
    if (code != 0) {
      log_.error(kRunRole, fmt::format("setup of '{}' failed with exit code {}; it keeps running the previous version",
                                   w.unit->role, code));
      return;
    }
    w.restart();
  };
  w.setup_job = job;
  children_.attach(job);
}

}  // namespace exo::runner
