#pragma once

// What a client asks of ExoCom over HTTP, read from the head of its request: a WebSocket upgrade,
// one of the endpoints, or something to refuse. No sockets here (fuzzed: fuzz/http_request.cpp).

#include <cstddef>
#include <string>
#include <string_view>

namespace exo::exocom {

struct RequestHead {
  enum class Status { incomplete, too_large, malformed, complete };
  Status status = Status::incomplete;
  size_t size = 0;  // bytes the head took; what follows belongs to the WebSocket
  std::string method;
  std::string path;   // the target without its query
  std::string query;  // after the '?'
  std::string authorization;        // Authorization
  bool upgrade_websocket = false;   // Upgrade: websocket
  bool connection_upgrade = false;  // Connection: upgrade
  std::string key;                  // Sec-WebSocket-Key
  std::string version;              // Sec-WebSocket-Version
  std::string origin;
};

// Reads the request head at the start of `in` (request line and headers up to the blank line).
RequestHead read_request_head(std::string_view in, size_t max_head_bytes);

// What the port answers. On the services port: the WebSocket at /services and the endpoints; on
// the gateway port: the WebSocket anywhere and the JavaScript client.
enum class Action {
  upgrade,           // a valid WebSocket handshake
  observe,           // a valid WebSocket handshake on /observe: the trace, read-only
  exocom_js,         // GET /exocom.js on the gateway port
  config_json,       // GET /config.json
  status,            // GET /status
  metrics,           // GET /metrics
  upgrade_required,  // /services or /observe without a WebSocket handshake (426)
  bad_handshake,     // an upgrade without Connection: upgrade or a key (400)
  wrong_version,     // an upgrade whose Sec-WebSocket-Version is not 13 (426)
  gateway_only,      // anything else on the gateway port (404)
  not_found,         // anything else on the services port (404)
};
Action route_request(const RequestHead& head, bool gateway_port);

// Whether the request presents `token` (`Authorization: Bearer <token>` or `?token=<token>`),
// compared in constant time.
bool presents_token(const RequestHead& head, std::string_view token);

// Whether the comma-separated header `value` holds `token` (case-insensitive): Connection, Upgrade.
bool header_has_token(std::string_view value, std::string_view token);

}  // namespace exo::exocom
