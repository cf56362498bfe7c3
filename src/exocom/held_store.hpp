#pragma once

// Held messages kept in a JetStream stream as well as in memory (docs/protocol.md, "Cluster"), so
// that when the node holding them dies another node delivers them.
//
// Each node writes the messages it holds to `<cluster>.held.<role>.<node>` in the stream
// `EXOCOM_HELD_<cluster>` (limits retention, kept for the buffer's time to live). A copy goes once
// its message reached a receiver. The node that outlives another (the first alive by name) adopts
// what the other left there; a node also adopts what its own previous run left.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

typedef struct __natsConnection natsConnection;

#include "exocom/federation.hpp"

namespace boost::asio {
class io_context;
}

namespace exo::exocom {

class TraceLog;

class HeldStore {
 public:
  using Message = HeldCopy;
  struct Events {
    std::function<void(uint64_t key)> stored;                 // JetStream has the copy
    std::function<void(uint64_t key)> not_stored;             // it does not (the message stays in memory only)
    std::function<void(std::vector<Message>)> adopted;        // copies another run left, in order
  };

  // nullptr when the NATS server has no JetStream (`why` says so). Events run on `io`.
  static std::unique_ptr<HeldStore> open(natsConnection* nc, const std::string& cluster, const std::string& node,
                                         int replicas, std::chrono::milliseconds max_age, boost::asio::io_context& io,
                                         TraceLog& log, Events events, std::string& why);
  ~HeldStore();
  HeldStore(const HeldStore&) = delete;
  HeldStore& operator=(const HeldStore&) = delete;

  // Stores a copy of a message this node holds; its key.
  uint64_t put(const Message& message);
  // The message reached its receiver: its copy may go.
  void forget(uint64_t key);
  // Reads all that `node` left (a node that died, or this node's previous run) for `adopted`,
  // retrying until it is all read (or has expired); logs how many it took and could not take.
  // With `run` (the dead node's boot id), only after claiming that run in JetStream, so that of
  // two nodes burying it only one takes its messages over.
  void adopt(const std::string& node, const std::string& run = {});
  size_t copies() const;  // held here now and confirmed by JetStream, for /status
  // Waits (a second at most) for JetStream's answers to the copies in flight, before the
  // connection closes: none may arrive once this store is gone.
  void settle();

  struct Impl;

 private:
  explicit HeldStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace exo::exocom
