#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/envelope.hpp"
#include "common/time.hpp"
#include "config/routes.hpp"
#include "exocom/custody.hpp"
#include "exocom/federation.hpp"
#include "exocom/frame.hpp"
#include "exocom/options.hpp"
#include "exocom/trace_log.hpp"

namespace exo::exocom {

// One connection as the broker sees it. The transport implements `send_frame` (queue a frame;
// once written, the ticket goes to Broker::written) and `close` (start the close handshake). The
// broker owns the registration fields.
class Peer {
 public:
  explicit Peer(uint64_t id) : id_(id) {}
  virtual ~Peer() = default;
  virtual void send_frame(const Frame& frame, Ticket ticket) = 0;
  void send(const Frame& frame) { send_frame(frame, kNoTicket); }
  virtual void close(uint16_t code, std::string_view reason) = 0;
  // With receipts, a ticket of a written frame is done once the client says it has the frame:
  // it has `count` text frames of this connection.
  virtual void acknowledged(uint64_t count) { (void)count; }
  uint64_t id() const { return id_; }
  const std::string& role() const { return role_; }
  bool registered() const { return registered_; }
  bool receipts() const { return receipts_; }

 private:
  friend class Broker;
  uint64_t id_;
  std::string role_;
  void* role_state_ = nullptr;  // the broker's entry for role_, so routing skips a lookup
  void* instance_ = nullptr;    // the broker's instance this connection is
  bool registered_ = false;
  bool wants_ack_ = false;
  bool wants_errors_ = false;
  bool receipts_ = false;  // it numbers what it sends and says what it received
};

// A frame on its way to a connection, with the ticket of whoever waits for it.
struct Queued {
  Frame frame;
  Ticket ticket = kNoTicket;
};

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, TransparentHash, std::equal_to<>>;

struct Metrics {
  uint64_t received = 0, delivered = 0, buffered = 0, bytes_in = 0, bytes_out = 0, slow_consumers = 0;
  uint64_t sent_to_nodes = 0, received_from_nodes = 0;  // deliveries that crossed to or from another node
  uint64_t open_sockets = 0;  // every TCP connection, also those still in their HTTP request (kept by the transport)
  std::map<std::string, uint64_t> refused;  // by reason code
  std::map<std::string, uint64_t> dropped;  // by reason
  // Reply latency as ExoCom sees it (time since the previous message of the same activity).
  static constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  uint64_t latency_counts[std::size(kBuckets) + 1] = {};
  double latency_sum = 0;
  uint64_t latency_count = 0;
  void observe_latency(std::chrono::nanoseconds d);
};

// The routing core: registration, permission to send, translation, fan-out to one instance per
// role (sticky per activity, else round-robin), buffers for roles without instances, the security
// adapter, and the feedback messages. Single-threaded; it never blocks and never throws on input.
class Broker {
 public:
  Broker(config::RouteTable routes, Options options, TraceLog& log);
  ~Broker();

  void connected(Peer& peer);
  // The connection is gone or closing; `undelivered` are frames it never wrote, in order.
  void disconnected(Peer& peer, std::vector<Queued> undelivered);
  // A delivery with a ticket reached its connection (or a gateway took it).
  void written(Ticket ticket);
  // A closing connection still finishes a frame it began, with `ticket`: the ticket it keeps. A
  // delivery from another node becomes this node's (confirmed now, so that node need not hold the
  // role's newer deliveries until the close ends; should the connection end first, the frame goes
  // to another instance from here), unless the client has receipts: then it counts once the client
  // says it has it.
  Ticket finishing(const Peer& peer, Ticket ticket);
  // Sends the receipts clients are owed; `due` is called when some are (to call this soon after;
  // `urgent`: a client has many accepted messages it was not told of).
  void send_receipts();
  void on_receipts_due(std::function<void(bool urgent)> due) { receipts_due_ = std::move(due); }
  // One complete text message from `peer`.
  void message(Peer& peer, std::string_view text);
  // Expires buffers, activities and security verdicts; call about once a second.
  void tick(Clock::time_point now);

  // --- as a node of a cluster (exocom/cluster.hpp) ---
  void join(Federation& federation) { federation_ = &federation; }
  // The instances another node has now: its whole list, as it announced it.
  void remote_instances(NodeIndex node, const std::vector<InstanceInfo>& instances);
  // A node left or fell silent: its instances are gone.
  void node_gone(NodeIndex node);
  // A message another node delivered to an instance here (`text` as delivered).
  void remote_delivery(NodeIndex from, const Hop& hop, std::string_view text);
  // Deliveries `node` gave back, or that were on their way to it when it went away.
  void returned(NodeIndex node, std::vector<Returned> deliveries);
  // Deliveries `node` confirmed: they reached their instance.
  void confirmed(NodeIndex node, const std::vector<uint64_t>& seqs);
  // The copy of a held message is stored (or could not be): its sender may forget it.
  void held_stored(uint64_t key);
  // Messages another run of a node held, taken over by this node: held here now, in order.
  void adopted(std::vector<HeldCopy> copies);
  // A message another node forwarded here because its activity belongs here.
  void remote_forward(NodeIndex from, Forward kind, std::string_view text);
  std::vector<InstanceInfo> local_instances() const;
  // Whether another node may deliver `text` to `hop.to_role`: a role of the table that receives
  // the message under that name (anything else on the cluster subjects is forged or broken).
  bool may_receive(const Hop& hop, std::string_view text);
  // Messages without a session for this role go to every node's gateway.
  void gateway_role(std::string_view role);
  // The routing table, as every node of a cluster must have it.
  std::string routes_fingerprint() const;

  // For the HTTP endpoints.
  std::string config_json() const;
  std::string status_json() const;
  std::string metrics_text() const;
  Metrics& metrics() { return metrics_; }
  // One line of CloudWatch Embedded Metric Format: the counts since the previous call, and the
  // messages held now. `timestamp_ms` is wall-clock time.
  std::string metrics_record(std::string_view application, int64_t timestamp_ms);
  size_t connections() const { return peers_.size(); }
  size_t buffered_messages() const;

 private:
  struct RoleState;
  struct Subscriber {
    RoleState* role;
    std::string internal_name;
    std::string internal_json;  // quoted once
  };
  struct Buffered {
    Frame frame;
    Clock::time_point at;
    std::string from_key, from_role, activity;  // for the affinity of the node it reaches
    uint64_t seq;  // when it was first sent: the buffer keeps that order
    Ticket copy = kNoTicket;  // its stored copy's ticket, when the federation keeps one
  };
  // An instance of a role: a connection to this node, or one to another node of the cluster. Its
  // key stays when it reconnects elsewhere, so activity affinity follows it there.
  struct Instance {
    uint64_t serial;   // never reused in this process: what activities remember
    std::string key;   // the client's instance id, or one made up for a client that sends none
    RoleState* role;
    Peer* peer = nullptr;       // connected here, or
    NodeIndex node = kThisNode;  // connected to this other node
    uint64_t epoch = 0;         // the client's count of its connections: the newest wins
  };
  struct RoleState {
    std::string name;
    std::string name_json;  // quoted once
    config::RoleRoutes routes;
    StringMap<std::string> public_of;  // what it may send: internal name → public name
    StringMap<bool> sends_public;      // the same, by public name
    StringMap<std::string> received_as;  // what it receives: internal name → public name
    std::vector<Instance*> local, remote;
    size_t next = 0;  // round-robin position over local and remote
    bool everywhere = false;  // the gateway role: a message without a session goes to every gateway
    std::deque<Buffered> buffer;
    size_t buffer_bytes = 0;
    bool overflowing = false;  // the buffer is full; warned once until it drains
    uint64_t delivered = 0;
    // Deliveries on their way to instances on other nodes, by number, until confirmed or given
    // back. Those whose instance has gone (or moved) since may still come back: until they are
    // settled, later messages for the role wait behind them in the buffer, so order holds.
    struct Unsettled {
      std::string instance;
      NodeIndex node;
      bool orphan;
      Ticket ticket;  // of the client that waits for it, if any
    };
    std::map<uint64_t, Unsettled> unsettled;
    size_t orphans = 0;
  };
  struct Activity {
    Clock::time_point last;
    std::vector<std::pair<RoleState*, uint64_t>> affinity;  // role → instance serial
    NodeIndex verdict_node = kThisNode;  // where the authorization with this id is pending
    NodeIndex answer_node = kThisNode;   // where the security data request with this id was made
    std::list<std::string>::iterator lru;
  };
  struct PendingAuthorization {
    std::string text;  // the original message, scanned again when the verdict comes
    uint64_t peer;
    std::string role;
    Clock::time_point deadline;
  };
  struct PendingDataRequest {
    std::string outer_activity;
    Clock::time_point deadline;
  };

  RoleState* role(std::string_view name);
  RoleState& add_role(const std::string& name, config::RoleRoutes routes);
  void rebuild_subscriptions();
  void route_message(Peer& peer, std::string_view text, bool scanned);  // message() after numbering
  void received(Peer& peer, const wire::Envelope& env);                  // a client's exocom.received
  void register_peer(Peer& peer, const wire::Envelope& env);
  void refuse(Peer& peer, const wire::Envelope* env, std::string_view code, const std::string& message,
              bool log = true);
  void route(Peer* from, RoleState& sender, const wire::Envelope& env, std::chrono::nanoseconds since,
             Activity* activity);
  // False when the role has no instance and its buffer is full. `from` is the sending instance
  // (for the receiving node's affinity), `session` a gateway session the message is for.
  bool deliver(RoleState& to, const Frame& frame, Activity* activity, const Instance* from = nullptr,
               std::string_view from_role = {}, std::string_view activity_id = {}, std::string_view session = {});
  // Holds a message for a role that has no instance anywhere; false when its buffer is full.
  // `seq` 0: a message held now; else the number it was first sent under (the caller re-sorts).
  bool deliver_held(RoleState& to, const Frame& frame, const Instance* from, std::string_view from_role,
                    std::string_view activity_id, uint64_t seq = 0);
  // The instance that gets a message for `to`: pinned by the activity, else local round-robin,
  // else remote round-robin; nullptr when the role has none anywhere.
  Instance* pick(RoleState& to, Activity* activity);
  void send_to(Instance& target, const Frame& frame, const Instance* from, std::string_view from_role,
               std::string_view activity_id);
  // Replies of the activity go to `instance` when they are for `role`.
  void pin(Activity& activity, RoleState& role, const Instance& instance);
  // The gateway session a message is for (auth.sessionId), or empty.
  static std::string session_of(const wire::Envelope& env);
  void flush_buffer(RoleState& role);
  // `serial` 0 takes a new one; an instance that moves keeps its own.
  Instance& add_instance(RoleState& role, std::string key, uint64_t epoch, uint64_t serial = 0);
  void remove_instance(Instance& instance);
  Instance* instance_by_serial(uint64_t serial) const;
  Activity* touch_activity(std::string_view id, Clock::time_point now, std::chrono::nanoseconds* since_last);
  Activity* find_activity(std::string_view id);  // without touching it
  Peer* peer_by_id(uint64_t id) const;
  void announce() {
    if (federation_) federation_->local_instances_changed();
  }
  void send_own(Peer& to, std::string_view name, std::string_view activity_id, const std::string& payload_json);
  Frame own_frame(std::string_view name, std::string_view activity_id, std::string_view sender,
                  const std::string& payload_json, bool is_security);
  // The security adapter (active when a `security` role is in the routes).
  bool security_intercepts(Peer& peer, RoleState& sender, const wire::Envelope& env, Activity* activity);
  // `text` is the verdict as security sent it, forwarded when its activity belongs to another node.
  void security_verdict(const wire::Envelope& env, bool authorized, std::string_view text);
  // An answer (`delivered`, from `sender`) to a data request the security service made here.
  void security_answer(std::string_view name, std::string_view sender, const std::string& delivered,
                       const std::string& outer_activity);
  void security_data_request(const wire::Envelope& env);
  // Now, RFC 3339 with nanoseconds; valid until the next call.
  std::string_view timestamp();

  Options options_;
  TraceLog& log_;
  Federation* federation_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Instance>> instances_;  // by serial
  StringMap<Instance*> instance_by_key_;
  std::string instance_prefix_;  // of the keys made up for clients that name no instance: unique per process
  uint64_t next_serial_ = 1;
  uint64_t delivery_seq_ = 0;  // every delivery to another node and every held message, in order
  std::unordered_map<uint64_t, RoleState*> unsettled_role_;  // by delivery number
  // Forgets a delivery to another node; its ticket (kNoTicket when none or unknown).
  Ticket settle(uint64_t seq);
  // The end of a delivery someone waits for: a receipt for a client, a confirmation for a node.
  void finish_ticket(Ticket ticket);
  Custody custody_;
  struct Reported {
    uint64_t routed = 0, refused = 0, buffered = 0, dropped = 0;
  } reported_;  // the counts the last metrics record covered
  std::function<void(bool urgent)> receipts_due_;
  std::unordered_map<uint64_t, Ticket> storing_;  // copy key → the sender's ticket, done once stored
  std::vector<std::unique_ptr<RoleState>> roles_;
  StringMap<RoleState*> roles_by_name_;
  StringMap<std::vector<Subscriber>> subscribers_;  // public name → receiving roles
  std::unordered_map<uint64_t, Peer*> peers_;
  StringMap<Activity> activities_;
  std::list<std::string> activity_lru_;  // most recent at the front
  RoleState* security_ = nullptr;
  StringMap<PendingAuthorization> pending_authorizations_;  // by authorization activity id
  StringMap<PendingDataRequest> pending_data_requests_;     // by inner activity id
  wire::Envelope env_;                                      // reused for every message
  std::string scan_error_;
  std::string scratch_;  // a delivery is written here, then copied into its frame
  Metrics metrics_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point now_ = Clock::now();
  std::string ts_cache_, ts_;
  std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds> ts_cache_at_;
  // Wall time is derived from the steady clock already read per message, re-synced each second.
  std::chrono::system_clock::time_point wall_base_;
  Clock::time_point steady_base_;
};

}  // namespace exo::exocom
