#pragma once

// A small HTTP/1.1 server for services that serve web pages or an API next to the bus (the web
// server of an application). Each connection is served on its own thread, so handlers may wait for
// replies from other services.

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
};

using Handler = std::function<Response(const Request&)>;

class Server {
 public:
  Server();
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

  // Starts serving in the background; port 0 lets the OS choose. Returns the port.
  std::uint16_t listen(std::uint16_t port, const std::string& host = "0.0.0.0");
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
