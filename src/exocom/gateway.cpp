#include "exocom/gateway.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/ids.hpp"

namespace exo::exocom {

namespace {

constexpr size_t kMaxActivities = 100000;
// A session's rooms are few (its user, a topic or two); a bound keeps a faulty service from
// growing the table without end.
constexpr size_t kMaxRoomsPerSession = 32;
constexpr size_t kMaxRoomName = 200;

// The JSON object `text` without its top-level `auth` (browsers never see sessions).
std::string without_auth(const wire::Envelope& env) {
  std::string out = "{";
  bool first = true;
  for (const auto& f : env.fields) {
    if (f.known == wire::Known::auth) continue;
    if (!first) out += ',';
    first = false;
    wire::append_json_string(out, f.key);
    out += ':';
    out += f.value;
  }
  return out + "}";
}

std::string host_of(std::string_view origin) {
  auto scheme = origin.find("://");
  if (scheme == std::string_view::npos) return "";
  auto rest = origin.substr(scheme + 3);
  auto end = rest.find_first_of(":/");
  return std::string(rest.substr(0, end));
}

// A string field of a JSON object, decoded; empty when absent or not a string.
std::string string_field(const wire::Envelope& env, std::string_view key) {
  std::string out;
  if (const auto* f = env.find(key); f && f->type == wire::JsonType::string) wire::decode_json_string(f->value, out);
  return out;
}

}  // namespace

Gateway::Gateway(Broker& broker, GatewayOptions options, TraceLog& log)
    : Peer(0), broker_(broker), options_(std::move(options)), log_(log) {
  broker_.connected(*this);
  broker_.message(*this, "{\"name\":\"exocom.register-service\",\"sender\":" + wire::quoted(options_.role) +
                             ",\"payload\":{\"errors\":true}}");
  if (refused_ || !registered())
    throw UserError("--gateway-role '" + options_.role +
                    "' is not a role in the routing table; add it with the messages browsers send and receive");
}

bool Gateway::allows_origin(std::string_view origin) const {
  if (origin.empty()) return true;  // not a browser: it cannot carry a user's session anyway
  if (options_.origins.empty()) {
    std::string host = host_of(origin);
    return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
  }
  return std::any_of(options_.origins.begin(), options_.origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

void Gateway::opened(Peer& browser) {
  Session s{&browser, options_.session_prefix + new_uuid(), options_.rate * 2, Clock::now(), {}};
  by_session_[s.id] = browser.id();
  sessions_.emplace(browser.id(), std::move(s));
}

void Gateway::closed(Peer& browser) {
  auto it = sessions_.find(browser.id());
  if (it == sessions_.end()) return;
  for (const auto& room : it->second.rooms) {
    auto r = rooms_.find(room);
    EXO_ASSERT(r != rooms_.end());
    std::erase(r->second, browser.id());
    if (r->second.empty()) rooms_.erase(r);
  }
  by_session_.erase(it->second.id);
  sessions_.erase(it);
}

void Gateway::refuse(Peer& browser, std::string_view code, const std::string& message, std::string_view name) {
  broker_.metrics().refused[std::string("gateway-") + std::string(code)]++;
  std::string payload = "{\"code\":" + wire::quoted(code) + ",\"message\":" + wire::quoted(message);
  if (!name.empty()) payload += ",\"name\":" + wire::quoted(name);
  payload += "}";
  browser.send(Frame::make(ws::Opcode::text, "{\"name\":\"exocom.error\",\"id\":\"" + new_uuid() +
                                                 "\",\"sender\":\"exocom\",\"payload\":" + payload + "}"));
}

void Gateway::from_browser(Peer& browser, std::string_view text) {
  auto it = sessions_.find(browser.id());
  EXO_ASSERT(it != sessions_.end());
  Session& s = it->second;
  auto now = Clock::now();
  s.tokens = std::min(options_.rate * 2, s.tokens + std::chrono::duration<double>(now - s.refilled).count() * options_.rate);
  s.refilled = now;
  if (s.tokens < 1) return refuse(browser, "rate-limited", fmt::format("more than {} messages a second", options_.rate), {});
  s.tokens -= 1;
  if (!wire::scan(text, env_, error_)) return refuse(browser, "invalid-message", "invalid message: " + error_, {});
  if (env_.name.empty()) return refuse(browser, "invalid-message", "a message needs a non-empty 'name'", {});
  if (env_.name.starts_with("exocom."))
    return refuse(browser, "reserved-name", "names starting with 'exocom.' are reserved", env_.name);
  // Only name, payload and activity come from the browser; sender, id and auth are ExoCom's.
  std::string activity = env_.activity_id.empty() ? new_uuid() : std::string(env_.activity_id);
  std::string message = "{\"name\":" + wire::quoted(env_.name) + ",\"id\":\"" + new_uuid() +
                        "\",\"activityId\":" + wire::quoted(activity) + ",\"sender\":" + wire::quoted(options_.role) +
                        ",\"auth\":{\"sessionId\":\"" + s.id + "\"}";
  if (env_.payload) message += ",\"payload\":" + std::string(env_.payload->value);
  message += "}";
  remember(activity, s.id);
  broker_.message(*this, message);
}

void Gateway::remember(const std::string& activity, const std::string& session) {
  if (activities_.size() >= kMaxActivities) {
    activities_.erase(activity_order_.front());
    activity_order_.pop_front();
  }
  if (activities_.emplace(activity, session).second) activity_order_.push_back(activity);
}

Gateway::Audience Gateway::audience_of(const wire::Envelope& env) {
  Audience a;
  if (env.name == "exocom.error") {
    // A browser's message was refused: tell that browser.
    auto it = activities_.find(std::string(env.activity_id));
    if (it == activities_.end()) a.valid = false;
    else a.session = it->second;
    return a;
  }
  if (!env.auth || env.auth->type != wire::JsonType::object) return a;
  wire::Envelope auth;
  std::string error;
  if (!wire::scan(env.auth->value, auth, error)) return a;
  a.session = string_field(auth, "sessionId");
  a.join = string_field(auth, "join");
  a.room = string_field(auth, "room");
  return a;
}

void Gateway::join(Session& s, const std::string& room) {
  if (std::find(s.rooms.begin(), s.rooms.end(), room) != s.rooms.end()) return;
  if (s.rooms.size() >= kMaxRoomsPerSession || room.size() > kMaxRoomName) {
    broker_.metrics().dropped["gateway-room-refused"]++;
    log_.warning(fmt::format("a session may join {} rooms of at most {} bytes; '{}' refused", kMaxRoomsPerSession,
                             kMaxRoomName, room.substr(0, 40)));
    return;
  }
  s.rooms.push_back(room);
  rooms_[room].push_back(s.browser->id());
}

void Gateway::send_frame(const Frame& frame, Ticket ticket) {
  broker_.written(ticket);  // browsers are beyond the bus's keeping: handed to the gateway is done
  wire::Envelope env;
  std::string error;
  if (!wire::scan(frame.payload(), env, error)) return;  // ExoCom made it: cannot happen, and harmless
  Audience to = audience_of(env);
  if (!to.valid) return;
  Frame out = Frame::make(ws::Opcode::text, without_auth(env));
  if (!to.session.empty()) {
    auto s = by_session_.find(to.session);
    if (s == by_session_.end()) {
      broker_.metrics().dropped["gateway-session-gone"]++;
      return;
    }
    Session& session = sessions_.at(s->second);
    if (!to.join.empty()) join(session, to.join);
    session.browser->send(out);
    return;
  }
  if (!to.room.empty()) {
    // Every node's gateway gets it; each serves the members it holds (none: nothing to do).
    if (auto r = rooms_.find(to.room); r != rooms_.end())
      for (uint64_t id : r->second) sessions_.at(id).browser->send(out);
    return;
  }
  // No session and no room: a message for every browser (new tweets, ...).
  for (auto& [id, s] : sessions_) s.browser->send(out);
}

void Gateway::close(uint16_t code, std::string_view reason) {
  refused_ = true;
  log_.error(fmt::format("the gateway role was refused ({} {})", code, reason));
}

}  // namespace exo::exocom
