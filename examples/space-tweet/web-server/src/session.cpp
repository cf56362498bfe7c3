#include "session.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

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

constexpr std::string_view kCookiePrefix = "session~";
constexpr std::string_view kLivePrefix = "live~";

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
  // Each kind of token signs text of its own prefix: none passes for another.
  auto bytes = text && text->starts_with(kCookiePrefix) ? exosphere::from_base64url(text->substr(kCookiePrefix.size())) : std::nullopt;
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
                  .value = signer_.sign(std::string(kCookiePrefix) + exosphere::base64url(json::serialize(o))),
                  .max_age = std::chrono::duration_cast<std::chrono::seconds>(kLifetime),
                  .secure = req.header("x-forwarded-proto") == "https"});
}

std::string Sessions::csrf_token(const Session& s) const { return signer_.mac("csrf|" + s.id); }

bool Sessions::csrf_ok(const exosphere::http::Request& req, const Session& s) const {
  return !s.fresh && signer_.same_mac("csrf|" + s.id, req.field("csrf"));
}

std::string Sessions::live_token(const Session& s) const {
  return signer_.sign(std::string(kLivePrefix) + s.user_id + "~" + std::to_string(s.issued));
}

std::optional<std::string> Sessions::live_user(std::string_view token) const {
  auto text = signer_.verify(token);
  if (!text || !text->starts_with(kLivePrefix)) return std::nullopt;
  auto tilde = text->rfind('~');
  if (tilde <= kLivePrefix.size()) return std::nullopt;
  std::int64_t issued = std::strtoll(text->c_str() + tilde + 1, nullptr, 10);
  if (expired(issued)) return std::nullopt;
  return text->substr(kLivePrefix.size(), tilde - kLivePrefix.size());
}

int LoginThrottle::attempt(const std::string& name, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = names_.find(name);
  if (it != names_.end() && it->second.count >= 3) {
    auto delay = std::chrono::seconds(std::min(60, 1 << std::min(it->second.count - 3, 6)));
    auto left = std::chrono::ceil<std::chrono::seconds>(it->second.last + delay - now).count();
    if (left > 0) return static_cast<int>(left);
  }
  if (it == names_.end() && names_.size() >= kMaxNames) {
    // Forget the names that failed longest ago: a flood of made-up names cannot grow the table.
    names_.erase(std::min_element(names_.begin(), names_.end(),
                                  [](const auto& a, const auto& b) { return a.second.last < b.second.last; }));
  }
  auto& f = names_[name];
  f.count++;
  f.last = now;
  return 0;
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
  auto read_key = [&] {
    std::ifstream in(path);
    std::string key;
    return in && std::getline(in, key) && key.size() >= 32 ? key : std::string();
  };
  if (std::string key = read_key(); !key.empty()) return key;
  // Written whole under another name, then linked into place only if no key is there yet: two web
  // processes starting together end up with the same key, and nobody else can read it.
  std::string temp = path + "." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::string line = exosphere::random_token(32) + "\n";
  bool written = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  bool placed = written && (::link(temp.c_str(), path.c_str()) == 0 || errno == EEXIST);
  int error = errno;
  ::unlink(temp.c_str());
  std::string key = read_key();
  if (!placed || key.empty())
    throw Error(Status::config_error, "cannot keep a session key in " + path + ": " + std::strerror(error) +
                                          "; make the data folder writable or set SESSION_KEY");
  return key;
}

}  // namespace spacetweet
