#include "exocom/broker.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"

namespace exo::exocom {

namespace {

constexpr std::string_view kRegister = "exocom.register-service";
constexpr std::string_view kReceived = "exocom.received";  // a client with receipts: how many messages it has
constexpr std::string_view kSecurityRole = "security";
constexpr std::string_view kExocom = "exocom";  // the sender of ExoCom's own messages

std::string quote(std::string_view s) {
  std::string out;
  wire::append_json_string(out, s);
  return out;
}

// {code, message, name, id, activityId}: the payload of `exocom.error`.
std::string error_payload(std::string_view code, const std::string& message, const wire::Envelope* env) {
  std::string out = "{\"code\":" + quote(code) + ",\"message\":" + quote(message);
  if (env) {
    out += ",\"name\":" + quote(env->name);
    if (env->has_id) out += ",\"id\":" + quote(env->id);
    if (!env->activity_id.empty()) out += ",\"activityId\":" + quote(env->activity_id);
  }
  return out + "}";
}

// Instance ids travel in presence announcements and headers between nodes: printable, no spaces.
bool valid_instance_key(std::string_view key) {
  if (key.empty() || key.size() > 100) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '~';
  });
}

std::vector<std::string> names_from(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (auto* a = o.if_contains(key); a && a->is_array())
    for (const auto& v : a->get_array())
      if (v.is_string() && !v.get_string().empty()) out.emplace_back(v.get_string());
  return out;
}

}  // namespace

void Metrics::observe_latency(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  size_t i = 0;
  while (i < std::size(kBuckets) && s > kBuckets[i]) ++i;
  ++latency_counts[i];
  latency_sum += s;
  ++latency_count;
}

Broker::Broker(config::RouteTable routes, Options options, TraceLog& log)
    : options_(options), log_(log), instance_prefix_("c" + random_hex(4) + "-") {
  for (auto& [name, r] : routes.roles) {
    if (name == kSecurityRole) {
      // The security role's routes are fixed by the protocol, whatever the table says.
      r.receives = {"authorize message", "security response"};
      r.sends = {"message authorized", "message unauthorized", "security request"};
      r.translations.clear();
      r.ns.clear();
    }
    add_role(name, std::move(r));
  }
  security_ = role(kSecurityRole);
  rebuild_subscriptions();
}

Broker::~Broker() = default;

Broker::RoleState* Broker::role(std::string_view name) {
  auto it = roles_by_name_.find(name);
  return it == roles_by_name_.end() ? nullptr : it->second;
}

Broker::RoleState& Broker::add_role(const std::string& name, config::RoleRoutes routes) {
  auto state = std::make_unique<RoleState>();
  state->name = name;
  state->name_json = wire::quoted(name);
  state->routes = std::move(routes);
  for (const auto& s : state->routes.sends) {
    state->public_of[s] = config::to_public(state->routes, name, s);
    state->sends_public[state->public_of[s]] = true;
  }
  for (const auto& r : state->routes.receives) state->received_as[r] = config::to_public(state->routes, name, r);
  roles_by_name_[name] = state.get();
  roles_.push_back(std::move(state));
  return *roles_.back();
}

void Broker::rebuild_subscriptions() {
  subscribers_.clear();
  for (const auto& r : roles_) {
    for (const auto& internal : r->routes.receives) {
      auto& subs = subscribers_[config::to_public(r->routes, r->name, internal)];
      bool dup = std::any_of(subs.begin(), subs.end(), [&](const Subscriber& s) { return s.role == r.get(); });
      if (!dup) subs.push_back({r.get(), internal, wire::quoted(internal)});
    }
  }
}

Peer* Broker::peer_by_id(uint64_t id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second;
}

void Broker::connected(Peer& peer) { peers_[peer.id()] = &peer; }

void Broker::disconnected(Peer& peer, std::vector<Queued> undelivered) {
  custody_.close(peer.id());  // the client sends again whatever was not accepted
  // What other nodes delivered and this connection never wrote goes back to them, in their order.
  std::erase_if(undelivered, [&](const Queued& d) {
    if (!d.frame.is_text()) return true;  // a ping or pong in the queue: nobody else's business
    const Custody::Claim* claim = d.ticket == kNoTicket ? nullptr : custody_.claim(d.ticket);
    if (!claim || claim->node == kThisNode) return false;
    auto [node, seq] = std::pair(claim->node, claim->seq);
    custody_.done(d.ticket);
    federation_->give_back(node, seq);
    return true;
  });
  bool known = peers_.erase(peer.id()) > 0;
  // Its role is remembered after it left: a frame it was still finishing when cut off comes later.
  RoleState* r = peer.role_.empty() ? nullptr : role(peer.role_);
  if (known && peer.registered_) {
    EXO_ASSERT(r != nullptr);
    if (auto* i = static_cast<Instance*>(peer.instance_); i && i->peer == &peer) remove_instance(*i);
    peer.registered_ = false;
    peer.role_state_ = nullptr;
    peer.instance_ = nullptr;
    log_.info("'" + peer.role_ + "' disconnected");
    now_ = Clock::now();
    announce();
  }
  if (!r) {
    for (auto& d : undelivered) written(d.ticket);  // nowhere to go: nobody waits any longer
    return;
  }
  // What the connection never wrote goes to another instance, or waits for the next one. Another
  // node takes it only from the role that sent it (else it drops it as forged): the one it names.
  wire::Envelope env;
  std::string error;
  for (auto& d : undelivered) {
    bool scanned = wire::scan(d.frame.payload(), env, error);
    // ExoCom's own word to this connection (an error, a receipt) is nobody else's.
    if (scanned && env.name.starts_with("exocom.")) {
      written(d.ticket);
      continue;
    }
    std::string_view sender = federation_ && scanned ? env.sender : std::string_view();
    custody_.rerouting(d.ticket);
    deliver(*r, d.frame, nullptr, nullptr, sender);
    written(custody_.rerouted());
  }
}

void Broker::written(Ticket ticket) {
  if (ticket != kNoTicket) finish_ticket(ticket);
}

Ticket Broker::finishing(const Peer& peer, Ticket ticket) {
  const Custody::Claim* claim = ticket == kNoTicket ? nullptr : custody_.claim(ticket);
  if (peer.receipts() || !claim || claim->node == kThisNode) return ticket;
  finish_ticket(ticket);
  return kNoTicket;
}

void Broker::finish_ticket(Ticket ticket) {
  Custody::Claim claim = custody_.done(ticket);
  if (claim.node != kThisNode) federation_->confirm(claim.node, claim.seq);
  if (claim.copy) federation_->forget_held(claim.copy);
  if (custody_.receipts_due() && receipts_due_) receipts_due_(custody_.receipts_urgent());
}

void Broker::held_stored(uint64_t key) {
  auto it = storing_.find(key);
  if (it == storing_.end()) return;
  Ticket t = it->second;
  storing_.erase(it);
  finish_ticket(t);
}

void Broker::adopted(std::vector<HeldCopy> copies) {
  now_ = Clock::now();
  std::vector<RoleState*> touched;
  for (auto& c : copies) {
    RoleState* r = role(c.role);
    if (!r) {
      federation_->forget_held(c.key);
      continue;
    }
    custody_.rerouting(custody_.for_copy(c.key));
    auto from = instance_by_key_.find(c.from_instance);
    deliver_held(*r, Frame::make(ws::Opcode::text, c.text), from == instance_by_key_.end() ? nullptr : from->second,
                 c.from_role, c.activity);
    written(custody_.rerouted());
    if (std::find(touched.begin(), touched.end(), r) == touched.end()) touched.push_back(r);
  }
  for (RoleState* r : touched) flush_buffer(*r);
}

void Broker::send_receipts() {
  for (auto [id, accepted] : custody_.take_receipts())
    if (Peer* p = peer_by_id(id)) send_own(*p, "exocom.accepted", {}, "{\"accepted\":" + std::to_string(accepted) + "}");
}

// --- instances ------------------------------------------------------------------------------

Broker::Instance& Broker::add_instance(RoleState& r, std::string key, uint64_t epoch, uint64_t serial) {
  auto instance = std::make_unique<Instance>();
  Instance& i = *instance;
  i.serial = serial ? serial : next_serial_++;
  i.key = std::move(key);
  i.role = &r;
  i.epoch = epoch;
  instance_by_key_[i.key] = &i;
  instances_.emplace(i.serial, std::move(instance));
  return i;
}

void Broker::remove_instance(Instance& i) {
  std::erase(i.peer ? i.role->local : i.role->remote, &i);
  // Deliveries still on their way to it may come back: they go first.
  for (auto& [seq, u] : i.role->unsettled)
    if (!u.orphan && u.instance == i.key && u.node == i.node) {
      u.orphan = true;
      ++i.role->orphans;
    }
  if (i.peer) {
    i.peer->instance_ = nullptr;
    i.peer = nullptr;
  }
  instance_by_key_.erase(i.key);
  instances_.erase(i.serial);  // destroys `i`
}

Broker::Instance* Broker::instance_by_serial(uint64_t serial) const {
  auto it = instances_.find(serial);
  return it == instances_.end() ? nullptr : it->second.get();
}

std::vector<InstanceInfo> Broker::local_instances() const {
  std::vector<InstanceInfo> out;
  for (const auto& r : roles_)
    for (const Instance* i : r->local) out.push_back({i->key, r->name, i->epoch});
  return out;
}

void Broker::remote_instances(NodeIndex node, const std::vector<InstanceInfo>& announced) {
  now_ = Clock::now();
  std::vector<RoleState*> gained;
  StringMap<bool> listed;
  for (const auto& info : announced) {
    RoleState* r = role(info.role);
    if (!r) continue;  // the routes matched when the node joined; a role it learned since is not ours
    listed[info.key] = true;
    auto found = instance_by_key_.find(info.key);
    if (found == instance_by_key_.end()) {
      Instance& i = add_instance(*r, info.key, info.epoch);
      i.node = node;
      r->remote.push_back(&i);
      gained.push_back(r);
      continue;
    }
    Instance& i = *found->second;
    if (i.node == node && !i.peer && i.role == r) {
      i.epoch = std::max(i.epoch, info.epoch);
      continue;
    }
    // The same instance elsewhere: its newest connection wins.
    if (info.epoch < i.epoch) continue;
    if (i.peer) {
      log_.info("'" + r->name + "' instance " + i.key + " reconnected to node " + federation_->node_name(node) +
                "; closing its old connection here");
      i.peer->close(ws::close_code::policy_violation, "this instance reconnected to another ExoCom node");
    }
    uint64_t serial = i.serial;
    remove_instance(i);
    // The same serial, so activities pinned to the instance follow it to its new node.
    Instance& moved = add_instance(*r, info.key, info.epoch, serial);
    moved.node = node;
    r->remote.push_back(&moved);
    gained.push_back(r);
  }
  std::vector<Instance*> gone;
  for (const auto& [serial, i] : instances_)
    if (i->node == node && !i->peer && !listed.count(i->key)) gone.push_back(i.get());
  for (Instance* i : gone) remove_instance(*i);
  if (!gone.empty()) announce();  // a connection here may have been closed for a newer one
  for (RoleState* r : gained) flush_buffer(*r);
}

void Broker::remote_delivery(NodeIndex from, const Hop& hop, std::string_view text) {
  now_ = Clock::now();
  ++metrics_.received_from_nodes;
  RoleState* to = role(hop.to_role);
  if (!to) {
    metrics_.dropped["unknown-role"]++;
    return;
  }
  std::chrono::nanoseconds since{0};
  Activity* activity = hop.activity.empty() ? nullptr : touch_activity(hop.activity, now_, &since);
  if (activity) {
    // Replies of this activity go back to the instance that sent it, on its node.
    if (RoleState* sender_role = hop.from_instance.empty() ? nullptr : role(hop.from_role)) {
      auto found = instance_by_key_.find(hop.from_instance);
      Instance* i = found != instance_by_key_.end() ? found->second : nullptr;
      if (!i) {  // not announced yet: remembered where it is, until the node's announcement says more
        i = &add_instance(*sender_role, std::string(hop.from_instance), 0);
        i->node = from;
        sender_role->remote.push_back(i);
      }
      pin(*activity, *sender_role, *i);
    }
    if (to == security_ && hop.from_role == kExocom) activity->verdict_node = from;
    if (hop.from_role == kSecurityRole) activity->answer_node = from;
  }
  Frame frame = Frame::make(ws::Opcode::text, text);
  auto found = instance_by_key_.find(hop.to_instance);
  if (found == instance_by_key_.end() || !found->second->peer || found->second->role != to) {
    // The instance went away (or moved on): the sending node keeps the order, so it routes it again.
    federation_->give_back(from, hop.seq);
    return;
  }
  Instance& target = *found->second;
  if (activity) pin(*activity, *to, target);
  ++to->delivered;
  ++metrics_.delivered;
  target.peer->send_frame(frame, custody_.from_node(from, hop.seq));  // confirmed to `from` once written
}

void Broker::returned(NodeIndex node, std::vector<Returned> deliveries) {
  now_ = Clock::now();
  std::vector<RoleState*> touched;
  for (auto& r : deliveries) {
    RoleState* to = role(r.to_role);
    if (!to) continue;
    // The node says the instance is not there: believe it until it says otherwise.
    auto found = instance_by_key_.find(r.to_instance);
    if (found != instance_by_key_.end() && !found->second->peer && found->second->node == node)
      remove_instance(*found->second);
    auto from = instance_by_key_.find(r.from_instance);
    const Instance* sender = r.from_instance.empty() || from == instance_by_key_.end() ? nullptr : from->second;
    custody_.rerouting(settle(r.seq));
    deliver_held(*to, r.frame, sender, r.from_role, r.activity, r.seq);
    written(custody_.rerouted());
    if (std::find(touched.begin(), touched.end(), to) == touched.end()) touched.push_back(to);
  }
  for (RoleState* r : touched) {
    // Held in the order first sent: what came back goes before whatever waited behind it. One sort
    // per batch, not an insertion per message (a node gives back tens of thousands at once).
    auto by_seq = [](const Buffered& a, const Buffered& b) { return a.seq < b.seq; };
    if (!std::is_sorted(r->buffer.begin(), r->buffer.end(), by_seq)) std::stable_sort(r->buffer.begin(), r->buffer.end(), by_seq);
    flush_buffer(*r);
  }
}

void Broker::confirmed(NodeIndex, const std::vector<uint64_t>& seqs) {
  now_ = Clock::now();
  std::vector<RoleState*> touched;
  for (uint64_t seq : seqs) {
    auto it = unsettled_role_.find(seq);
    if (it == unsettled_role_.end()) continue;
    if (std::find(touched.begin(), touched.end(), it->second) == touched.end()) touched.push_back(it->second);
    written(settle(seq));
  }
  for (RoleState* r : touched) flush_buffer(*r);
}

Ticket Broker::settle(uint64_t seq) {
  auto it = unsettled_role_.find(seq);
  if (it == unsettled_role_.end()) return kNoTicket;
  RoleState& r = *it->second;
  unsettled_role_.erase(it);
  auto u = r.unsettled.find(seq);
  if (u == r.unsettled.end()) bug("a delivery to another node without its role's record", __FILE__, __LINE__);
  if (u->second.orphan) --r.orphans;
  Ticket ticket = u->second.ticket;
  r.unsettled.erase(u);
  return ticket;
}

void Broker::remote_forward(NodeIndex from, Forward kind, std::string_view text) {
  now_ = Clock::now();
  wire::Envelope env;
  std::string error;
  if (!security_ || !wire::scan(text, env, error)) {
    metrics_.dropped["invalid-forward"]++;
    return;
  }
  if (kind == Forward::verdict) {
    if (pending_authorizations_.count(env.activity_id))
      return security_verdict(env, env.name == "message authorized", text);
    log_.warning("Node " + federation_->node_name(from) + " forwarded a verdict for an unknown or expired activity '" +
                 std::string(env.activity_id) + "'; ignored");
    metrics_.refused["unknown-activity"]++;
    return;
  }
  auto it = pending_data_requests_.find(env.activity_id);
  if (it == pending_data_requests_.end()) return;  // answered already, or expired
  std::string outer = std::move(it->second.outer_activity);
  pending_data_requests_.erase(it);
  security_answer(env.name, env.sender, std::string(text), outer);
}

bool Broker::may_receive(const Hop& hop, std::string_view text) {
  RoleState* to = role(hop.to_role);
  if (!to || hop.to_instance.empty() || !wire::scan(text, env_, scan_error_) || env_.name.empty()) return false;
  if (env_.name.starts_with("exocom.")) return false;
  if (hop.from_role == kExocom) {
    // ExoCom's own messages: to the security role, or the notice of a refused message.
    return (to == security_ && (env_.name == "authorize message" || env_.name == "security response")) ||
           env_.name == "message unauthorized";
  }
  RoleState* from = role(hop.from_role);
  if (!from || env_.sender != from->name) return false;
  auto received = to->received_as.find(env_.name);
  if (received == to->received_as.end()) return false;
  // Security's data requests may ask anyone anything; everyone else only what it may send.
  return from == security_ || from->sends_public.count(received->second) > 0;
}

void Broker::gateway_role(std::string_view name) {
  if (RoleState* r = role(name)) r->everywhere = true;
}

std::string Broker::routes_fingerprint() const {
  std::vector<const RoleState*> sorted;
  for (const auto& r : roles_) sorted.push_back(r.get());
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::string canonical;
  for (const auto* r : sorted) {
    canonical += r->name + "\x1f" + r->routes.ns + "\x1f";
    for (const auto* list : {&r->routes.receives, &r->routes.sends})
      for (const auto& n : *list) canonical += n + "\x1e";
    for (const auto& t : r->routes.translations) canonical += t.public_name + "=" + t.internal_name + "\x1e";
    canonical += "\x1d";
  }
  return stable_hash_hex(canonical, 16);
}

void Broker::node_gone(NodeIndex node) {
  std::vector<Instance*> gone;
  for (const auto& [serial, i] : instances_)
    if (i->node == node && !i->peer) gone.push_back(i.get());
  for (Instance* i : gone) remove_instance(*i);
}

void Broker::message(Peer& peer, std::string_view text) {
  metrics_.bytes_in += text.size();
  now_ = Clock::now();
  bool scanned = wire::scan(text, env_, scan_error_);
  // A client with receipts numbers its messages (all but its own receipts); each is accepted once
  // routed and delivered.
  if (peer.receipts_) {
    if (scanned && env_.name == kReceived) return received(peer, env_);
    custody_.routing(peer.id());
    route_message(peer, text, scanned);
    custody_.routed();
    if (custody_.receipts_due() && receipts_due_) receipts_due_(custody_.receipts_urgent());
    return;
  }
  route_message(peer, text, scanned);
}

void Broker::received(Peer& peer, const wire::Envelope& env) {
  const wire::Field* count = nullptr;
  wire::Envelope payload;
  if (env.payload && env.payload->type == wire::JsonType::object && wire::scan(env.payload->value, payload, scan_error_))
    count = payload.find("count");
  uint64_t n = 0;
  auto [end, ec] = count && count->type == wire::JsonType::number
                       ? std::from_chars(count->value.data(), count->value.data() + count->value.size(), n)
                       : std::from_chars_result{nullptr, std::errc::invalid_argument};
  if (ec != std::errc() || end != count->value.data() + count->value.size())
    return refuse(peer, &env, "invalid-message", "exocom.received needs a payload {\"count\": <text frames received>}");
  peer.acknowledged(n);
}

void Broker::route_message(Peer& peer, std::string_view text, bool scanned) {
  if (!scanned) {
    if (scan_error_ == "invalid UTF-8") {
      metrics_.refused["invalid-utf8"]++;
      log_.warning("connection " + std::to_string(peer.id()) + " sent invalid UTF-8 in a text message; closing it");
      peer.close(ws::close_code::invalid_payload, "invalid UTF-8 in a text message");
      return;
    }
    refuse(peer, nullptr, "invalid-message", "Invalid message from " + (peer.registered_ ? "'" + peer.role_ + "'" : "an unregistered connection") + ": " + scan_error_);
    return;
  }
  const wire::Envelope& env = env_;
  if (env.name.empty()) {
    refuse(peer, &env, "invalid-message", "A message from " + (peer.registered_ ? "'" + peer.role_ + "'" : "an unregistered connection") + " has no name");
    return;
  }
  if (env.name == kRegister) {
    register_peer(peer, env);
    return;
  }
  if (!peer.registered_) {
    refuse(peer, &env, "not-registered",
           "A connection sent '" + std::string(env.name) + "' before registering; send exocom.register-service first");
    return;
  }
  if (!env.sender.empty() && env.sender != peer.role_) {
    refuse(peer, &env, "sender-mismatch",
           "Service '" + peer.role_ + "' sent '" + std::string(env.name) + "' as '" + std::string(env.sender) + "'; the sender must be the registered role");
    return;
  }
  if (env.name.starts_with("exocom.")) {
    refuse(peer, &env, "reserved-name", "Service '" + peer.role_ + "' sent '" + std::string(env.name) + "'; names starting with 'exocom.' are reserved");
    return;
  }
  auto* sender = static_cast<RoleState*>(peer.role_state_);
  EXO_ASSERT(sender != nullptr);
  if (security_ && sender == security_) {
    if (env.name == "security request") return security_data_request(env);
    if (env.name == "message authorized" || env.name == "message unauthorized")
      return security_verdict(env, env.name == "message authorized", text);
  }
  auto public_name = sender->public_of.find(env.name);
  if (public_name == sender->public_of.end()) {
    refuse(peer, &env, "not-allowed",
           "Service '" + peer.role_ + "' is not allowed to broadcast the message '" + std::string(env.name) + "'");
    return;
  }
  // Replies go back to the instance that took part in the activity.
  std::chrono::nanoseconds since{0};
  Activity* activity = env.activity_id.empty() ? nullptr : touch_activity(env.activity_id, now_, &since);
  auto* from = static_cast<Instance*>(peer.instance_);
  EXO_ASSERT(from != nullptr);
  if (activity) pin(*activity, *sender, *from);
  if (security_ && sender != security_ && security_intercepts(peer, *sender, env, activity)) return;
  ++metrics_.received;
  if (since.count() > 0) metrics_.observe_latency(since);
  route(&peer, *sender, env, since, activity);
}

void Broker::route(Peer* from, RoleState& sender, const wire::Envelope& env, std::chrono::nanoseconds since,
                   Activity* activity) {
  const Instance* origin = from ? static_cast<const Instance*>(from->instance_) : nullptr;
  auto pub_it = sender.public_of.find(env.name);
  std::string_view public_name = pub_it == sender.public_of.end() ? env.name : std::string_view(pub_it->second);
  auto subs_it = subscribers_.find(public_name);
  if (subs_it == subscribers_.end() || subs_it->second.empty()) {
    std::string msg = "No receivers for message '" + std::string(public_name) + "' registered";
    if (from) refuse(*from, &env, "no-receivers", msg);
    else {
      metrics_.dropped["no-receivers"]++;
      log_.warning(msg);
    }
    return;
  }
  std::string_view ts = timestamp();
  std::string generated_id = env.has_id ? std::string() : wire::quoted(new_uuid());
  Frame frame;
  std::string_view frame_name;
  bool refused_full = false;
  for (const auto& sub : subs_it->second) {
    if (!frame || sub.internal_name != frame_name) {
      scratch_.clear();
      wire::write_delivery(scratch_, env, {sub.internal_json, sender.name_json, generated_id, ts, since.count()});
      frame = Frame::make(ws::Opcode::text, scratch_);
      frame_name = sub.internal_name;
    }
    std::string session;
    if (sub.role->everywhere && federation_) session = session_of(env);
    if (!deliver(*sub.role, frame, activity, origin, sender.name, env.activity_id, session)) refused_full = true;
    if (log_.tracing())
      log_.trace(sender.name, env.name, sub.internal_name, sub.role->name, since,
                 env.payload ? env.payload->value : std::string_view(), env.activity_id, frame.size());
  }
  if (refused_full && from)
    refuse(*from, &env, "buffer-full",
           "Message '" + std::string(env.name) + "' was dropped for a role whose buffer is full", false);
}

bool Broker::deliver(RoleState& to, const Frame& frame, Activity* activity, const Instance* from,
                     std::string_view from_role, std::string_view activity_id, std::string_view session) {
  Instance* target = nullptr;
  if (to.everywhere && federation_ && !to.remote.empty()) {
    if (session.empty()) {
      // A message for every browser: every node's gateway gets it.
      for (auto* list : {&to.local, &to.remote})
        for (Instance* i : *list) send_to(*i, frame, from, from_role, activity_id);
      ++to.delivered;
      ++metrics_.delivered;
      return true;
    }
    NodeIndex node = federation_->node_of_session(session);
    for (Instance* i : node == kThisNode ? to.local : to.remote)
      if (i->node == node) target = i;
  }
  // While deliveries to an instance that went away may still come back, later ones wait behind them.
  if (!target && to.orphans > 0) return deliver_held(to, frame, from, from_role, activity_id);
  if (!target) target = pick(to, activity);
  if (!target) return deliver_held(to, frame, from, from_role, activity_id);
  ++to.delivered;
  ++metrics_.delivered;
  send_to(*target, frame, from, from_role, activity_id);
  return true;
}

bool Broker::deliver_held(RoleState& to, const Frame& frame, const Instance* from, std::string_view from_role,
                          std::string_view activity_id, uint64_t seq) {
  const auto& lim = options_.limits;
  if (to.buffer.size() >= lim.buffer_messages || to.buffer_bytes + frame.size() > lim.buffer_bytes) {
    metrics_.dropped["buffer-full"]++;
    if (!to.overflowing)
      log_.warning(fmt::format("The buffer for '{}' is full ({} messages); new messages for it are dropped until an "
                               "instance registers", to.name, to.buffer.size()));
    to.overflowing = true;
    return false;
  }
  if (to.buffer.empty()) log_.info("No instance of '" + to.name + "' is online; holding its messages until one registers");
  // The sender may forget it once it is as safe as it gets: copied where other nodes find it, or
  // else held in memory here. A stored copy coming back (its delivery failed) stays stored.
  Ticket t = custody_.take();
  const Custody::Claim* claim = t == kNoTicket ? nullptr : custody_.claim(t);
  Ticket copy = kNoTicket;
  if (claim && claim->copy) {
    copy = t;
  } else {
    uint64_t key = federation_ ? federation_->store_held({0, to.name, std::string(from_role), from ? from->key : std::string(),
                                                          std::string(activity_id), std::string(frame.payload())})
                               : 0;
    if (key) {
      copy = custody_.for_copy(key);
      if (t != kNoTicket) storing_[key] = t;
    } else if (t != kNoTicket) {
      finish_ticket(t);
    }
  }
  if (seq == 0) seq = ++delivery_seq_;
  to.buffer.push_back({frame, now_, from ? from->key : std::string(), std::string(from_role), std::string(activity_id), seq, copy});
  to.buffer_bytes += frame.size();
  ++metrics_.buffered;
  return true;
}

Broker::Instance* Broker::pick(RoleState& to, Activity* activity) {
  std::pair<RoleState*, uint64_t>* pinned = nullptr;
  if (activity) {
    for (auto& a : activity->affinity)
      if (a.first == &to) pinned = &a;
    if (pinned)
      if (Instance* i = instance_by_serial(pinned->second); i && i->role == &to) return i;
  }
  // Round-robin over every instance of the cluster, here or elsewhere: the same spread as on one
  // node, however the clients are spread over the nodes.
  size_t all = to.local.size() + to.remote.size();
  if (all == 0) return nullptr;
  size_t k = to.next++ % all;
  Instance* target = k < to.local.size() ? to.local[k] : to.remote[k - to.local.size()];
  if (pinned) pinned->second = target->serial;
  else if (activity) activity->affinity.emplace_back(&to, target->serial);
  return target;
}

void Broker::pin(Activity& activity, RoleState& role, const Instance& instance) {
  auto& aff = activity.affinity;
  auto it = std::find_if(aff.begin(), aff.end(), [&](const auto& a) { return a.first == &role; });
  if (it == aff.end()) aff.emplace_back(&role, instance.serial);
  else it->second = instance.serial;
}

void Broker::send_to(Instance& target, const Frame& frame, const Instance* from, std::string_view from_role,
                     std::string_view activity_id) {
  if (target.peer) return target.peer->send_frame(frame, custody_.take());
  ++metrics_.sent_to_nodes;
  uint64_t seq = ++delivery_seq_;
  target.role->unsettled.emplace(seq, RoleState::Unsettled{target.key, target.node, false, custody_.take()});
  unsettled_role_[seq] = target.role;
  federation_->deliver(target.node, Hop{target.role->name, target.key, from_role, from ? from->key : std::string_view(), activity_id, seq},
                       frame);
}

std::string Broker::session_of(const wire::Envelope& env) {
  if (!env.auth || env.auth->type != wire::JsonType::object) return {};
  wire::Envelope auth;
  std::string error;
  if (!wire::scan(env.auth->value, auth, error)) return {};
  const auto* sid = auth.find("sessionId");
  if (!sid || sid->type != wire::JsonType::string) return {};
  std::string decoded;
  wire::decode_json_string(sid->value, decoded);
  return decoded;
}

void Broker::flush_buffer(RoleState& r) {
  if (r.orphans > 0) return;  // deliveries that may still come back go first
  r.overflowing = false;
  size_t delivered = 0, expired = 0;
  while (!r.buffer.empty() && (!r.local.empty() || !r.remote.empty())) {
    Buffered b = std::move(r.buffer.front());
    r.buffer.pop_front();
    r.buffer_bytes -= b.frame.size();
    if (now_ - b.at > options_.limits.buffer_ttl) {
      written(b.copy);
      ++expired;
      continue;
    }
    auto from = instance_by_key_.find(b.from_key);
    Activity* activity = b.activity.empty() ? nullptr : find_activity(b.activity);
    custody_.rerouting(b.copy);  // its stored copy goes once it is delivered
    deliver(r, b.frame, activity, from == instance_by_key_.end() ? nullptr : from->second, b.from_role, b.activity);
    written(custody_.rerouted());
    ++delivered;
  }
  if (expired) {
    metrics_.dropped["expired"] += expired;
    log_.warning(fmt::format("Dropped {} messages for '{}' held longer than {}s", expired, r.name,
                             std::chrono::duration_cast<std::chrono::seconds>(options_.limits.buffer_ttl).count()));
  }
  if (delivered) log_.info(fmt::format("Delivered {} held messages to '{}'", delivered, r.name));
}

Broker::Activity* Broker::find_activity(std::string_view id) {
  auto it = activities_.find(id);
  return it == activities_.end() ? nullptr : &it->second;
}

Broker::Activity* Broker::touch_activity(std::string_view id, Clock::time_point now, std::chrono::nanoseconds* since) {
  auto it = activities_.find(id);
  if (it != activities_.end()) {
    if (since) *since = now - it->second.last;
    it->second.last = now;
    activity_lru_.splice(activity_lru_.begin(), activity_lru_, it->second.lru);
    return &it->second;
  }
  if (since) *since = std::chrono::nanoseconds(0);
  if (activities_.size() >= options_.limits.max_activities) {
    activities_.erase(activity_lru_.back());
    activity_lru_.pop_back();
  }
  activity_lru_.emplace_front(id);
  Activity fresh;
  fresh.last = now;
  fresh.lru = activity_lru_.begin();
  auto [pos, inserted] = activities_.emplace(std::string(id), std::move(fresh));
  EXO_ASSERT(inserted);
  return &pos->second;
}

void Broker::register_peer(Peer& peer, const wire::Envelope& env) {
  std::string requested(env.sender);
  if (requested.empty()) {
    refuse(peer, &env, "invalid-message", "exocom.register-service needs 'sender' set to the role of the service");
    return;
  }
  bool ack = false, errors = false, receipts = false;
  std::string key;
  uint64_t epoch = 0;
  json::object payload;
  if (env.payload && env.payload->type == wire::JsonType::object) {
    boost::system::error_code ec;
    json::value v = json::parse(env.payload->value, ec);
    if (!ec && v.is_object()) payload = std::move(v.get_object());
    if (auto* a = payload.if_contains("ack"); a && a->is_bool()) ack = a->get_bool();
    if (auto* e = payload.if_contains("errors"); e && e->is_bool()) errors = e->get_bool();
    if (auto* r = payload.if_contains("receipts"); r && r->is_bool()) receipts = r->get_bool();
    // A client that names its instance keeps its identity when it reconnects, to any node.
    if (auto* i = payload.if_contains("instance"); i && i->is_string() && valid_instance_key(i->get_string()))
      key = i->get_string();
    if (auto* e = payload.if_contains("epoch"); e && e->is_uint64()) epoch = e->get_uint64();
    else if (e && e->is_int64() && e->get_int64() >= 0) epoch = static_cast<uint64_t>(e->get_int64());
  }
  if (peer.registered_) {
    if (requested != peer.role_) {
      refuse(peer, &env, "already-registered",
             "A connection registered as '" + peer.role_ + "' tried to register again as '" + requested + "'");
      return;
    }
    peer.wants_ack_ = ack;
    peer.wants_errors_ = errors;
  } else {
    RoleState* r = role(requested);
    if (!r) {
      if (!options_.dev_open || !config::valid_role_name(requested)) {
        metrics_.refused["unknown-role"]++;
        log_.warning("Service '" + requested + "' tried to register, but the routing table has no such role");
        peer.close(ws::close_code::policy_violation, "unknown role '" + requested + "'");
        return;
      }
      config::RoleRoutes routes;
      routes.receives = names_from(payload, "receives");
      routes.sends = names_from(payload, "sends");
      if (auto* t = payload.if_contains("translations"); t && t->is_array())
        for (const auto& item : t->get_array())
          if (auto* o = item.if_object(); o && o->contains("public") && o->contains("internal") &&
                                          o->at("public").is_string() && o->at("internal").is_string())
            routes.translations.push_back({std::string(o->at("public").get_string()), std::string(o->at("internal").get_string())});
      r = &add_role(requested, std::move(routes));
      rebuild_subscriptions();
      log_.info("Learned the routes of '" + requested + "' from its registration (--dev-open)");
    }
    if (key.empty()) key = instance_prefix_ + std::to_string(peer.id());
    if (auto found = instance_by_key_.find(key); found != instance_by_key_.end()) {
      Instance& old = *found->second;
      if (epoch < old.epoch) {
        metrics_.refused["stale-instance"]++;
        peer.close(ws::close_code::policy_violation, "a newer connection of this instance exists");
        return;
      }
      // The same instance again (it reconnected before its old connection was noticed gone, or it
      // moved here from another node): the new connection takes its place, its affinity stays.
      if (old.peer) old.peer->close(ws::close_code::policy_violation, "replaced by a newer connection of this instance");
      uint64_t serial = old.serial;
      remove_instance(old);
      add_instance(*r, key, epoch, serial);
    } else {
      add_instance(*r, key, epoch);
    }
    Instance& instance = *instance_by_key_.at(key);
    instance.peer = &peer;
    r->local.push_back(&instance);
    peer.instance_ = &instance;
    peer.role_ = requested;
    peer.role_state_ = r;
    peer.registered_ = true;
    peer.wants_ack_ = ack;
    peer.wants_errors_ = errors;
    if (receipts) {
      custody_.open(peer.id());
      peer.receipts_ = true;
    }
    log_.info("'" + requested + "' registered");
    announce();
  }
  RoleState* r = role(peer.role_);
  if (peer.wants_ack_)
    send_own(peer, "exocom.registered", env.activity_id,
             "{\"role\":" + quote(peer.role_) + ",\"instance\":" + quote(static_cast<Instance*>(peer.instance_)->key) +
                 ",\"held\":" + std::to_string(r->buffer.size()) +
                 (peer.receipts_ ? ",\"receipts\":true" : "") +
                 (federation_ ? ",\"node\":" + quote(federation_->node_name(kThisNode)) : std::string()) + "}");
  flush_buffer(*r);
}

void Broker::refuse(Peer& peer, const wire::Envelope* env, std::string_view code, const std::string& message,
                    bool log) {
  metrics_.refused[std::string(code)]++;
  if (log) log_.warning(message);
  if (peer.wants_errors_)
    send_own(peer, "exocom.error", env ? env->activity_id : std::string_view(), error_payload(code, message, env));
}

std::string_view Broker::timestamp() {
  if (now_ - steady_base_ > std::chrono::seconds(1) || wall_base_.time_since_epoch().count() == 0) {
    steady_base_ = Clock::now();
    wall_base_ = std::chrono::system_clock::now();
  }
  auto now = wall_base_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - steady_base_);
  // The date and time of day change once a second; only the nanoseconds are formatted per message.
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  if (ts_cache_.empty() || secs != ts_cache_at_) {
    ts_cache_ = rfc3339_nanos(secs);
    ts_cache_at_ = secs;
  }
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  ts_ = ts_cache_;
  // "....:SS.000000000Z": the nine digits before the final Z.
  for (size_t i = ts_.size() - 2; nanos > 0; --i, nanos /= 10) ts_[i] = static_cast<char>('0' + nanos % 10);
  return ts_;
}

Frame Broker::own_frame(std::string_view name, std::string_view activity_id, std::string_view sender,
                        const std::string& payload_json, bool is_security) {
  std::string b = "{\"name\":" + quote(name) + ",\"id\":\"" + new_uuid() + "\"";
  if (!activity_id.empty()) b += ",\"activityId\":" + quote(activity_id);
  b += ",\"sender\":" + quote(sender) + ",\"timestamp\":\"" + std::string(timestamp()) + "\"";
  if (is_security) b += ",\"isSecurity\":true";
  b += ",\"payload\":" + payload_json + "}";
  return Frame::make(ws::Opcode::text, b);
}

void Broker::send_own(Peer& to, std::string_view name, std::string_view activity_id, const std::string& payload_json) {
  to.send(own_frame(name, activity_id, "exocom", payload_json, false));
}

// --- the security adapter -------------------------------------------------------------------

bool Broker::security_intercepts(Peer& peer, RoleState& sender, const wire::Envelope& env, Activity* activity) {
  std::string delivered;
  wire::write_delivery(delivered, env, {quote(env.name), sender.name_json, quote(new_uuid()), timestamp(), 0});
  if (!env.activity_id.empty()) {
    if (auto it = pending_data_requests_.find(env.activity_id); it != pending_data_requests_.end()) {
      std::string outer = std::move(it->second.outer_activity);
      pending_data_requests_.erase(it);
      security_answer(env.name, sender.name, delivered, outer);
      return true;
    }
    if (activity && activity->answer_node != kThisNode && federation_) {
      // The answer to a data request made on another node: it is wrapped there.
      federation_->forward(activity->answer_node, Forward::answer, delivered);
      return true;
    }
  }
  if (pending_authorizations_.size() >= options_.limits.max_pending_security) {
    refuse(peer, &env, "security-busy", "Too many messages wait for the security service; '" + std::string(env.name) + "' refused");
    return true;
  }
  std::string aid = new_uuid();
  pending_authorizations_[aid] = {delivered, peer.id(), sender.name, now_ + options_.limits.security_timeout};
  Activity* asking = touch_activity(aid, now_, nullptr);
  deliver(*security_, own_frame("authorize message", aid, "exocom", delivered, true), asking, nullptr, kExocom, aid);
  log_.trace("exocom", "authorize message", "authorize message", security_->name, {}, {});
  return true;
}

// The answer to a data request the security service made: wrapped for security.
void Broker::security_answer(std::string_view name, std::string_view sender, const std::string& delivered,
                             const std::string& outer_activity) {
  deliver(*security_, own_frame("security response", outer_activity, "exocom", delivered, true), find_activity(outer_activity),
          nullptr, kExocom, outer_activity);
  log_.trace(sender, name, "security response", security_->name, {}, {});
}

void Broker::security_verdict(const wire::Envelope& env, bool authorized, std::string_view text) {
  auto it = pending_authorizations_.find(env.activity_id);
  if (it == pending_authorizations_.end() && federation_) {
    // The message it judged waits on the node that asked.
    if (Activity* a = find_activity(env.activity_id); a && a->verdict_node != kThisNode)
      return federation_->forward(a->verdict_node, Forward::verdict, text);
  }
  if (it == pending_authorizations_.end()) {
    log_.warning("Security sent '" + std::string(env.name) + "' for an unknown or expired activity '" +
                 std::string(env.activity_id) + "'; ignored");
    metrics_.refused["unknown-activity"]++;
    return;
  }
  PendingAuthorization pending = std::move(it->second);
  pending_authorizations_.erase(it);
  wire::Envelope original;
  std::string error;
  EXO_ASSERT(wire::scan(pending.text, original, error));
  RoleState* sender = role(pending.role);
  EXO_ASSERT(sender != nullptr);
  Peer* origin = peer_by_id(pending.peer);
  std::chrono::nanoseconds since{0};
  Activity* activity = original.activity_id.empty() ? nullptr : touch_activity(original.activity_id, now_, &since);
  if (authorized) {
    ++metrics_.received;
    route(origin, *sender, original, since, activity);
    return;
  }
  log_.warning("Unauthorized message '" + std::string(original.name) + "' from '" + pending.role +
               "' with activityId '" + std::string(original.activity_id) + "'");
  metrics_.refused["unauthorized"]++;
  if (origin && origin->wants_errors_)
    send_own(*origin, "exocom.error", original.activity_id,
             error_payload("unauthorized", "The security service refused '" + std::string(original.name) + "'", &original));
  // As the original: `message unauthorized`, carrying the refused message, goes to whoever
  // receives it; activity affinity brings it to the sending instance.
  std::string notice_text = "{\"name\":\"message unauthorized\",\"id\":\"" + new_uuid() + "\"";
  if (!original.activity_id.empty()) notice_text += ",\"activityId\":" + quote(original.activity_id);
  notice_text += ",\"payload\":" + pending.text + "}";
  wire::Envelope notice;
  EXO_ASSERT(wire::scan(notice_text, notice, error));
  auto subs = subscribers_.find("message unauthorized");
  if (subs != subscribers_.end() && !subs->second.empty()) route(nullptr, *security_, notice, since, activity);
}

void Broker::security_data_request(const wire::Envelope& env) {
  wire::Envelope inner;
  std::string error;
  if (!env.payload || env.payload->type != wire::JsonType::object || !wire::scan(env.payload->value, inner, error) ||
      inner.name.empty() || inner.activity_id.empty()) {
    log_.warning("Converting 'security request' payload to a message: " +
                 (error.empty() ? std::string("it needs an object with 'name' and 'activityId'") : error));
    metrics_.refused["invalid-message"]++;
    return;
  }
  if (pending_data_requests_.size() >= options_.limits.max_pending_security) {
    log_.warning("Too many pending security data requests; '" + std::string(inner.name) + "' dropped");
    metrics_.dropped["security-busy"]++;
    return;
  }
  pending_data_requests_[std::string(inner.activity_id)] = {std::string(env.activity_id),
                                                            now_ + options_.limits.security_timeout};
  std::chrono::nanoseconds since{0};
  Activity* activity = touch_activity(inner.activity_id, now_, &since);
  route(nullptr, *security_, inner, {}, activity);
}

// --- housekeeping ---------------------------------------------------------------------------

void Broker::tick(Clock::time_point now) {
  now_ = now;
  while (!activity_lru_.empty()) {
    auto it = activities_.find(activity_lru_.back());
    EXO_ASSERT(it != activities_.end());
    if (now - it->second.last < options_.limits.activity_ttl) break;
    activities_.erase(it);
    activity_lru_.pop_back();
  }
  for (auto& r : roles_) {
    size_t expired = 0;
    while (!r->buffer.empty() && now - r->buffer.front().at > options_.limits.buffer_ttl) {
      r->buffer_bytes -= r->buffer.front().frame.size();
      written(r->buffer.front().copy);
      r->buffer.pop_front();
      ++expired;
    }
    if (expired) {
      metrics_.dropped["expired"] += expired;
      log_.warning(fmt::format("Dropped {} messages for '{}': no instance registered within {}s", expired, r->name,
                               std::chrono::duration_cast<std::chrono::seconds>(options_.limits.buffer_ttl).count()));
    }
  }
  for (auto it = pending_authorizations_.begin(); it != pending_authorizations_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    wire::Envelope original;
    std::string error;
    EXO_ASSERT(wire::scan(it->second.text, original, error));
    std::string msg = "The security service gave no verdict on '" + std::string(original.name) + "' from '" +
                      it->second.role + "' within " +
                      std::to_string(options_.limits.security_timeout.count()) + "ms; refused";
    if (Peer* origin = peer_by_id(it->second.peer)) refuse(*origin, &original, "security-timeout", msg);
    else {
      metrics_.refused["security-timeout"]++;
      log_.warning(msg);
    }
    it = pending_authorizations_.erase(it);
  }
  std::erase_if(pending_data_requests_, [&](const auto& kv) { return kv.second.deadline <= now; });
}

// --- introspection --------------------------------------------------------------------------

size_t Broker::buffered_messages() const {
  size_t n = 0;
  for (const auto& r : roles_) n += r->buffer.size();
  return n;
}

std::string Broker::config_json() const {
  json::array clients;
  std::vector<const RoleState*> sorted;
  for (const auto& r : roles_) sorted.push_back(r.get());
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  json::object routes;
  for (const auto* r : sorted) {
    if (size_t n = r->local.size() + r->remote.size())
      clients.push_back(json::object{{"role", r->name}, {"instances", n}});
    json::array receives, sends, translations;
    for (const auto& n : r->routes.receives) receives.emplace_back(n);
    for (const auto& n : r->routes.sends) sends.emplace_back(n);
    for (const auto& t : r->routes.translations)
      translations.push_back(json::object{{"public", t.public_name}, {"internal", t.internal_name}});
    json::object o{{"receives", receives}, {"sends", sends}, {"translations", translations}};
    if (!r->routes.ns.empty()) o["namespace"] = r->routes.ns;
    routes[r->name] = std::move(o);
  }
  return to_json(json::object{{"clients", clients}, {"routes", routes}});
}

std::string Broker::status_json() const {
  json::object roles;
  for (const auto& r : roles_)
    roles[r->name] = federation_ ? json::object{{"instances", r->local.size()}, {"remote", r->remote.size()}, {"held", r->buffer.size()}}
                                 : json::object{{"instances", r->local.size()}, {"held", r->buffer.size()}};
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
  return to_json(json::object{{"status", "ok"},
                              {"uptimeSeconds", uptime},
                              {"connections", peers_.size()},
                              {"sockets", metrics_.open_sockets},
                              {"received", metrics_.received},
                              {"delivered", metrics_.delivered},
                              {"awaitingReceipt", custody_.open_tickets()},
                              {"roles", roles}});
}

std::string Broker::metrics_record(std::string_view application, int64_t timestamp_ms) {
  auto sum = [](const std::map<std::string, uint64_t>& by_reason) {
    uint64_t n = 0;
    for (const auto& [reason, count] : by_reason) n += count;
    return n;
  };
  uint64_t routed = 0, held = 0;
  for (const auto& r : roles_) {
    routed += r->delivered;
    held += r->buffer.size();
  }
  Reported now{routed, sum(metrics_.refused), metrics_.buffered, sum(metrics_.dropped)};
  std::string out = fmt::format(
      R"({{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"Exosphere/ExoCom","Dimensions":[["Application"]],)"
      R"("Metrics":[{{"Name":"MessagesRouted","Unit":"Count"}},{{"Name":"MessagesRefused","Unit":"Count"}},)"
      R"({{"Name":"MessagesBuffered","Unit":"Count"}},{{"Name":"MessagesDropped","Unit":"Count"}},)"
      R"({{"Name":"MessagesHeld","Unit":"Count"}}]}}]}},"Application":)",
      timestamp_ms);
  wire::append_json_string(out, application);
  out += fmt::format(R"(,"MessagesRouted":{},"MessagesRefused":{},"MessagesBuffered":{},"MessagesDropped":{},"MessagesHeld":{}}})",
                     now.routed - reported_.routed, now.refused - reported_.refused, now.buffered - reported_.buffered,
                     now.dropped - reported_.dropped, held);
  reported_ = now;
  return out;
}

std::string Broker::metrics_text() const {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
  };
  auto gauge = [&](std::string_view name, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  };
  gauge("exocom_connections", "Open connections, by registered role (\"\" for unregistered).");
  size_t registered = 0;
  for (const auto& r : roles_) {
    out += fmt::format("exocom_connections{{role={}}} {}\n", quote(r->name), r->local.size());
    registered += r->local.size();
  }
  out += fmt::format("exocom_connections{{role=\"\"}} {}\n", peers_.size() - registered);
  gauge("exocom_open_sockets", "Open TCP connections, including those that have not finished their HTTP request.");
  out += fmt::format("exocom_open_sockets {}\n", metrics_.open_sockets);
  counter("exocom_messages_received_total", "Messages accepted from services.");
  out += fmt::format("exocom_messages_received_total {}\n", metrics_.received);
  counter("exocom_messages_delivered_total", "Messages written to a receiving instance, by role.");
  for (const auto& r : roles_) out += fmt::format("exocom_messages_delivered_total{{role={}}} {}\n", quote(r->name), r->delivered);
  counter("exocom_messages_refused_total", "Messages refused, by reason.");
  for (const auto& [reason, n] : metrics_.refused) out += fmt::format("exocom_messages_refused_total{{reason=\"{}\"}} {}\n", reason, n);
  counter("exocom_messages_buffered_total", "Messages held for a role without a connected instance.");
  out += fmt::format("exocom_messages_buffered_total {}\n", metrics_.buffered);
  gauge("exocom_messages_held", "Messages held now, by role.");
  for (const auto& r : roles_) out += fmt::format("exocom_messages_held{{role={}}} {}\n", quote(r->name), r->buffer.size());
  counter("exocom_messages_dropped_total", "Messages dropped, by reason.");
  for (const auto& [reason, n] : metrics_.dropped) out += fmt::format("exocom_messages_dropped_total{{reason=\"{}\"}} {}\n", reason, n);
  if (federation_) {
    counter("exocom_messages_sent_to_nodes_total", "Deliveries to instances connected to other nodes of the cluster.");
    out += fmt::format("exocom_messages_sent_to_nodes_total {}\n", metrics_.sent_to_nodes);
    counter("exocom_messages_received_from_nodes_total", "Deliveries other nodes made to instances connected here.");
    out += fmt::format("exocom_messages_received_from_nodes_total {}\n", metrics_.received_from_nodes);
    gauge("exocom_remote_instances", "Instances connected to other nodes of the cluster, by role.");
    for (const auto& r : roles_) out += fmt::format("exocom_remote_instances{{role={}}} {}\n", quote(r->name), r->remote.size());
  }
  counter("exocom_slow_consumers_total", "Connections cut off because they did not read.");
  out += fmt::format("exocom_slow_consumers_total {}\n", metrics_.slow_consumers);
  counter("exocom_received_bytes_total", "Bytes of messages received.");
  out += fmt::format("exocom_received_bytes_total {}\n", metrics_.bytes_in);
  counter("exocom_sent_bytes_total", "Bytes of frames written.");
  out += fmt::format("exocom_sent_bytes_total {}\n", metrics_.bytes_out);
  out += "# HELP exocom_response_seconds Time between consecutive messages of one activity (request to reply).\n"
         "# TYPE exocom_response_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(Metrics::kBuckets); ++i) {
    cumulative += metrics_.latency_counts[i];
    out += fmt::format("exocom_response_seconds_bucket{{le=\"{}\"}} {}\n", Metrics::kBuckets[i], cumulative);
  }
  cumulative += metrics_.latency_counts[std::size(Metrics::kBuckets)];
  out += fmt::format("exocom_response_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("exocom_response_seconds_sum {}\nexocom_response_seconds_count {}\n", metrics_.latency_sum,
                     metrics_.latency_count);
  return out;
}

}  // namespace exo::exocom
