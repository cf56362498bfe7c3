#include "exocom/custody.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace exo::exocom {

void Custody::open(uint64_t peer) { clients_.try_emplace(peer); }

void Custody::close(uint64_t peer) {
  clients_.erase(peer);
  std::erase(due_, peer);
}

void Custody::routing(uint64_t peer) {
  auto it = clients_.find(peer);
  if (it == clients_.end()) return;
  Client& c = it->second;
  routing_peer_ = peer;
  routing_number_ = c.first + c.open.size();
  c.open.push_back(1);  // held open until routed(), so a delivery done at once does not finish it early
}

void Custody::routed() {
  if (routing_peer_ == 0) return;
  finished(std::exchange(routing_peer_, 0), routing_number_);
}

void Custody::rerouting(Ticket ticket) {
  rerouting_ = true;
  reuse_ = ticket;
}

Ticket Custody::rerouted() {
  rerouting_ = false;
  return std::exchange(reuse_, kNoTicket);
}

Ticket Custody::take() {
  if (rerouting_) return std::exchange(reuse_, kNoTicket);
  if (routing_peer_ == 0) return kNoTicket;
  auto it = clients_.find(routing_peer_);
  if (it == clients_.end()) return kNoTicket;  // it left while its message was being routed
  Client& c = it->second;
  ++c.open[routing_number_ - c.first];
  Ticket t = next_++;
  tickets_.emplace(t, Claim{routing_peer_, routing_number_, kThisNode, 0});
  return t;
}

Ticket Custody::from_node(NodeIndex node, uint64_t seq) {
  Ticket t = next_++;
  tickets_.emplace(t, Claim{0, 0, node, seq});
  return t;
}

Ticket Custody::for_copy(uint64_t copy) {
  Ticket t = next_++;
  tickets_.emplace(t, Claim{0, 0, kThisNode, 0, copy});
  return t;
}

Custody::Claim Custody::done(Ticket ticket) {
  auto it = tickets_.find(ticket);
  if (it == tickets_.end()) bug("a delivery ticket that is not open", __FILE__, __LINE__);
  Claim claim = it->second;
  tickets_.erase(it);
  if (claim.peer != 0) finished(claim.peer, claim.number);
  return claim;
}

void Custody::finished(uint64_t peer, uint64_t number) {
  auto it = clients_.find(peer);
  if (it == clients_.end()) return;  // the client left; it sends again what it kept
  Client& c = it->second;
  if (number < c.first || number - c.first >= c.open.size() || c.open[number - c.first] == 0)
    bug("a receipt for a message that is not open", __FILE__, __LINE__);
  --c.open[number - c.first];
  while (!c.open.empty() && c.open.front() == 0) {
    c.open.pop_front();
    ++c.first;
  }
  if (c.first - 1 > c.told && std::find(due_.begin(), due_.end(), peer) == due_.end()) due_.push_back(peer);
  if (c.first - 1 - c.told >= kDeliveryWindow / 4) urgent_ = true;
}

std::vector<std::pair<uint64_t, uint64_t>> Custody::take_receipts() {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t peer : due_) {
    auto it = clients_.find(peer);
    if (it == clients_.end() || it->second.first - 1 <= it->second.told) continue;
    it->second.told = it->second.first - 1;
    out.emplace_back(peer, it->second.told);
  }
  due_.clear();
  urgent_ = false;
  return out;
}

}  // namespace exo::exocom
