#include "exocom/gateway.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.hpp"
#include "common/ids.hpp"

namespace exo::exocom {

namespace {

constexpr size_t kMaxActivities = 100000;

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
  Session s{&browser, options_.session_prefix + new_uuid(), options_.rate * 2, Clock::now()};
  by_session_[s.id] = browser.id();
  sessions_.emplace(browser.id(), std::move(s));
}

void Gateway::closed(Peer& browser) {
  auto it = sessions_.find(browser.id());
  if (it == sessions_.end()) return;
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

void Gateway::send_frame(const Frame& frame, Ticket ticket) {
  broker_.written(ticket);  // browsers are beyond the bus's keeping: handed to the gateway is done
  wire::Envelope env;
  std::string error;
  if (!wire::scan(frame.payload(), env, error)) return;  // ExoCom made it: cannot happen, and harmless
  std::string session;
  if (env.name == "exocom.error") {
    // A browser's message was refused: tell that browser.
    auto a = activities_.find(std::string(env.activity_id));
    if (a == activities_.end()) return;
    session = a->second;
  } else if (env.auth && env.auth->type == wire::JsonType::object) {
    wire::Envelope auth;
    if (!wire::scan(env.auth->value, auth, error)) return;
    if (const auto* sid = auth.find("sessionId"); sid && sid->type == wire::JsonType::string) {
      std::string decoded;
      wire::decode_json_string(sid->value, decoded);
      session = decoded;
      if (!by_session_.count(session)) {
        broker_.metrics().dropped["gateway-session-gone"]++;
        return;
      }
    }
  }
  Frame out = Frame::make(ws::Opcode::text, without_auth(env));
  if (!session.empty()) {
    auto s = by_session_.find(session);
    if (s != by_session_.end()) sessions_.at(s->second).browser->send(out);
    return;
  }
  // No session: a message for every browser (new tweets, ...).
  for (auto& [id, s] : sessions_) s.browser->send(out);
}

void Gateway::close(uint16_t code, std::string_view reason) {
  refused_ = true;
  log_.error(fmt::format("the gateway role was refused ({} {})", code, reason));
}

}  // namespace exo::exocom
