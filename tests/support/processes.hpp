#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/process.hpp"

namespace exo::test {

using namespace std::chrono_literals;

// Collects everything a child writes (stdout and stderr together) on a background thread, so a
// test can wait for a line without ever blocking the child.
class OutputWatcher {
 public:
  explicit OutputWatcher(int fd);  // takes ownership of the read end
  ~OutputWatcher();
  std::string text() const;
  // Waits until `needle` appears after byte `from`; returns its position, or npos on timeout.
  size_t wait_for(std::string_view needle, std::chrono::milliseconds timeout = 10s, size_t from = 0) const;
  size_t count(std::string_view needle) const;
  bool ended() const;
  // Waits (at most `timeout`) until the writer closed its end, so the text is complete.
  void wait_ended(std::chrono::milliseconds timeout) const;

 private:
  int fd_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string text_;
  bool ended_ = false;
  std::thread reader_;
};

// A child process whose output is watched: the way tests run exocom, services and `exo run`.
class Watched {
 public:
  explicit Watched(SpawnOptions options);
  Process& process() { return process_; }
  OutputWatcher& output() { return *output_; }
  int stop(std::chrono::milliseconds grace = 5s) { return process_.stop(grace); }
  void signal(int sig) { process_.signal(sig); }
  // Waits for the process to exit by itself; nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10s);

 private:
  // The process goes first when destroyed, so the watcher then sees the end of its output.
  std::unique_ptr<OutputWatcher> output_;
  Process process_;
};

// A real exocom on 127.0.0.1 and a port the OS picks.
class Exocom {
 public:
  // `service_data` is SERVICE_DATA (empty: none); `args` are extra flags.
  explicit Exocom(std::string service_data, std::vector<std::string> args = {},
                  std::map<std::string, std::string> env = {});
  uint16_t port() const { return port_; }
  OutputWatcher& output() { return watched_->output(); }
  Process& process() { return watched_->process(); }
  int stop() { return watched_->stop(); }
  // An HTTP GET on the bus port: status code and body.
  std::pair<int, std::string> get(std::string_view path) const;

 private:
  std::unique_ptr<Watched> watched_;
  uint16_t port_ = 0;
};

std::string exocom_binary();
// Live (not zombie) processes whose command line or environment contains `token`: what a test
// left behind.
std::vector<int> processes_with(std::string_view token);
// `exo` with arguments in `cwd`, its output watched (for commands that keep running, like run).
std::unique_ptr<Watched> start_exo(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                                   std::map<std::string, std::string> env = {});
// The port number written right after `marker` in `text` (a server's start-up line); throws when
// there is none. Plain string search: std::regex races on the locale in threads under TSan.
uint16_t port_after(const std::string& text, std::string_view marker);

// A plain HTTP/1.1 GET to 127.0.0.1:port; status 0 when nothing answers.
std::pair<int, std::string> http_get(uint16_t port, std::string_view path, std::chrono::milliseconds timeout = 5s);

}  // namespace exo::test
