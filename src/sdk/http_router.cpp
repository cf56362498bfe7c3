#include "sdk/http_router.hpp"

#include <cctype>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace exosphere::http {

namespace {

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

std::string content_type_of(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  return ext == ".js" || ext == ".mjs" ? "text/javascript"
         : ext == ".css"               ? "text/css"
         : ext == ".ico"               ? "image/x-icon"
         : ext == ".svg"               ? "image/svg+xml"
         : ext == ".png"               ? "image/png"
         : ext == ".html"              ? "text/html; charset=utf-8"
                                       : "application/octet-stream";
}

}  // namespace

Request make_request(std::string_view method, std::string_view target, std::string body,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  Request req;
  req.method = std::string(method);
  auto q = target.find('?');
  req.path = url_decode(target.substr(0, q), false);
  req.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  req.body = std::move(body);
  for (const auto& [k, v] : headers) {
    std::string name = k;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = v;
  }
  if (req.method == "POST") {
    std::string override_method = req.field("_method");
    for (auto& c : override_method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (override_method == "PUT" || override_method == "DELETE" || override_method == "PATCH") req.method = override_method;
  }
  return req;
}

void Router::add(std::string method, const std::string& pattern, Handler handler) {
  routes_.push_back({std::move(method), segments(pattern), std::move(handler)});
}

void Router::files(std::string prefix, std::filesystem::path dir) { file_dirs_.emplace_back(std::move(prefix), std::move(dir)); }

Response Router::answer(Request& request) const {
  try {
    return dispatch(request);
  } catch (const std::exception& e) {
    std::cerr << "exosphere: " << request.method << " " << request.path << " failed: " << e.what() << std::endl;
    return Response::text("internal error\n", 500);
  }
}

Response Router::dispatch(Request& req) const {
  auto parts = segments(req.path);
  bool path_known = false;
  for (const auto& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < parts.size() && match; ++i) {
      if (!r.segments[i].empty() && r.segments[i][0] == ':') params[r.segments[i].substr(1)] = parts[i];
      else match = r.segments[i] == parts[i];
    }
    if (!match) continue;
    path_known = true;
    if (r.method != req.method) continue;
    req.params = std::move(params);
    return r.handler(req);
  }
  for (const auto& [prefix, dir] : file_dirs_) {
    if (req.method != "GET" || req.path.rfind(prefix + "/", 0) != 0) continue;
    std::filesystem::path rel = std::filesystem::path(req.path.substr(prefix.size() + 1)).lexically_normal();
    if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") return Response::not_found();
    std::ifstream in(dir / rel, std::ios::binary);
    if (!in) return Response::not_found();
    std::ostringstream ss;
    ss << in.rdbuf();
    return {200, content_type_of(rel), ss.str(), {}};
  }
  return path_known ? Response::text("method not allowed\n", 405) : Response::not_found();
}

}  // namespace exosphere::http
