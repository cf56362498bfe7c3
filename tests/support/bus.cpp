#include "support/bus.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <stdexcept>
#include <thread>

#include <boost/json/parse.hpp>

#include "common/ids.hpp"
#include "common/net.hpp"

namespace exo::test {

std::string to_string(BusKind kind) { return kind == BusKind::single ? "single" : "cluster"; }

Nats::Nats(bool jetstream, uint16_t port) : jetstream_(jetstream), port_(port) {
  if (jetstream_) data_ = std::make_unique<TempDir>("nats");
  start();
}

void Nats::start() {
  SpawnOptions o;
  o.argv = {"nats-server", "-a", "127.0.0.1", "-p", port_ ? std::to_string(port_) : "-1"};
  if (jetstream_) o.argv.insert(o.argv.end(), {"-js", "-sd", data_->path().string()});
  watched_ = std::make_unique<Watched>(o);
  if (watched_->output().wait_for("Server is ready", 10s) == std::string::npos)
    throw std::runtime_error("nats-server did not start: " + watched_->output().text());
  port_ = port_after(watched_->output().text(), "Listening for client connections on 127.0.0.1:");
}

void Nats::kill() {
  watched_->signal(SIGKILL);
  watched_->process().wait();
}

void Nats::start_again() { start(); }

void Nats::publish(std::string_view subject, std::string_view payload) {
  int fd = connect_loopback(port_);
  if (fd < 0) throw std::runtime_error("cannot connect to nats-server");
  timeval wait{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  std::string out = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB " + std::string(subject) + " " +
                    std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\nPING\r\n";
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  // The server answers PONG once everything before it was processed.
  std::string in;
  char buf[4096];
  while (in.find("PONG") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (in.find("PONG") == std::string::npos) throw std::runtime_error("nats-server did not take the message: " + in);
}

size_t BusOutput::wait_for(std::string_view needle, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (auto* n : nodes_)
      if (size_t pos = n->wait_for(needle, 0ms); pos != std::string::npos) return pos;
    if (std::chrono::steady_clock::now() >= deadline) return std::string::npos;
    std::this_thread::sleep_for(5ms);
  }
}

size_t BusOutput::count(std::string_view needle) const {
  size_t n = 0;
  for (auto* node : nodes_) n += node->count(needle);
  return n;
}

std::string BusOutput::text() const {
  std::string out;
  for (size_t i = 0; i < nodes_.size(); ++i) out += (nodes_.size() > 1 ? "--- node " + std::to_string(i) + "\n" : "") + nodes_[i]->text();
  return out;
}

Bus::Bus(BusKind kind, std::string service_data, std::vector<std::string> args, std::map<std::string, std::string> env,
         bool jetstream)
    : kind_(kind) {
  if (kind_ == BusKind::single) {
    nodes_.push_back(std::make_unique<Exocom>(std::move(service_data), std::move(args), std::move(env)));
    return;
  }
  nats_ = std::make_unique<Nats>(jetstream);
  cluster_ = "t" + random_hex(6);  // a cluster of its own per test
  // The nodes start side by side, as a deployment starts them.
  std::vector<std::future<std::unique_ptr<Exocom>>> starting;
  for (int i = 0; i < kClusterNodes; ++i) {
    std::vector<std::string> flags = args;
    for (auto& flag : node_args("n" + std::to_string(i))) flags.push_back(std::move(flag));
    starting.push_back(std::async(std::launch::async, [=] { return std::make_unique<Exocom>(service_data, flags, env); }));
  }
  for (auto& node : starting) nodes_.push_back(node.get());
}

std::string Bus::addresses(size_t first) const {
  std::string out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    out += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(port((first + i) % nodes_.size()));
  return out;
}

std::vector<std::string> Bus::node_args(const std::string& node) const {
  return {"--cluster", nats_->url(), "--node-name", node, "--cluster-name", cluster_, "--heartbeat", std::to_string(kHeartbeat.count())};
}

size_t Bus::node_for(std::string_view role) {
  if (nodes_.size() == 1) return 0;
  // A role's first connection on the next node in turn, its later ones on the nodes after that.
  auto it = connections_of_.find(role);
  if (it == connections_of_.end()) it = connections_of_.emplace(std::string(role), next_node_++).first;
  return it->second++ % nodes_.size();
}

BusOutput Bus::output() const {
  std::vector<OutputWatcher*> watchers;
  for (const auto& n : nodes_) watchers.push_back(&n->output());
  return BusOutput(std::move(watchers));
}

std::vector<size_t> Bus::known(std::string_view role) const {
  std::vector<size_t> out;
  for (const auto& node : nodes_) {
    auto [status, body] = node->get("/status");
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    size_t n = 0;
    if (!ec && v.is_object())
      if (auto* roles = v.get_object().if_contains("roles"); roles && roles->is_object())
        if (auto* r = roles->get_object().if_contains(role); r && r->is_object()) {
          const auto& o = r->get_object();
          for (const char* key : {"instances", "remote"})
            if (auto* c = o.if_contains(key); c && c->is_number()) n += c->to_number<size_t>();
        }
    out.push_back(n);
  }
  return out;
}

bool Bus::wait_known(std::string_view role, size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto counts = known(role);
    if (std::all_of(counts.begin(), counts.end(), [&](size_t c) { return c >= n; })) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool Bus::wait_gone(std::string_view role, size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto counts = known(role);
    if (std::all_of(counts.begin(), counts.end(), [&](size_t c) { return c <= n; })) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace exo::test
