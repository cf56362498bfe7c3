#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace exo::exocom {

using namespace std::chrono_literals;

// Every table and queue ExoCom keeps is bounded by one of these. Defaults are in docs/protocol.md.
struct Limits {
  size_t max_message_bytes = 1 << 20;          // larger messages close the connection with 1009
  size_t send_queue_bytes = 64u << 20;         // per connection; beyond it a slow consumer is cut off
  size_t buffer_messages = 100000;             // per role with no connected instance
  size_t buffer_bytes = 64u << 20;
  std::chrono::milliseconds buffer_ttl = 60s;  // buffered messages older than this are dropped
  size_t max_activities = 200000;              // activity affinity and response-time table
  std::chrono::milliseconds activity_ttl = 60s;
  std::chrono::milliseconds security_timeout = 5s;  // no verdict by then: refused
  size_t max_pending_security = 10000;
  std::chrono::milliseconds register_timeout = 10s;  // a connection must register within this
  std::chrono::milliseconds ping_interval = 20s;
  std::chrono::milliseconds idle_timeout = 60s;      // no frame at all for this long: closed
  std::chrono::milliseconds close_timeout = 2s;      // a close handshake may take this long
  // On SIGTERM: queues drain, connections close, the process exits, all within this
  // (EXOSPHERE_STOP_TIMEOUT; docs/architecture.md, "Stopping").
  std::chrono::milliseconds stop_timeout = 5s;
};

enum class LogFormat { text, json };

struct Options {
  Limits limits;
  bool dev_open = false;      // accept any role and learn its routes from its register message
  bool log_payloads = false;  // print each delivered payload under its trace line
  bool quiet = false;         // no trace lines, only warnings and errors
  LogFormat log_format = LogFormat::text;
  // With a name: every `metrics_interval`, one line of CloudWatch Embedded Metric Format with the
  // messages routed, refused, buffered and dropped since the last line and those held now,
  // under the dimension Application=<name> (docs/deploy.md, "Dashboard and alarms").
  std::string metrics_application;
  std::chrono::seconds metrics_interval = 60s;
  // With a token: /observe streams the trace to WebSocket clients that present it (`exo run`'s
  // dashboard); without one, /observe is not served.
  std::string observe_token;
};

}  // namespace exo::exocom
