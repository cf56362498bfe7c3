#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "exocom/broker.hpp"

namespace exo::exocom {

struct GatewayOptions {
  std::string role = "browser";      // browsers' messages go on the bus as this role
  std::vector<std::string> origins;  // allowed Origin headers; empty: localhost and 127.0.0.1 only
  size_t max_message_bytes = 64 * 1024;
  double rate = 50;                  // messages per second per browser (bursts of twice that)
  size_t max_sessions = 10000;
  std::string session_prefix;        // in a cluster "<node>~": replies find the node of their session
};

// The bridge to browsers. To the broker it is one instance of the gateway role; each browser
// connection is a session. What a browser sends goes on the bus as that role with
// auth = {"sessionId": …}; what the bus sends back with that auth goes to that browser only, and
// what it sends to the role without a session goes to every browser. A service puts a session into
// a room (auth {"sessionId", "join"}) and then reaches every browser of the room (auth {"room"}):
// all the tabs of one user, on every node.
class Gateway : public Peer {
 public:
  // Registers with the broker; throws UserError when the role is not in the routes.
  Gateway(Broker& broker, GatewayOptions options, TraceLog& log);

  bool allows_origin(std::string_view origin) const;
  bool full() const { return sessions_.size() >= options_.max_sessions; }
  const GatewayOptions& options() const { return options_; }

  void opened(Peer& browser);
  void closed(Peer& browser);
  void from_browser(Peer& browser, std::string_view text);

  // What the broker delivers to the gateway role.
  void send_frame(const Frame& frame, Ticket ticket) override;
  void close(uint16_t code, std::string_view reason) override;

 private:
  struct Session {
    Peer* browser;
    std::string id;
    double tokens;
    Clock::time_point refilled;
    std::vector<std::string> rooms;
  };
  // Where a delivered message goes: one session (by id), a room, or every browser.
  struct Audience {
    std::string session, join, room;
    bool valid = true;
  };
  Audience audience_of(const wire::Envelope& env);
  void join(Session& s, const std::string& room);
  void refuse(Peer& browser, std::string_view code, const std::string& message, std::string_view name);
  void remember(const std::string& activity, const std::string& session);

  Broker& broker_;
  GatewayOptions options_;
  TraceLog& log_;
  bool refused_ = false;
  std::unordered_map<uint64_t, Session> sessions_;          // by connection id
  std::unordered_map<std::string, uint64_t> by_session_;    // session id → connection id
  std::unordered_map<std::string, std::string> activities_; // activity → session, for errors
  std::unordered_map<std::string, std::vector<uint64_t>> rooms_;  // room → connection ids
  std::deque<std::string> activity_order_;
  wire::Envelope env_;
  std::string error_;
};

}  // namespace exo::exocom
