// `exo run` on 20 trivial services: how long until "all services online" beyond the slowest
// service's own start, and how long from a file change to "restarted successfully".
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

using namespace exo;
using namespace exo::bench;
using namespace std::chrono_literals;

namespace {

constexpr int kServices = 20;
constexpr int kRuns = 5;
const char* kCommand = "echo ready; exec sleep 1000";

// Reads `fd` until `text` appears after `from`; returns the time it appeared.
Clock::time_point wait_for(int fd, std::string& seen, const std::string& text, size_t from = 0) {
  char buf[65536];
  while (seen.find(text, from) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) throw std::runtime_error("timed out waiting for '" + text + "'");
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) throw std::runtime_error("exo run ended: " + seen);
    seen.append(buf, static_cast<size_t>(n));
  }
  return Clock::now();
}

// How long one trivial service takes to print its online text on its own.
double own_start_ms() {
  double slowest = 0;
  for (int i = 0; i < kServices; ++i) {
    SpawnOptions o;
    o.argv = shell(kCommand);
    o.merge_stderr = true;
    auto t0 = Clock::now();
    Process p(o);
    std::string seen;
    auto t1 = wait_for(p.stdout_fd(), seen, "ready");
    slowest = std::max(slowest, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return slowest;
}

}  // namespace

int main(int argc, char** argv) {
  // Services start in their own folders: the binary needs a path that works from anywhere.
  std::string exo = std::filesystem::absolute(argc > 1 ? argv[1] : "build/release/src/cli/exo").string();
  TempDir dir("exo-run-bench");
  std::string yml = "name: bench\nservices:\n  public:\n";
  for (int i = 0; i < kServices; ++i) {
    std::string role = "svc" + std::to_string(i);
    yml += "    " + role + ":\n      location: ./" + role + "\n";
    write_file(dir.path() / role / "service.yml",
               std::string("startup:\n  command: ") + kCommand + "\n  online-text: ready\n");
  }
  write_file(dir.path() / "application.yml", yml);

  std::vector<double> overheads, restarts;
  for (int run = 0; run < kRuns; ++run) {
    double own = own_start_ms();
    SpawnOptions o;
    o.argv = {exo, "run"};
    o.cwd = dir.path();
    o.env["NO_COLOR"] = "1";
    o.merge_stderr = true;
    auto t0 = Clock::now();
    Process p(o);
    std::string seen;
    auto t1 = wait_for(p.stdout_fd(), seen, "all services online");
    overheads.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() - own);
    std::this_thread::sleep_for(200ms);
    size_t mark = seen.size();
    auto t2 = Clock::now();
    write_file(dir.path() / "svc7/changed.txt", std::to_string(run));
    auto t3 = wait_for(p.stdout_fd(), seen, "'svc7' restarted successfully", mark);
    restarts.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
    p.signal(SIGINT);
    p.wait();
  }
  std::sort(overheads.begin(), overheads.end());
  std::sort(restarts.begin(), restarts.end());
  std::printf("{\"key\":\"run_online_overhead_ms\",\"label\":\"exo run, %d trivial services: time to 'all services online' "
              "beyond the slowest service's own start (ms, median of %d)\",\"value\":%.1f,\"target\":200}\n",
              kServices, kRuns, overheads[overheads.size() / 2]);
  std::printf("{\"key\":\"run_restart_ms\",\"label\":\"exo run: file change to 'restarted successfully' for a trivial "
              "service (ms, median of %d)\",\"value\":%.1f,\"target\":500}\n",
              kRuns, restarts[restarts.size() / 2]);
  return 0;
}
