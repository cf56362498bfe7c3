#pragma once

// One ExoCom node of a cluster: several nodes joined through NATS, each routing for its own
// connections exactly as a single ExoCom does, NATS carrying only what crosses from one node to
// another. The design is in docs/protocol.md ("Cluster").

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exocom/federation.hpp"

namespace boost::asio {
class io_context;
}

namespace exo::exocom {

class Broker;
class TraceLog;

struct ClusterOptions {
  std::vector<std::string> urls;  // nats://host:port of one NATS cluster
  std::string node;               // this node's name: unique in the cluster
  std::string name = "exocom";    // the nodes of one application share it (NATS subjects start with it)
  std::chrono::milliseconds heartbeat{1000};         // a node silent for two of these is gone
  std::chrono::milliseconds connect_timeout{5000};   // NATS unreachable for this long at start: exit 1
  std::chrono::milliseconds join_wait{300};          // how long a starting node listens for the others
  int held_replicas = 1;                             // of the JetStream stream of held messages
  std::chrono::milliseconds held_max_age{60000};     // the buffer's time to live: copies go after it
};

// A node name as the cluster accepts it: letters, digits, '.', '_' and '-'.
bool valid_node_name(std::string_view name);

class Cluster : public Federation {
 public:
  Cluster(ClusterOptions options, Broker& broker, TraceLog& log, boost::asio::io_context& io);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Connects to NATS and joins the cluster. Throws UserError when NATS cannot be reached within the
  // connect timeout, when the other nodes route differently, or when another node has this name.
  void join();
  // Heartbeats, and forgetting silent nodes, on the I/O loop.
  void start();
  // What to do when this node cannot stay in the cluster (its name turns out taken): the reason.
  void on_fatal(std::function<void(const std::string&)> fatal);
  // Says goodbye, so the others forget this node's instances at once.
  void leave();

  // For /status and /metrics.
  std::string status_json() const;
  std::string metrics_text() const;

  // Federation
  void deliver(NodeIndex node, const Hop& hop, const Frame& frame) override;
  void confirm(NodeIndex origin, uint64_t seq) override;
  void give_back(NodeIndex origin, uint64_t seq) override;
  void forward(NodeIndex node, Forward kind, std::string_view text) override;
  uint64_t store_held(const HeldCopy& copy) override;
  void forget_held(uint64_t key) override;
  void local_instances_changed() override;
  const std::string& node_name(NodeIndex node) const override;
  NodeIndex node_of_session(std::string_view session_id) const override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::exocom
