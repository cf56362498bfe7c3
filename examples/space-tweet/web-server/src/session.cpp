#include "session.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <exosphere/status.hpp>

namespace spacetweet {

namespace json = boost::json;
using exosphere::Error;
using exosphere::Status;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string text_at(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "";
}

bool expired(std::int64_t issued) {
  std::int64_t age = now_seconds() - issued;
  return age < 0 || age > std::chrono::duration_cast<std::chrono::seconds>(Sessions::kLifetime).count();
}

}  // namespace

Session Sessions::anonymous() {
  Session s;
  s.id = exosphere::random_token(18);
  s.issued = now_seconds();
  s.fresh = true;
  return s;
}

Session Sessions::for_user(const std::string& user_id, const std::string& name) {
  Session s = anonymous();
  s.user_id = user_id;
  s.name = name;
  return s;
}

Session Sessions::of(const exosphere::http::Request& req) const {
  std::string cookie = req.cookie(kCookie);
  if (cookie.empty()) return anonymous();
  auto text = signer_.verify(cookie);
  auto bytes = text ? exosphere::from_base64url(*text) : std::nullopt;
  std::error_code ec;
  json::value v = bytes ? json::parse(*bytes, ec) : json::value();
  if (!ec && v.is_object()) {
    const json::object& o = v.as_object();
    Session s;
    s.id = text_at(o, "sid");
    s.user_id = text_at(o, "uid");
    s.name = text_at(o, "name");
    const json::value* issued = o.if_contains("iat");
    s.issued = issued && issued->is_int64() ? issued->get_int64() : 0;
    if (!s.id.empty() && !expired(s.issued)) return s;
  }
  Session s = anonymous();
  s.tampered = true;
  return s;
}

void Sessions::remember(exosphere::http::Response& res, const Session& s, const exosphere::http::Request& req) const {
  if (!s.fresh) return;
  json::object o{{"sid", s.id}, {"iat", s.issued}};
  if (s.logged_in()) {
    o["uid"] = s.user_id;
    o["name"] = s.name;
  }
  res.set_cookie({.name = kCookie,
                  .value = signer_.sign(exosphere::base64url(json::serialize(o))),
                  .max_age = std::chrono::duration_cast<std::chrono::seconds>(kLifetime),
                  .secure = req.header("x-forwarded-proto") == "https"});
}

std::string Sessions::csrf_token(const Session& s) const { return signer_.mac("csrf|" + s.id); }

bool Sessions::csrf_ok(const exosphere::http::Request& req, const Session& s) const {
  return !s.fresh && signer_.same_mac("csrf|" + s.id, req.field("csrf"));
}

std::string Sessions::live_token(const Session& s) const {
  return signer_.sign("live-" + s.user_id + "-" + std::to_string(s.issued));
}

std::optional<std::string> Sessions::live_user(std::string_view token) const {
  auto text = signer_.verify(token);
  if (!text || !text->starts_with("live-")) return std::nullopt;
  auto dash = text->rfind('-');
  if (dash <= 5) return std::nullopt;
  std::int64_t issued = std::strtoll(text->c_str() + dash + 1, nullptr, 10);
  if (expired(issued)) return std::nullopt;
  return text->substr(5, dash - 5);
}

int LoginThrottle::wait(const std::string& name, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(name);
  if (it == names_.end() || it->second.count < 3) return 0;
  auto delay = std::chrono::seconds(std::min(60, 1 << std::min(it->second.count - 3, 6)));
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.last + delay - now).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

void LoginThrottle::failed(const std::string& name, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (names_.size() >= kMaxNames && !names_.count(name)) {
    // Forget the names that failed longest ago: a flood of made-up names cannot grow the table.
    auto oldest = std::min_element(names_.begin(), names_.end(),
                                   [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    names_.erase(oldest);
  }
  auto& f = names_[name];
  f.count++;
  f.last = now;
}

void LoginThrottle::succeeded(const std::string& name) {
  std::lock_guard lock(mutex_);
  names_.erase(name);
}

std::string session_key() {
  if (const char* key = std::getenv("SESSION_KEY"); key && *key) {
    if (std::string_view(key).size() < 32)
      throw Error(Status::config_error, "SESSION_KEY has " + std::to_string(std::string_view(key).size()) +
                                            " characters; give it at least 32 (for example: openssl rand -base64 32)");
    return key;
  }
  const char* dir = std::getenv("EXOSPHERE_DATA_DIR");
  if (!dir || !*dir)
    throw Error(Status::config_error,
                "SESSION_KEY is not set: store a random string of at least 32 characters under that name with `exo configure create`");
  std::string path = std::string(dir) + "/session-key";
  std::ifstream in(path);
  std::string key;
  if (in && std::getline(in, key) && key.size() >= 32) return key;
  key = exosphere::random_token(32);
  {
    std::ofstream out(path, std::ios::trunc);
    out << key << "\n";
    if (!out) throw Error(Status::config_error, "cannot write the session key to " + path);
  }
  ::chmod(path.c_str(), 0600);
  return key;
}

}  // namespace spacetweet
