#pragma once

// The bus a test talks to: one ExoCom, or a cluster of three ExoCom nodes joined through a real
// nats-server. The integration suites run every scenario both ways (TEST_P over BusKind): in a
// cluster, each connection goes to a node of its own, so senders and receivers sit on different
// nodes.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/files.hpp"
#include "support/processes.hpp"

namespace exo::test {

enum class BusKind { single, cluster };
std::string to_string(BusKind kind);  // for test names: "single", "cluster"

// A real nats-server on 127.0.0.1 and a port the OS picks, optionally with JetStream.
class Nats {
 public:
  explicit Nats(bool jetstream = false, uint16_t port = 0);
  uint16_t port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  Process& process() { return watched_->process(); }
  void kill();                // kill -9, as a lost server
  void start_again();         // on the same port and data folder
  // Publishes `payload` on `subject` as any NATS client could (the wire protocol, by hand).
  void publish(std::string_view subject, std::string_view payload);

 private:
  void start();
  bool jetstream_;
  std::unique_ptr<TempDir> data_;
  std::unique_ptr<Watched> watched_;
  uint16_t port_ = 0;
};

// What several nodes printed, searched as one.
class BusOutput {
 public:
  explicit BusOutput(std::vector<OutputWatcher*> nodes) : nodes_(std::move(nodes)) {}
  // Some node printed `needle` (within `timeout`): its position in that node's output, else npos.
  size_t wait_for(std::string_view needle, std::chrono::milliseconds timeout = 10s) const;
  size_t count(std::string_view needle) const;
  std::string text() const;

 private:
  std::vector<OutputWatcher*> nodes_;
};

class Bus {
 public:
  static constexpr int kClusterNodes = 3;
  static constexpr std::chrono::milliseconds kHeartbeat{250};  // of the test clusters: fast expiry
  // `service_data` is SERVICE_DATA; `args` are extra flags for every node.
  Bus(BusKind kind, std::string service_data, std::vector<std::string> args = {},
      std::map<std::string, std::string> env = {}, bool jetstream = false);
  // Every node's address, `first` first: what a client that starts on that node lists.
  std::string addresses(size_t first) const;
  BusKind kind() const { return kind_; }
  bool clustered() const { return kind_ == BusKind::cluster; }
  // The port of node 0 (the only node of a single bus).
  uint16_t port() const { return nodes_.front()->port(); }
  uint16_t port(size_t node) const { return nodes_.at(node)->port(); }
  size_t nodes() const { return nodes_.size(); }
  // The node the next connection of `role` goes to: every connection on a node of its own, in turn.
  size_t node_for(std::string_view role);
  Exocom& node(size_t i) { return *nodes_.at(i); }
  BusOutput output() const;
  // An HTTP GET on node 0.
  std::pair<int, std::string> get(std::string_view path) const { return nodes_.front()->get(path); }
  // Waits until every node knows `n` instances of `role` (in a cluster, announcements travel).
  bool wait_known(std::string_view role, size_t n, std::chrono::milliseconds timeout = 5s);
  // Waits until no node knows more than `n` instances of `role`.
  bool wait_gone(std::string_view role, size_t n, std::chrono::milliseconds timeout = 5s);
  Nats* nats() { return nats_.get(); }
  const std::string& cluster_name() const { return cluster_; }
  // The flags that make an exocom a node of this cluster, named `node`.
  std::vector<std::string> node_args(const std::string& node) const;

 private:
  // Instances of `role` each node knows (its own and the other nodes').
  std::vector<size_t> known(std::string_view role) const;
  BusKind kind_;
  std::string cluster_;
  std::unique_ptr<Nats> nats_;
  std::vector<std::unique_ptr<Exocom>> nodes_;
  std::map<std::string, size_t, std::less<>> connections_of_;
  size_t next_node_ = 0;
};

}  // namespace exo::test
