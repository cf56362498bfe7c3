#pragma once

// Small helpers shared by the benchmark drivers: latency samples, servers as child processes,
// and the one result format bench/run turns into docs/benchmarks.md.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>
#include <string>
#include <vector>

#include "common/files.hpp"
#include "common/process.hpp"

namespace exo::bench {

using Clock = std::chrono::steady_clock;

class Samples {
 public:
  void add(Clock::duration d) { us_.push_back(std::chrono::duration<double, std::micro>(d).count()); }
  void merge(const Samples& o) { us_.insert(us_.end(), o.us_.begin(), o.us_.end()); }
  double percentile(double p) {
    if (us_.empty()) return 0;
    std::sort(us_.begin(), us_.end());
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(us_.size() - 1));
    return us_[i];
  }
  size_t size() const { return us_.size(); }

 private:
  std::vector<double> us_;
};

// One result line: `{"key":..,"label":..,"exocom":..,"nats":..,"higher_is_better":..}`.
inline void report(const char* key, const char* label, double ours, double peer, bool higher_is_better,
                   const char* peer_name = "nats") {
  std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"exocom\":%.3f,\"%s\":%.3f,\"higher_is_better\":%s}\n", key, label, ours,
              peer_name, peer, higher_is_better ? "true" : "false");
  std::fflush(stdout);
}

// A cluster figure, with the same measure on one ExoCom and (when it has one) on NATS alone.
inline void report_cluster(const char* key, const char* label, double cluster, double one_node, double nats,
                           bool higher_is_better) {
  std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"cluster\":%.3f,\"one_node\":%.3f,\"nats\":%.3f,"
              "\"higher_is_better\":%s}\n",
              key, label, cluster, one_node, nats, higher_is_better ? "true" : "false");
  std::fflush(stdout);
}

inline double rss_mb(pid_t pid) {
  auto status = try_read_file("/proc/" + std::to_string(pid) + "/status");
  if (!status) return 0;
  std::smatch m;
  std::regex re("VmRSS:\\s+(\\d+) kB");
  if (!std::regex_search(*status, m, re)) return 0;
  return std::stod(m[1]) / 1024.0;
}

struct Server {
  Process process;
  uint16_t port = 0;
  pid_t pid = 0;
};

// Starts `argv`, reads its merged output until `pattern` (with the port in group 1) appears.
inline Server start_server(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                           const std::string& pattern) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.env = env;
  o.capture = true;
  o.merge_stderr = true;
  Server s{Process(o), 0, 0};
  s.pid = s.process.pid();
  std::string text;
  std::regex re(pattern);
  char buf[4096];
  while (true) {
    ssize_t n = ::read(s.process.stdout_fd(), buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("server did not start: " + text);
    text.append(buf, static_cast<size_t>(n));
    std::smatch m;
    if (std::regex_search(text, m, re)) {
      s.port = static_cast<uint16_t>(std::stoi(m[1]));
      break;
    }
  }
  // Nothing reads its output any more: send it to /dev/null rather than fill the pipe.
  int fd = s.process.release_stdout();
  std::thread([fd] {
    char sink[4096];
    while (::read(fd, sink, sizeof sink) > 0) {
    }
    ::close(fd);
  }).detach();
  return s;
}

inline Server start_exocom(const std::string& binary, const std::string& routes, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {binary, "--host", "127.0.0.1", "--port", "0", "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return start_server(argv, {{"SERVICE_DATA", routes}}, "ExoCom online at port (\\d+)");
}

inline Server start_nats() {
  return start_server({"nats-server", "-a", "127.0.0.1", "-p", "-1"}, {},
                      "Listening for client connections on 127.0.0.1:(\\d+)");
}

}  // namespace exo::bench
