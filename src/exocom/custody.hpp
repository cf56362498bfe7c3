#pragma once

// Who still answers for a message (docs/protocol.md, "Receipts").
//
// A client that registers with receipts keeps every message it sends until ExoCom tells it,
// with `exocom.accepted`, that each delivery of the message is done: written to the receiving
// connection, confirmed by the node it went to, or held. When its connection breaks, it sends
// again what was not accepted (receivers drop the copies they already had, by message id). A
// delivery another node sent here stays in that node's keeping the same way until this node
// confirms it. Every delivery someone waits for carries a ticket until it is done.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

#include "exocom/federation.hpp"

namespace exo::exocom {

using Ticket = uint64_t;  // a delivery someone waits for
constexpr Ticket kNoTicket = 0;

// The most deliveries written to one client with receipts, or sent to one other node, that are not
// yet confirmed; the rest wait their turn. It bounds the copies a failure can make a receiver see
// twice, and so the ids a client must remember to drop them (the SDK remembers four windows).
constexpr size_t kDeliveryWindow = 4096;

class Custody {
 public:
  // Whom a ticket answers to: a client of this node (its message number) or another node (its
  // delivery number).
  struct Claim {
    uint64_t peer = 0, number = 0;
    NodeIndex node = kThisNode;
    uint64_t seq = 0;
    uint64_t copy = 0;  // a held message's stored copy, to forget once it is delivered
  };

  // The client registered with receipts: its messages are numbered from 1 on.
  void open(uint64_t peer);
  // The client is gone: it sends again whatever was not accepted, so nothing is owed to it.
  void close(uint64_t peer);
  bool keeps(uint64_t peer) const { return clients_.count(peer) > 0; }

  // Routing one message of `peer`: every delivery of it takes a ticket until `routed()`.
  void routing(uint64_t peer);
  void routed();
  // Routing an earlier delivery again (its connection closed before writing it): it keeps its
  // ticket. `rerouted()` returns the ticket when no delivery took it (dropped on the way: done).
  void rerouting(Ticket ticket);
  Ticket rerouted();
  // A ticket for a delivery of what is being routed; kNoTicket when nobody waits for it.
  Ticket take();

  // A delivery from another node, on its way to a connection here.
  Ticket from_node(NodeIndex node, uint64_t seq);
  // A held message whose copy is stored (federation key `copy`), on its way to a receiver.
  Ticket for_copy(uint64_t copy);
  // The delivery is done: whom that tells (the claim, with its ticket gone).
  Claim done(Ticket ticket);
  const Claim* claim(Ticket ticket) const {
    auto it = tickets_.find(ticket);
    return it == tickets_.end() ? nullptr : &it->second;
  }

  // Clients owed a receipt: (peer, how many of its messages are accepted), each once per change.
  std::vector<std::pair<uint64_t, uint64_t>> take_receipts();
  bool receipts_due() const { return !due_.empty(); }
  // Some client has many accepted messages it was not told of yet: tell it now, not later.
  bool receipts_urgent() const { return urgent_; }
  size_t open_tickets() const { return tickets_.size(); }

 private:
  struct Client {
    uint64_t first = 1;             // the oldest message not yet accepted
    std::deque<uint32_t> open;      // deliveries not done, from `first` on (+1 while routing)
    uint64_t told = 0;              // the count in the last receipt
  };
  void finished(uint64_t peer, uint64_t number);

  std::unordered_map<uint64_t, Client> clients_;
  std::unordered_map<Ticket, Claim> tickets_;
  Ticket next_ = 1;
  uint64_t routing_peer_ = 0, routing_number_ = 0;
  bool rerouting_ = false;
  Ticket reuse_ = kNoTicket;
  std::vector<uint64_t> due_;
  bool urgent_ = false;
};

}  // namespace exo::exocom
