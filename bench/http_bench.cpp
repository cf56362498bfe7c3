// The SDK's HTTP server under a slow-client attack: 1,000 connections that each trickle one byte of
// an endless request header every two seconds, while a normal client fetches a page, over a new
// connection each time and over one kept-alive connection. The server runs in its own process
// (`http_bench serve`); its request p99 under the attack is held to twice its idle p99.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.hpp"
#include "common/net.hpp"
#include "exosphere/http.hpp"

using namespace exo;
using namespace exo::bench;
using namespace std::chrono_literals;

namespace {

constexpr int kTricklers = 1000;
constexpr int kRequests = 3000;
constexpr int kWarmup = 300;

int serve() {
  exosphere::http::Server web;
  web.get("/ping", [](const exosphere::http::Request&) { return exosphere::http::Response::text("pong"); });
  std::printf("listening on port %u\n", web.listen(0, "127.0.0.1"));
  std::fflush(stdout);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}

int connect_to(uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) throw std::runtime_error("cannot connect");
  return fd;
}

// Reads one response whose body is "pong": headers, then the four bytes.
void read_response(int fd) {
  std::string in;
  char buf[1024];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("the server closed the connection mid-response");
    in.append(buf, static_cast<size_t>(n));
    auto end = in.find("\r\n\r\n");
    if (end != std::string::npos && in.size() >= end + 4 + 4) return;
  }
}

Samples fresh_connections(uint16_t port) {
  static const std::string kRequest = "GET /ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  Samples s;
  for (int i = 0; i < kWarmup + kRequests; ++i) {
    auto t0 = Clock::now();
    int fd = connect_to(port);
    (void)!::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
    read_response(fd);
    ::close(fd);
    if (i >= kWarmup) s.add(Clock::now() - t0);
  }
  return s;
}

Samples kept_alive(uint16_t port) {
  static const std::string kRequest = "GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n";
  Samples s;
  int fd = connect_to(port);
  for (int i = 0; i < kWarmup + kRequests; ++i) {
    auto t0 = Clock::now();
    (void)!::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL);
    read_response(fd);
    if (i >= kWarmup) s.add(Clock::now() - t0);
  }
  ::close(fd);
  return s;
}

// Keeps `kTricklers` connections open, each sending one more header byte every two seconds; a
// connection the server cuts off is replaced at once, as an attacker would.
class Tricklers {
 public:
  explicit Tricklers(uint16_t port) : port_(port) {
    for (int i = 0; i < kTricklers; ++i) fds_.push_back(open_one());
    thread_ = std::thread([this] { run(); });
  }
  ~Tricklers() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) ::close(fd);
  }
  int replaced() const { return replaced_; }

 private:
  int open_one() {
    int fd = connect_to(port_);
    static const std::string kStart = "GET /ping HTTP/1.1\r\nHost: bench\r\nX-Trickle: ";
    (void)!::send(fd, kStart.data(), kStart.size(), MSG_NOSIGNAL);
    return fd;
  }
  void run() {
    // 1,000 connections, one byte each every 2 s: one send every 2 ms.
    for (size_t i = 0; !stop_; i = (i + 1) % fds_.size()) {
      std::this_thread::sleep_for(2ms);
      pollfd p{fds_[i], POLLIN, 0};
      bool closed = ::poll(&p, 1, 0) == 1;  // the server answered (408/400) or closed it
      if (closed || ::send(fds_[i], "a", 1, MSG_NOSIGNAL) != 1) {
        ::close(fds_[i]);
        fds_[i] = open_one();
        ++replaced_;
      }
    }
  }
  uint16_t port_;
  std::vector<int> fds_;
  std::atomic<bool> stop_{false};
  std::atomic<int> replaced_{0};
  std::thread thread_;
};

void line(const char* key, const char* label, double value, double target = -1) {
  if (target >= 0)
    std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"value\":%.2f,\"target\":%.2f}\n", key, label, value, target);
  else
    std::printf("{\"key\":\"%s\",\"label\":\"%s\",\"value\":%.2f}\n", key, label, value);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  raise_open_file_limit();
  if (argc > 1 && std::string_view(argv[1]) == "serve") return serve();
  Server server = start_server({argv[0], "serve"}, {}, "listening on port (\\d+)");

  Samples idle_fresh = fresh_connections(server.port);
  Samples idle_kept = kept_alive(server.port);
  Samples attacked_fresh, attacked_kept;
  double rss = 0;
  int replaced = 0;
  {
    Tricklers attack(server.port);
    std::this_thread::sleep_for(3s);  // every trickler has sent a byte or two
    attacked_fresh = fresh_connections(server.port);
    attacked_kept = kept_alive(server.port);
    rss = rss_mb(server.pid);
    replaced = attack.replaced();
  }
  double idle_fresh_p99 = idle_fresh.percentile(99), idle_kept_p99 = idle_kept.percentile(99);
  line("http_idle_fresh_p50", "HTTP server, idle: request over a new connection, p50 (µs)", idle_fresh.percentile(50));
  line("http_idle_fresh_p99", "HTTP server, idle: request over a new connection, p99 (µs)", idle_fresh_p99);
  line("http_trickle_fresh_p50", "HTTP server, 1,000 trickling connections: request over a new connection, p50 (µs)",
       attacked_fresh.percentile(50));
  line("http_trickle_fresh_p99",
       "HTTP server, 1,000 trickling connections: request over a new connection, p99 (µs); target: 2× idle p99",
       attacked_fresh.percentile(99), 2 * idle_fresh_p99);
  line("http_idle_kept_p99", "HTTP server, idle: request on a kept-alive connection, p99 (µs)", idle_kept_p99);
  line("http_trickle_kept_p99",
       "HTTP server, 1,000 trickling connections: request on a kept-alive connection, p99 (µs); target: 2× idle p99",
       attacked_kept.percentile(99), 2 * idle_kept_p99);
  line("http_trickle_rss_mb", "HTTP server RSS with 1,000 trickling connections (MB)", rss);
  line("http_trickle_replaced", "trickling connections the server cut off during the run (request timeout 15 s)", replaced);
  return 0;
}
