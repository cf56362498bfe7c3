#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "exosphere/message.hpp"
#include "exosphere/status.hpp"

namespace exosphere {

using namespace std::chrono_literals;

struct RelayConfig {
  std::string host = "localhost";
  std::uint16_t port = 80;
  std::string role;
  bool feedback = true;  // ask ExoCom for exocom.registered and exocom.error
  std::chrono::milliseconds retry_min = 100ms;
  std::chrono::milliseconds retry_max = 5s;
  std::size_t max_queued_bytes = 16u << 20;  // what may wait for a connection
  // Where the relay reports connection trouble; default: standard error.
  std::function<void(const std::string&)> log;

  // EXOCOM_HOST (default localhost), EXOCOM_PORT (default 80), ROLE (required).
  // Throws Error(config_error) naming the variable and the fix.
  static RelayConfig from_environment();
};

// The outcome of a request: a reply, or why there is none.
struct Result {
  Status status = Status::ok;
  Message reply;
  std::string error;
  bool ok() const { return status == Status::ok; }
};

// The low-level client: one WebSocket connection to ExoCom, kept alive across restarts of the bus.
// Every member function may be called from any thread. Handlers run one at a time, in arrival
// order, on the relay's own handler thread, never on the thread that reads the socket.
class Relay {
 public:
  using Handler = std::function<void(const Message&)>;

  explicit Relay(RelayConfig config);
  ~Relay();  // closes
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Handles messages called `name`; a second handler for one name is Error(invalid_argument).
  void on(const std::string& name, Handler handler);
  // Messages nobody handles (default: a log line).
  void on_unknown(Handler handler);
  void on_online(std::function<void()> callback);
  void on_offline(std::function<void()> callback);

  // Connects in the background and keeps reconnecting (with back-off) until close().
  void start();
  bool wait_online(std::chrono::milliseconds timeout);
  bool online() const;

  // Sends a message and returns it as sent (with its id and activity id). While the bus is
  // unreachable messages wait in a bounded outbox and leave, in order, once it is back.
  Message send(const std::string& name, json::value payload = nullptr, SendOptions options = {});
  // Sends and waits for the first reply in the same activity. The future throws Error(timeout)
  // when none arrives in time, Error(refused) when ExoCom refused the request.
  std::future<Message> request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                               SendOptions options = {});
  void request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
               std::function<void(Result)> callback, SendOptions options = {});

  // Every later message of `activity_id` goes to `handler` (streaming replies) until the returned
  // Subscription is destroyed.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&&) noexcept;
    Subscription& operator=(Subscription&&) noexcept;
    ~Subscription();
    void cancel();

   private:
    friend class Relay;
    struct State;
    std::shared_ptr<State> state_;
  };
  [[nodiscard]] Subscription listen(const std::string& activity_id, Handler handler);

  void close();
  const RelayConfig& config() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace exosphere
