#pragma once

// What the HTTP server does with a request once it is read, apart from any socket: the request as
// handlers see it, and the route (or file) that answers it. Fuzzed on its own (fuzz/http_request.cpp).

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exosphere/http.hpp"

namespace exosphere::http {

// A request as handlers see it: the path percent-decoded, header names in lower case, and a POST's
// `_method` override (PUT, DELETE, PATCH) applied.
Request make_request(std::string_view method, std::string_view target, std::string body,
                     const std::vector<std::pair<std::string, std::string>>& headers);

class Router {
 public:
  // Patterns are paths with ":name" segments: "/users/:id/edit".
  void add(std::string method, const std::string& pattern, Handler handler);
  void files(std::string prefix, std::filesystem::path dir);
  // The answer: the matching route's, a file, 405 for a known path with another method, else 404.
  // A handler's exception becomes a 500 and a log line.
  Response answer(Request& request) const;

 private:
  Response dispatch(Request& request) const;
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, std::filesystem::path>> file_dirs_;
};

}  // namespace exosphere::http
