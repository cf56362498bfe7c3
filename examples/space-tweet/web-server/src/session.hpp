#pragma once

// Who is asking: a session cookie signed with the server's key, so sessions survive a restart of
// the web service and need no store. A visitor gets an anonymous session on the first page (its
// forms need a CSRF token too); logging in or out starts a new one.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <exosphere/http.hpp>
#include <exosphere/signing.hpp>

namespace spacetweet {

struct Session {
  std::string id;       // random; the CSRF token is derived from it
  std::string user_id;  // empty: not logged in
  std::string name;
  std::int64_t issued = 0;  // seconds since the epoch
  bool fresh = false;       // made for this request: the response sets the cookie
  bool tampered = false;    // the request carried a cookie this key did not sign (or an expired one)

  bool logged_in() const { return !user_id.empty(); }
};

class Sessions {
 public:
  static constexpr const char* kCookie = "spacetweet_session";
  static constexpr std::chrono::hours kLifetime{24 * 30};

  explicit Sessions(std::string_view key) : signer_(key) {}

  // The request's session, or a new anonymous one.
  Session of(const exosphere::http::Request& req) const;
  static Session anonymous();
  static Session for_user(const std::string& user_id, const std::string& name);
  // Sets the cookie when `session` is new; Secure when the request came over HTTPS (the load
  // balancer says so in X-Forwarded-Proto).
  void remember(exosphere::http::Response& res, const Session& session, const exosphere::http::Request& req) const;

  std::string csrf_token(const Session& session) const;
  bool csrf_ok(const exosphere::http::Request& req, const Session& session) const;

  // What a page sends through the gateway to receive messages for its user (live.join): the
  // user's id, signed, valid as long as a session.
  std::string live_token(const Session& session) const;
  std::optional<std::string> live_user(std::string_view token) const;

 private:
  exosphere::Signer signer_;
};

// Failed log-ins slow down, per name (whether or not it exists): three tries free, then a wait
// that doubles from 1 s up to 60 s. A success clears the name.
class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  // Seconds `name` must wait before it may try, or 0: then the try is counted as failed at once,
  // before the password is checked, so tries sent side by side cannot all pass.
  int attempt(const std::string& name, Clock::time_point now = Clock::now());
  void succeeded(const std::string& name);

 private:
  struct Failures {
    int count = 0;
    Clock::time_point last;
  };
  static constexpr std::size_t kMaxNames = 100000;
  std::mutex mutex_;
  std::unordered_map<std::string, Failures> names_;
};

// The key that signs sessions: SESSION_KEY (a production secret, `exo configure`), else a key kept
// in the service's data folder (created once by `exo run`), else Error(config_error).
std::string session_key();

}  // namespace spacetweet
