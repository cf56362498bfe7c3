#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exosphere/relay.hpp"

namespace exosphere {

// What a handler gets besides the payload: the message, and ways to answer it. It owns what it
// needs, so a copy kept to answer later, after the handler returned, stays valid; once the relay
// is closed its calls fail with Error(closed).
class Request {
 public:
  const Message& message() const { return *message_; }
  // A reply: same activity, same auth and security flag.
  Message reply(const std::string& name, json::value payload = json::object());
  // A new activity that keeps the auth of this one.
  Message send(const std::string& name, json::value payload = nullptr);
  Reply request(const std::string& name, json::value payload,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  friend class Service;
  Request(const Relay& relay, std::shared_ptr<const Message> message)
      : relay_(relay.impl_), message_(std::move(message)) {}
  std::shared_ptr<Relay::Impl> relay_;
  std::shared_ptr<const Message> message_;
};

// A service in a few lines: handlers by message name, an optional before-all hook, then run().
class Service {
 public:
  using Handler = std::function<void(const json::value& payload, Request& request)>;

  Service();  // configured from the environment (ROLE, EXOCOM_HOST, EXOCOM_PORT)
  explicit Service(RelayConfig config);
  ~Service();

  // Runs once, before the service connects (open a database, ...). An exception stops run().
  void before_all(std::function<void()> hook);
  void on(const std::string& name, Handler handler);
  // Runs when the stop begins, before the relay stops taking messages: stop here what else takes
  // work (an HTTP server: web.stop()), so that its requests, which may ask other services, finish.
  void on_stop(std::function<void()> hook);

  // Runs the hook, connects, prints "online at port <EXOCOM_PORT>" once registered, and serves
  // until SIGTERM or SIGINT (on whichever thread it lands). Then stops: the stop hooks, then the
  // relay's close() (handlers finish, the rest goes back to ExoCom), within the relay's
  // stop_timeout (EXOSPHERE_STOP_TIMEOUT). Returns the exit code: 0, or 1 when the stop was not
  // clean (what was left is logged).
  int run();
  // Stops run() from another thread.
  void stop();
  Relay& relay() { return relay_; }

 private:
  Relay relay_;
  std::function<void()> before_all_;
  std::vector<std::function<void()>> stop_hooks_;
  struct Stopper;
  std::shared_ptr<Stopper> stopper_;
};

}  // namespace exosphere
