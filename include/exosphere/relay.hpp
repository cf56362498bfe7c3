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

class Request;
class Service;

struct RelayConfig {
  // ExoCom's address: a host name (a name with several addresses counts as several nodes) or a
  // list "host:port,host:port" of the nodes of an ExoCom cluster; entries without a port use `port`.
  std::string host = "localhost";
  std::uint16_t port = 80;
  std::string role;
  bool feedback = true;  // ask ExoCom for exocom.registered and exocom.error
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5000};
  // What may be sent and not yet accepted by ExoCom (waiting for the socket or a connection, or
  // written and unacknowledged), connected or not.
  std::size_t max_queued_bytes = 16u << 20;
  // How long send() waits for room when max_queued_bytes of messages are not accepted by ExoCom
  // yet while connected (a slow receiver), before it fails with Error(busy).
  std::chrono::milliseconds send_timeout{5000};
  // How long a thread waiting for a reply stays awake (yielding its core) before it sleeps. Off by
  // default: spinning shaves a wake-up off each request but burns a core that the other services
  // of a small machine need (docs/sdk.md, "Waiting for replies").
  std::chrono::microseconds reply_spin{0};
  // Where the relay reports connection trouble; default: standard error.
  std::function<void(const std::string&)> log;
  // A file that exists while the relay is registered with ExoCom, for a container's health check
  // (`healthcheck --online` in Exosphere's images); empty: none.
  std::string online_file;
  // How long close() (and so a service's stop on SIGTERM) may take: handlers running finish and
  // their replies are accepted within it (docs/architecture.md, "Stopping").
  std::chrono::milliseconds stop_timeout{5000};

  // EXOCOM_HOST (default localhost; may list several nodes), EXOCOM_PORT (default 80), ROLE
  // (required), EXOCOM_REPLY_SPIN_US (default 0), EXOSPHERE_ONLINE_FILE (default none),
  // EXOSPHERE_STOP_TIMEOUT (seconds, default 5). Throws Error(config_error) naming the variable
  // and the fix.
  static RelayConfig from_environment();
};

// EXOSPHERE_STOP_TIMEOUT: the seconds (a decimal number, at most 3600) a process of Exosphere may
// take to stop on SIGTERM; 5 when unset. Throws Error(config_error) naming the variable.
std::chrono::milliseconds stop_timeout_from_environment();

// The outcome of a request: a reply, or why there is none.
struct Result {
  Status status = Status::ok;
  Message reply;
  std::string error;
  bool ok() const { return status == Status::ok; }
};

// The answer to a request, for any thread that waits for it, a handler's included (the relay goes
// on reading while a handler waits). Copies share the one outcome.
class Reply {
 public:
  Reply() = default;  // no request: valid() is false
  bool valid() const { return state_ != nullptr; }
  // Whether the outcome is known (a reply, a refusal, a timeout, a closed relay).
  bool ready() const;
  // Waits at most `d` (never past the request's own timeout); ready or timeout.
  std::future_status wait_for(std::chrono::nanoseconds d) const;
  std::future_status wait_until(std::chrono::steady_clock::time_point t) const;
  // Waits for the outcome: the reply, or Error(timeout / refused / not_connected / closed).
  Message get() const;
  // Waits for the outcome without throwing.
  Result result() const;

  struct State;

 private:
  friend class Relay;
  explicit Reply(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// The low-level client: one WebSocket connection to ExoCom, kept alive across restarts of the bus
// and moved to another node of a cluster when its node is gone. Every member function may be
// called from any thread. Two threads of its own: one reads and writes the socket, the other runs
// the handlers (and request callbacks), one at a time, in arrival order, never on the thread that
// reads the socket. A handler waiting for a reply lets the handler thread run the handlers of
// messages arriving meanwhile, so services asking each other in a circle do not deadlock.
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
  // Connection changes; the callbacks run on the handler thread.
  void on_online(std::function<void()> callback);
  void on_offline(std::function<void()> callback);

  // Connects in the background and keeps reconnecting (with back-off) until close().
  void start();
  bool wait_online(std::chrono::milliseconds timeout);
  bool online() const;

  // Sends a message and returns it as sent (with its id and activity id). While the bus is
  // unreachable messages wait in a bounded outbox and leave, in order, once it is back; a full
  // outbox is Error(not_connected) then, and while connected send() waits up to
  // config().send_timeout for ExoCom to accept earlier messages, then is Error(busy). Nothing is
  // dropped. A payload nested deeper than ExoCom accepts is Error(invalid_argument).
  Message send(const std::string& name, json::value payload = nullptr, SendOptions options = {});
  // Sends and returns the Reply: the first message of the same activity, Error(timeout) when none
  // arrives in time, Error(refused) as soon as ExoCom refuses the request.
  Reply request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                SendOptions options = {});
  // The same with a callback, run on the handler thread.
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

  // Stops: no handler starts any more; those running finish and their replies (everything sent)
  // reach ExoCom's keeping; messages received but not started go back to ExoCom, which gives them
  // to another instance of the role (or holds them); then the connection closes with 1001. All
  // within config().stop_timeout: false when it passed first (what was left is logged).
  bool close();
  const RelayConfig& config() const;

  struct Impl;

 private:
  // Service hands its handlers the message they answer, shared, so a Request may keep it; a
  // Request keeps the relay's core, so it may answer after the handler returned.
  friend class Request;
  friend class Service;
  void on_shared(const std::string& name, std::function<void(const std::shared_ptr<const Message>&)> handler);
  static Message send_through(Impl& impl, const std::string& name, json::value payload, SendOptions options);
  static Reply request_through(Impl& impl, const std::string& name, json::value payload,
                               std::chrono::milliseconds timeout, SendOptions options);
  std::shared_ptr<Impl> impl_;
};

}  // namespace exosphere
