#pragma once

// A small HTTP/1.1 server for services that serve web pages or an API next to the bus (the web
// server of an application). Connections are read and written asynchronously on one I/O thread,
// so slow or idle clients cost no thread; complete requests go to a pool of handler threads, so a
// handler may wait for replies from other services.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace exosphere::http {

struct Request {
  std::string method;  // after a POST's _method override (PUT, DELETE) is applied
  std::string path;    // without the query, percent-decoded
  std::string query;   // raw
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::map<std::string, std::string> params;   // from the route pattern, e.g. ":id"

  std::string header(const std::string& name) const;
  // Query parameters and, for form posts, body fields (the body wins).
  std::map<std::string, std::string> form() const;
  std::string field(const std::string& name) const;
  // The value of cookie `name` from the Cookie header, or "" when there is none.
  std::string cookie(const std::string& name) const;
};

// A Set-Cookie header. Names and values are sent as given: keep them to the cookie alphabet
// (letters, digits, "-._~" and the base64url of a signed token).
struct Cookie {
  std::string name, value;
  std::string path = "/";
  std::chrono::seconds max_age{-1};  // negative: until the browser closes; 0: removed now
  bool http_only = true;             // out of reach of the page's scripts
  bool secure = false;               // only over HTTPS
  std::string same_site = "Lax";     // Lax: not sent with another site's forms (POST)
};

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response html(std::string body, int status = 200);
  static Response text(std::string body, int status = 200);
  static Response json(const boost::json::value& value, int status = 200);
  static Response redirect(const std::string& location, int status = 302);
  static Response not_found();

  Response& set_cookie(const Cookie& cookie);
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::size_t max_header_bytes = 16 * 1024;      // larger: 431
  std::size_t max_body_bytes = 1024 * 1024;      // larger: 413
  // A request must arrive whole within this time (a client trickling bytes is cut off); an idle
  // keep-alive connection is closed after it.
  std::chrono::milliseconds request_timeout{15000};
  unsigned handler_threads = 16;                 // handlers running at once; more requests wait
  std::chrono::milliseconds shutdown_grace{5000}; // stop() lets running handlers finish this long
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Patterns are paths with ":name" segments: "/users/:id/edit".
  void get(const std::string& pattern, Handler handler);
  void post(const std::string& pattern, Handler handler);
  void put(const std::string& pattern, Handler handler);
  void del(const std::string& pattern, Handler handler);
  // Serves the files of `dir` under the URL prefix (e.g. "/public").
  void files(const std::string& prefix, const std::string& dir);

  // Starts serving in the background; port 0 lets the OS choose. `host` is an IPv4 or IPv6 address
  // or a host name (its first address is used). Returns the port; Error(invalid_argument) when it
  // cannot listen. Raises the process's soft limit of open files to the hard one, as servers do.
  std::uint16_t listen(std::uint16_t port, const std::string& host = "0.0.0.0");
  // Stops accepting, lets running handlers finish (up to shutdown_grace), closes every connection.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Text made safe to put into HTML (element content and quoted attributes).
std::string escape_html(std::string_view text);
std::string url_decode(std::string_view text, bool plus_is_space = true);
std::string url_encode(std::string_view text);

}  // namespace exosphere::http
