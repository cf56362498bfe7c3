#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exosphere/message.hpp"

namespace exosphere::testing {

// A stand-in for ExoCom in a service's tests: listens on 127.0.0.1 on a port the OS picks, speaks
// the real protocol, records every message services send, and sends messages to them.
class MockExoCom {
 public:
  MockExoCom();
  ~MockExoCom();
  MockExoCom(const MockExoCom&) = delete;
  MockExoCom& operator=(const MockExoCom&) = delete;

  std::uint16_t port() const;

  // Waits until a service registers as `role`.
  bool wait_for_registration(const std::string& role, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends a message to the service registered as `role` (Error(not_connected) if none) and
  // returns it as sent.
  Message send(const std::string& role, const std::string& name, json::value payload = nullptr,
               SendOptions options = {});
  // Sends any text frame to `role`'s service, message or not (to test how it copes).
  void send_text(const std::string& role, const std::string& text);
  // Every message received (registrations included), oldest first.
  std::vector<Message> received() const;
  // Waits for the first message named `name` received since the last reset().
  std::optional<Message> wait_for(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `name` and waits for the first message of the same activity from the service.
  std::optional<Message> request(const std::string& role, const std::string& name, json::value payload = nullptr,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Answers every `request_name` a service sends with `reply_name` and `payload`, same activity.
  void reply_to(const std::string& request_name, const std::string& reply_name, json::value payload = json::object());
  // Forgets received messages and scripted replies.
  void reset();
  // Drops every connection (the services' relays will reconnect).
  void drop_connections();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exosphere::testing
