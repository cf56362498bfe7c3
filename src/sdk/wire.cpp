#include "sdk/wire.hpp"

#include <boost/json/serialize.hpp>

#include "common/envelope.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"

namespace exosphere::sdk {

std::string message_json(std::string_view name, std::string_view sender, std::string_view id,
                         std::string_view activity_id, const json::value& payload, const SendOptions& options) {
  std::string out = "{\"name\":";
  exo::wire::append_json_string(out, name);
  out += ",\"sender\":";
  exo::wire::append_json_string(out, sender);
  out += ",\"id\":";
  exo::wire::append_json_string(out, id);
  if (!activity_id.empty()) {
    out += ",\"activityId\":";
    exo::wire::append_json_string(out, activity_id);
  }
  if (!payload.is_null()) out += ",\"payload\":" + json::serialize(payload);
  if (!options.auth.is_null()) out += ",\"auth\":" + json::serialize(options.auth);
  if (options.is_security) out += ",\"isSecurity\":true";
  return out + "}";
}

std::string register_message(std::string_view role, bool feedback, std::string_view instance, uint64_t epoch) {
  json::object payload;
  if (feedback) {
    payload["ack"] = true;
    payload["errors"] = true;
    payload["receipts"] = true;
  }
  payload["instance"] = instance;
  payload["epoch"] = epoch;
  return message_json("exocom.register-service", role, exo::new_uuid(), {}, payload, {});
}

std::string mask_frame(std::string_view payload, exo::ws::Opcode opcode) {
  uint8_t mask[4];
  exo::random_bytes(mask, sizeof mask);
  std::string out;
  out.reserve(payload.size() + exo::ws::kMaxHeaderSize);
  exo::ws::append_frame(out, opcode, payload, mask);
  return out;
}

bool parse_message(std::string_view text, Message& out, std::string& error) {
  exo::wire::Envelope env;
  if (!exo::wire::scan(text, env, error)) return false;
  if (env.name.empty()) {
    error = "a message without a name";
    return false;
  }
  out.name = env.name;
  out.id = env.id;
  out.activity_id = env.activity_id;
  out.sender = env.sender;
  out.is_security = env.is_security;
  // The scanner already held the message to ExoCom's depth limit; the same limit here means a
  // payload ExoCom accepted always reaches the handler whole.
  out.payload = nullptr;
  out.auth = nullptr;
  if (env.payload && !exo::parse_json_limited(env.payload->value, exo::wire::kMaxDepth, out.payload, error)) {
    error = "its payload cannot be read: " + error;
    return false;
  }
  if (env.auth && !exo::parse_json_limited(env.auth->value, exo::wire::kMaxDepth, out.auth, error)) {
    error = "its auth cannot be read: " + error;
    return false;
  }
  if (const auto* ts = env.find("timestamp"); ts && ts->type == exo::wire::JsonType::string)
    exo::wire::decode_json_string(ts->value, out.timestamp);
  if (const auto* rt = env.find("responseTime"); rt && rt->type == exo::wire::JsonType::number) {
    try {
      out.response_time = std::chrono::nanoseconds(std::stoll(std::string(rt->value)));
    } catch (const std::exception&) {
    }
  }
  return true;
}

}  // namespace exosphere::sdk
