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
#include "exocom/frame.hpp"
#include "exocom/options.hpp"
#include "exocom/trace_log.hpp"

namespace exo::exocom {

// One connection as the broker sees it. The transport implements `send` (queue a frame) and
// `close` (start the close handshake). The broker owns the registration fields.
class Peer {
 public:
  explicit Peer(uint64_t id) : id_(id) {}
  virtual ~Peer() = default;
  virtual void send(const Frame& frame) = 0;
  virtual void close(uint16_t code, std::string_view reason) = 0;
  uint64_t id() const { return id_; }
  const std::string& role() const { return role_; }
  bool registered() const { return registered_; }

 private:
  friend class Broker;
  uint64_t id_;
  std::string role_;
  void* role_state_ = nullptr;  // the broker's entry for role_, so routing skips a lookup
  bool registered_ = false;
  bool wants_ack_ = false;
  bool wants_errors_ = false;
};

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, TransparentHash, std::equal_to<>>;

struct Metrics {
  uint64_t received = 0, delivered = 0, buffered = 0, bytes_in = 0, bytes_out = 0, slow_consumers = 0;
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
  void disconnected(Peer& peer, std::vector<Frame> undelivered);
  // One complete text message from `peer`.
  void message(Peer& peer, std::string_view text);
  // Expires buffers, activities and security verdicts; call about once a second.
  void tick(Clock::time_point now);

  // For the HTTP endpoints.
  std::string config_json() const;
  std::string status_json() const;
  std::string metrics_text() const;
  Metrics& metrics() { return metrics_; }
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
  };
  struct RoleState {
    std::string name;
    std::string name_json;  // quoted once
    config::RoleRoutes routes;
    StringMap<std::string> public_of;  // what it may send: internal name → public name
    std::vector<Peer*> instances;
    size_t next = 0;  // round-robin position
    std::deque<Buffered> buffer;
    size_t buffer_bytes = 0;
    bool overflowing = false;  // the buffer is full; warned once until it drains
    uint64_t delivered = 0;
  };
  struct Activity {
    Clock::time_point last;
    std::vector<std::pair<RoleState*, uint64_t>> affinity;  // role → peer id
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
  void register_peer(Peer& peer, const wire::Envelope& env);
  void refuse(Peer& peer, const wire::Envelope* env, std::string_view code, const std::string& message,
              bool log = true);
  void route(Peer* from, RoleState& sender, const wire::Envelope& env, std::chrono::nanoseconds since,
             Activity* activity);
  // False when the role has no instance and its buffer is full.
  bool deliver(RoleState& to, const Frame& frame, Activity* activity);
  void flush_buffer(RoleState& role);
  Activity* touch_activity(std::string_view id, Clock::time_point now, std::chrono::nanoseconds* since_last);
  Peer* peer_by_id(uint64_t id) const;
  void send_own(Peer& to, std::string_view name, std::string_view activity_id, const std::string& payload_json);
  Frame own_frame(std::string_view name, std::string_view activity_id, std::string_view sender,
                  const std::string& payload_json, bool is_security);
  // The security adapter (active when a `security` role is in the routes).
  bool security_intercepts(Peer& peer, RoleState& sender, const wire::Envelope& env);
  void security_verdict(const wire::Envelope& env, bool authorized);
  void security_data_request(const wire::Envelope& env);
  // Now, RFC 3339 with nanoseconds; valid until the next call.
  std::string_view timestamp();

  Options options_;
  TraceLog& log_;
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
