#pragma once

// What the broker of one ExoCom node needs from the cluster it belongs to, and what it tells it.
// exocom/cluster.hpp implements this over NATS; a node without --cluster has none.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "exocom/frame.hpp"

namespace exo::exocom {

// Nodes are numbered by the federation; 0 is this node.
using NodeIndex = uint32_t;
constexpr NodeIndex kThisNode = 0;

// What travels with a message from one node to another, besides the message as delivered.
struct Hop {
  std::string_view to_role;
  std::string_view to_instance;    // the instance chosen by the sending node
  std::string_view from_role;      // the role that sent it ("exocom" for ExoCom's own messages)
  std::string_view from_instance;  // the sending instance's key (empty for ExoCom's own)
  std::string_view activity;       // decoded activity id, empty when none
  uint64_t seq = 0;                // the sending node's number for it: its order, and its receipt
};

// A delivery another node gave back (the instance was gone or closed before it was written), or
// that was sent to a node that went away: the sending node routes it again, in its order.
struct Returned {
  uint64_t seq;
  std::string to_role, to_instance, from_role, from_instance, activity;
  Frame frame;
};

// A message a node holds, as it keeps a copy of it where other nodes find it.
struct HeldCopy {
  uint64_t key = 0;  // the federation's name for the copy
  std::string role, from_role, from_instance, activity, text;
};

// An instance as the nodes announce them.
struct InstanceInfo {
  std::string key;
  std::string role;
  uint64_t epoch = 0;
};

// What a node forwards to the node an activity belongs to.
enum class Forward : char {
  verdict = 'V',  // the security service's verdict, for the node holding the message it judged
  answer = 'R',   // the answer to a security data request, for the node that made the request
};

class Federation {
 public:
  virtual ~Federation() = default;
  // Queues a delivery to an instance connected to `node` (sent at the end of the current batch);
  // it stays in this node's custody until that node confirms it or gives it back.
  virtual void deliver(NodeIndex node, const Hop& hop, const Frame& frame) = 0;
  // Tells the node a delivery came from that it reached its instance (`seq` is that node's number).
  virtual void confirm(NodeIndex origin, uint64_t seq) = 0;
  // Gives a delivery back to the node it came from.
  virtual void give_back(NodeIndex origin, uint64_t seq) = 0;
  // Sends `text` (a message from a local service) to the node that holds its activity.
  virtual void forward(NodeIndex node, Forward kind, std::string_view text) = 0;
  // Keeps a copy of a message this node holds where the others find it should this node die; its
  // key, or 0 when there is no such place (memory is all there is). Broker::held_stored follows.
  virtual uint64_t store_held(const HeldCopy& copy) = 0;
  // The held message reached its receiver: its copy may go.
  virtual void forget_held(uint64_t key) = 0;
  // The local instances changed: announce them now, before any message they send leaves.
  virtual void local_instances_changed() = 0;
  virtual const std::string& node_name(NodeIndex node) const = 0;
  // The node a gateway session belongs to (the prefix of its id), or kThisNode.
  virtual NodeIndex node_of_session(std::string_view session_id) const = 0;
};

}  // namespace exo::exocom
