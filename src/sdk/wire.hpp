#pragma once

// How the SDK and MockExoCom put messages on the wire and read them back.

#include <string>
#include <string_view>

#include "common/websocket.hpp"
#include "exosphere/message.hpp"

namespace exosphere::sdk {

// The JSON text of a message as a client sends it.
std::string message_json(std::string_view name, std::string_view sender, std::string_view id,
                         std::string_view activity_id, const json::value& payload, const SendOptions& options);
// The registration: `instance` names this client across reconnections, `epoch` counts them.
std::string register_message(std::string_view role, bool feedback, std::string_view instance, uint64_t epoch);
// A client frame (masked with a fresh random key).
std::string mask_frame(std::string_view payload, exo::ws::Opcode opcode = exo::ws::Opcode::text);
// Reads a message; false with `error` when the text is not one.
bool parse_message(std::string_view text, Message& out, std::string& error);

}  // namespace exosphere::sdk
