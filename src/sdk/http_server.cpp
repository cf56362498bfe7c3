// The HTTP server: POSIX accept on one thread, Beast's parser and serializer per connection, one
// thread per connection (capped), so a handler can block on a request to another service.
#include "exosphere/http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include "exosphere/status.hpp"

namespace exosphere::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') out += c;
    else out += {'%', kHex[u >> 4], kHex[u & 15]};
  }
  return out;
}

namespace {
std::map<std::string, std::string> parse_form(std::string_view s, std::map<std::string, std::string>& into) {
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) amp = s.size();
    auto pair = s.substr(pos, amp - pos);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      into[url_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    }
    pos = amp + 1;
    if (amp == s.size()) break;
  }
  return into;
}
}  // namespace

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::map<std::string, std::string> Request::form() const {
  std::map<std::string, std::string> out;
  parse_form(query, out);
  if (header("content-type").rfind("application/x-www-form-urlencoded", 0) == 0) parse_form(body, out);
  return out;
}

std::string Request::field(const std::string& name) const {
  auto f = form();
  auto it = f.find(name);
  return it == f.end() ? "" : it->second;
}

Response Response::html(std::string body, int status) { return {status, "text/html; charset=utf-8", std::move(body), {}}; }
Response Response::text(std::string body, int status) { return {status, "text/plain; charset=utf-8", std::move(body), {}}; }
Response Response::json(const boost::json::value& value, int status) {
  return {status, "application/json", boost::json::serialize(value), {}};
}
Response Response::redirect(const std::string& location, int status) {
  return {status, "text/plain; charset=utf-8", "", {{"Location", location}}};
}
Response Response::not_found() { return text("not found\n", 404); }

struct Server::Impl {
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes;
  std::vector<std::pair<std::string, std::filesystem::path>> file_dirs;
  int listener = -1;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  std::mutex mutex;
  std::list<std::pair<int, std::thread>> connections;
  static constexpr size_t kMaxConnections = 256;

  static std::vector<std::string> segments(const std::string& path) {
    std::vector<std::string> out;
    std::stringstream ss(path);
    std::string part;
    while (std::getline(ss, part, '/'))
      if (!part.empty()) out.push_back(part);
    return out;
  }

  Response dispatch(Request& req) {
    auto parts = segments(req.path);
    bool path_known = false;
    for (const auto& r : routes) {
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
    for (const auto& [prefix, dir] : file_dirs) {
      if (req.method != "GET" || req.path.rfind(prefix + "/", 0) != 0) continue;
      std::filesystem::path rel = std::filesystem::path(req.path.substr(prefix.size() + 1)).lexically_normal();
      if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") return Response::not_found();
      std::ifstream in(dir / rel, std::ios::binary);
      if (!in) return Response::not_found();
      std::ostringstream ss;
      ss << in.rdbuf();
      std::string ext = rel.extension().string();
      std::string type = ext == ".js" || ext == ".mjs" ? "text/javascript"
                         : ext == ".css"               ? "text/css"
                         : ext == ".ico"               ? "image/x-icon"
                         : ext == ".html"              ? "text/html; charset=utf-8"
                                                       : "application/octet-stream";
      return {200, type, ss.str(), {}};
    }
    return path_known ? Response::text("method not allowed\n", 405) : Response::not_found();
  }

  void serve(int fd) {
    timeval idle{15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.assign(asio::ip::tcp::v4(), fd, ec);
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(1 << 20);
      bhttp::read(socket, buffer, parser, ec);
      if (ec) {
        if (ec == bhttp::error::body_limit) write_plain(socket, 413, "request too large\n");
        else if (ec != bhttp::error::end_of_stream && ec != asio::error::connection_reset && ec != asio::error::eof &&
                 ec != asio::error::would_block && ec != asio::error::try_again && ec != asio::error::timed_out)
          write_plain(socket, 400, "bad request\n");
        break;
      }
      auto& raw = parser.get();
      Request req;
      req.method = std::string(raw.method_string());
      std::string target(raw.target());
      auto q = target.find('?');
      req.path = url_decode(target.substr(0, q), false);
      req.query = q == std::string::npos ? "" : target.substr(q + 1);
      req.body = raw.body();
      for (const auto& h : raw) {
        std::string name(h.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers[name] = std::string(h.value());
      }
      if (req.method == "POST") {
        std::string override_method = req.field("_method");
        for (auto& c : override_method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (override_method == "PUT" || override_method == "DELETE" || override_method == "PATCH") req.method = override_method;
      }
      Response res;
      try {
        res = dispatch(req);
      } catch (const std::exception& e) {
        std::cerr << "exosphere: " << req.method << " " << req.path << " failed: " << e.what() << std::endl;
        res = Response::text("internal error\n", 500);
      }
      bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), raw.version()};
      out.set(bhttp::field::content_type, res.content_type);
      for (const auto& [k, v] : res.headers) out.set(k, v);
      out.body() = std::move(res.body);
      out.keep_alive(raw.keep_alive());
      out.prepare_payload();
      bhttp::write(socket, out, ec);
      if (ec || !out.keep_alive()) break;
    }
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  static void write_plain(asio::ip::tcp::socket& socket, int status, const std::string& text) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(status), 11};
    out.set(bhttp::field::content_type, "text/plain");
    out.body() = text;
    out.keep_alive(false);
    out.prepare_payload();
    boost::system::error_code ec;
    bhttp::write(socket, out, ec);
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p{listener, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        reap();
        continue;
      }
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      reap();
      std::lock_guard lock(mutex);
      if (connections.size() >= kMaxConnections) {
        ::close(fd);  // overloaded: the client retries
        continue;
      }
      connections.emplace_back(fd, std::thread());
      auto& entry = connections.back();
      entry.second = std::thread([this, fd, &entry] {
        serve(fd);
        std::lock_guard l(mutex);
        entry.first = -1;  // finished; reaped by the acceptor
      });
    }
  }

  // Joins the threads of finished connections.
  void reap() {
    std::list<std::pair<int, std::thread>> done;
    {
      std::lock_guard lock(mutex);
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->first == -1) done.splice(done.end(), connections, it++);
        else ++it;
      }
    }
    for (auto& [fd, t] : done) t.join();
  }
};

Server::Server() : impl_(std::make_shared<Impl>()) {}
Server::~Server() { stop(); }

void Server::get(const std::string& p, Handler h) { impl_->routes.push_back({"GET", Impl::segments(p), std::move(h)}); }
void Server::post(const std::string& p, Handler h) { impl_->routes.push_back({"POST", Impl::segments(p), std::move(h)}); }
void Server::put(const std::string& p, Handler h) { impl_->routes.push_back({"PUT", Impl::segments(p), std::move(h)}); }
void Server::del(const std::string& p, Handler h) { impl_->routes.push_back({"DELETE", Impl::segments(p), std::move(h)}); }
void Server::files(const std::string& prefix, const std::string& dir) { impl_->file_dirs.emplace_back(prefix, dir); }

std::uint16_t Server::listen(std::uint16_t port, const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    throw Error(Status::invalid_argument, "'" + host + "' is not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    throw Error(Status::invalid_argument, "cannot listen on port " + std::to_string(port) + ": " + why);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->listener = fd;
  impl_->acceptor = std::thread([impl = impl_] { impl->accept_loop(); });
  return ntohs(addr.sin_port);
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  if (impl_->listener >= 0) ::close(impl_->listener);
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& [fd, t] : impl_->connections)
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  std::list<std::pair<int, std::thread>> all;
  {
    std::lock_guard lock(impl_->mutex);
    all.swap(impl_->connections);
  }
  for (auto& [fd, t] : all) t.join();
}

}  // namespace exosphere::http
