#include "support/postgres.hpp"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "common/process.hpp"
#include "runner/ports.hpp"

namespace exo::test {

namespace {
const std::string kBin = "/usr/lib/postgresql/15/bin/";

RunResult as_postgres(std::vector<std::string> argv) {
  if (geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  SpawnOptions o;
  o.argv = argv;
  o.merge_stderr = true;
  return run_captured(o, {}, std::chrono::minutes(2));
}
}  // namespace

bool PostgresServer::available() { return std::filesystem::exists(kBin + "initdb"); }

PostgresServer::PostgresServer() {
  dir_ = std::make_unique<TempDir>("exo-pg");
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (!pw) throw std::runtime_error("no postgres user to run PostgreSQL as");
    std::filesystem::permissions(dir_->path(), std::filesystem::perms::all);
    if (chown(dir_->path().c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("cannot chown the data folder");
  }
  auto r = as_postgres({kBin + "initdb", "-D", (dir_->path() / "data").string(), "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8"});
  if (r.exit_code != 0) throw std::runtime_error("initdb failed: " + r.out);
  port_ = runner::free_port();
  start();
}

void PostgresServer::start() {
  std::string options = "-p " + std::to_string(port_) + " -k " + dir_->path().string() +
                        " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off";
  auto r = as_postgres({kBin + "pg_ctl", "-D", (dir_->path() / "data").string(), "-o", options, "-l",
                        (dir_->path() / "log").string(), "-w", "start"});
  if (r.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + r.out);
  running_ = true;
}

void PostgresServer::stop() {
  if (!running_) return;
  as_postgres({kBin + "pg_ctl", "-D", (dir_->path() / "data").string(), "-m", "immediate", "-w", "stop"});
  running_ = false;
}

PostgresServer::~PostgresServer() { stop(); }

std::string PostgresServer::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres?connect_timeout=5";
}

}  // namespace exo::test
