#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "common/websocket.hpp"

namespace exo::test {

using namespace std::chrono_literals;

// A blocking WebSocket client for tests: real TCP, real frames, timeouts on every wait.
class WsClient {
 public:
  struct Close {
    uint16_t code = 0;
    std::string reason;
    bool clean = false;  // a close frame arrived (not just EOF)
  };

  // Connects and completes the handshake; throws std::runtime_error when it cannot.
  static WsClient connect(uint16_t port, std::string_view path = "/services", std::string_view extra_headers = {});
  WsClient(WsClient&& other) noexcept;
  WsClient& operator=(WsClient&& other) noexcept;
  ~WsClient();

  void send_text(std::string_view message);
  void send_json(const boost::json::value& message);
  void send_frame(ws::Opcode opcode, std::string_view payload, bool fin = true);
  void send_raw(std::string_view bytes);
  // `exocom.register-service` with the given payload ({"ack":true,...}).
  void register_as(std::string_view role, std::string_view payload_json = "{}");
  // Sends a message {name, sender, id, activityId, payload}.
  void send_message(std::string_view name, std::string_view sender, std::string_view payload_json = "{}",
                    std::string_view activity_id = {});

  // The next text message, answering pings on the way; nullopt on timeout or close.
  std::optional<std::string> receive(std::chrono::milliseconds timeout = 5s);
  std::optional<boost::json::object> receive_json(std::chrono::milliseconds timeout = 5s);
  // Receives until a message named `name` arrives (others are dropped).
  std::optional<boost::json::object> receive_named(std::string_view name, std::chrono::milliseconds timeout = 5s);
  // Reads until the server closes; what it said.
  std::optional<Close> wait_close(std::chrono::milliseconds timeout = 5s);
  // Sends a close frame and waits for the server's (a clean close handshake). Messages that
  // arrive meanwhile are kept for later `receive` calls.
  std::optional<Close> close(uint16_t code = ws::close_code::normal, std::chrono::milliseconds timeout = 5s);
  void abort();  // drops the TCP connection without a close frame
  bool closed() const { return closed_.has_value(); }
  std::vector<std::string> pending;  // messages received during close()

 private:
  explicit WsClient(int fd) : fd_(fd) {}
  bool read_more(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> next_event(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string in_;
  std::string fragments_;
  std::optional<Close> closed_;
};

// Proving that nothing arrived, without waiting for a silence: a test sends a marked message along
// a path that, by ExoCom's ordering (one sender's messages stay in order; one thread routes them),
// reaches the receiver after anything that should not have, then expects the marker next.
// Sends `name` from `sender` (registered as `role`) with payload {"marker": <fresh id>}; the id.
std::string send_marker(WsClient& sender, std::string_view role, std::string_view name);
// The next message `receiver` gets carries `marker` (an activity id, or the payload's "marker").
::testing::AssertionResult next_is_marker(WsClient& receiver, const std::string& marker);

}  // namespace exo::test
