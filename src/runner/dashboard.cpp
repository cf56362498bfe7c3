#include "runner/dashboard.hpp"

#include <dirent.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <deque>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "common/envelope.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "common/websocket.hpp"

namespace exo::runner {

std::string_view dashboard_index_html();
std::string_view dashboard_app_js();
std::string_view dashboard_style_css();

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kMaxRequestHead = 16 * 1024;
constexpr size_t kMaxLogs = 2000;     // lines a new page gets; older ones are gone
constexpr size_t kMaxTrace = 1000;    // trace events a new page gets
constexpr size_t kMaxBacklog = 8u << 20;  // a page further behind than this is disconnected
constexpr auto kRequestTimeout = 10s;
constexpr std::string_view kCookie = "exo_dashboard";

std::string json_quoted(std::string_view s) {
  std::string out;
  wire::append_json_string(out, s);
  return out;
}

double epoch_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// CPU time (clock ticks) and resident memory (bytes) of each process group, from /proc.
struct Usage {
  uint64_t ticks = 0, rss = 0;
};
std::map<int, Usage> usage_by_group() {
  std::map<int, Usage> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  static const long page = ::sysconf(_SC_PAGESIZE);
  while (dirent* e = ::readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    auto stat = try_read_file(std::string("/proc/") + e->d_name + "/stat");
    if (!stat) continue;  // gone meanwhile
    size_t close = stat->rfind(')');
    if (close == std::string::npos || close + 2 >= stat->size()) continue;
    auto f = split(std::string_view(*stat).substr(close + 2), ' ');  // f[0] is field 3 (state)
    if (f.size() < 22) continue;
    try {
      Usage& u = out[std::stoi(f[2])];  // field 5: the process group
      u.ticks += std::stoull(f[11]) + std::stoull(f[12]);  // fields 14 and 15: user and system time
      u.rss += std::stoull(f[21]) * static_cast<uint64_t>(page);  // field 24: resident pages
    } catch (const std::exception&) {
    }
  }
  ::closedir(proc);
  return out;
}

// The parts of the page that do not change while exo runs: routes, the edges between roles (who
// may send what to whom, after translation) and exo lint's findings per role.
std::string model_json(const config::Application& app, const std::map<std::string, config::Service>& services) {
  config::RouteTable table = config::compile_routes(app, services);
  json::object routes;
  json::array edges;
  auto named = [](const std::string& pub, const std::string& internal) {
    return pub == internal ? pub : pub + " (as " + internal + ")";
  };
  for (const auto& [role, r] : table.roles) {
    json::array sends, receives;
    for (const auto& n : r.sends) sends.emplace_back(named(config::to_public(r, role, n), n));
    for (const auto& n : r.receives) receives.emplace_back(named(config::to_public(r, role, n), n));
    routes[role] = json::object{{"sends", sends}, {"receives", receives}};
    for (const auto& sent : r.sends) {
      std::string pub = config::to_public(r, role, sent);
      for (const auto& [to, tr] : table.roles)
        for (const auto& got : tr.receives)
          if (config::to_public(tr, to, got) == pub)
            edges.emplace_back(json::object{{"from", role}, {"to", to}, {"name", pub}, {"as", got}});
    }
  }
  json::array problems;
  auto report = config::lint(app, services, {});
  for (const auto* list : {&report.sent_not_received, &report.received_not_sent, &report.name_collisions,
                           &report.unused_translations, &report.missing_service_files})
    for (const auto& finding : *list)
      for (const auto& role : finding.roles) problems.emplace_back(json::object{{"role", role}, {"text", finding.text}});
  return to_json(json::object{{"app", app.name.empty() ? std::string("application") : app.name},
                              {"routes", routes},
                              {"edges", edges},
                              {"problems", problems}});
}

class HttpSession;
class Observer;

}  // namespace

struct Dashboard::Impl : std::enable_shared_from_this<Dashboard::Impl> {
  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer ticker;
  std::string token = random_hex(16);
  std::string model;  // model_json(), without its closing brace
  Services list;
  Act act;
  std::deque<std::string> logs, trace;  // JSON objects
  std::vector<std::weak_ptr<HttpSession>> streams;
  std::map<uint16_t, std::shared_ptr<Observer>> observers;
  std::map<std::string, int64_t> instances;  // from ExoCom's status
  std::map<int, std::pair<uint64_t, Clock::time_point>> cpu_seen;  // group → ticks at a time
  std::map<int, std::pair<double, uint64_t>> usage;  // group → CPU percent, memory bytes
  bool closed = false;

  Impl(asio::io_context& context, std::string m, Services l, Act a)
      : io(context), acceptor(context), ticker(context), model(std::move(m)), list(std::move(l)), act(std::move(a)) {
    model.pop_back();
  }

  uint16_t port() const { return acceptor.local_endpoint().port(); }
  void accept();
  void tick();
  void measure(const std::vector<ServiceView>& views);
  std::string services_json(const std::vector<ServiceView>& views);
  bool watched() const { return !streams.empty(); }
  std::string snapshot_json();
  void broadcast(std::string_view event, std::string_view data);
  void add_trace(std::string_view batch);
};

namespace {

// One HTTP exchange, or one page's event stream (/api/events) that stays open.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<Dashboard::Impl> d, tcp::socket socket)
      : d_(std::move(d)), socket_(std::move(socket)), deadline_(d_->io) {}

  void start() {
    deadline_.expires_after(kRequestTimeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec && !self->streaming_) self->close();
    });
    read();
  }

  // An event for a page: queued behind what it has not taken yet, or the page is dropped.
  void send(std::shared_ptr<const std::string> event) {
    if (!open_) return;
    if (backlog_ > kMaxBacklog) return close();
    backlog_ += event->size();
    out_.push_back(std::move(event));
    if (!writing_) write();
  }

  void close() {
    if (!open_) return;
    open_ = false;
    error_code ignored;
    deadline_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, size_t n) {
    if (ec || !open_) return close();
    if (streaming_) return read();  // a page's stream: nothing more comes but its end
    head_.append(buffer_.data(), n);
    size_t end = head_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (head_.size() > kMaxRequestHead) return respond(431, "Request Header Fields Too Large", "text/plain", "request too large\n");
      return read();
    }
    handle(std::string_view(head_).substr(0, end));
  }

  // Header names in lower case → values.
  static std::map<std::string, std::string> headers_of(std::string_view head) {
    std::map<std::string, std::string> out;
    for (const auto& line : split_lines(head)) {
      auto colon = line.find(':');
      if (colon != std::string::npos) out[to_lower(line.substr(0, colon))] = std::string(trim(std::string_view(line).substr(colon + 1)));
    }
    return out;
  }

  void handle(std::string_view head) {
    auto first = head.substr(0, head.find("\r\n"));
    auto parts = split(first, ' ');
    if (parts.size() != 3 || !parts[2].starts_with("HTTP/1."))
      return respond(400, "Bad Request", "text/plain", "malformed request\n");
    std::string method = parts[0], target = parts[1];
    std::string path = target.substr(0, target.find('?'));
    std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    // Only this machine's names: a page elsewhere that points its own host name at 127.0.0.1
    // (DNS rebinding) gets nothing.
    auto headers = headers_of(head.substr(first.size()));
    const std::string& host = headers["host"];
    std::string port = std::to_string(d_->port());
    if (host != "localhost:" + port && host != "127.0.0.1:" + port && host != "[::1]:" + port)
      return respond(403, "Forbidden", "text/plain", "the dashboard answers on localhost only\n");
    std::string_view from_query = query_value(query, "token");
    std::string cookie_token;
    for (const auto& c : split(headers["cookie"], ';')) {
      auto t = trim(c);
      if (t.starts_with(std::string(kCookie) + "=")) cookie_token = std::string(t.substr(kCookie.size() + 1));
    }
    const std::string& header_token = headers["x-exo-token"];
    bool by_header = same_secret(header_token, d_->token);
    bool allowed = by_header || same_secret(from_query, d_->token) || same_secret(cookie_token, d_->token);
    if (!allowed)
      return respond(401, "Unauthorized", "text/plain",
                     "open the dashboard with the URL exo run printed: it carries the token\n");
    std::string cookie = same_secret(from_query, d_->token)
                             ? fmt::format("Set-Cookie: {}={}; HttpOnly; SameSite=Strict; Path=/\r\n", kCookie, d_->token)
                             : std::string();
    if (method == "GET" && path == "/")
      return respond(200, "OK", "text/html; charset=utf-8", dashboard_index_html(),
                     cookie + "Content-Security-Policy: default-src 'self'; img-src 'self' data:\r\n");
    if (method == "GET" && path == "/app.js") return respond(200, "OK", "text/javascript; charset=utf-8", dashboard_app_js(), cookie);
    if (method == "GET" && path == "/style.css") return respond(200, "OK", "text/css; charset=utf-8", dashboard_style_css(), cookie);
    if (method == "GET" && path == "/api/events") return stream();
    if (method == "POST" && path.starts_with("/api/services/")) {
      // A form elsewhere can send the cookie but not this header: no cross-site requests.
      if (!by_header) return respond(403, "Forbidden", "text/plain", "actions need the X-Exo-Token header\n");
      auto rest = split(std::string_view(path).substr(14), '/');
      if (rest.size() != 2) return respond(404, "Not Found", "text/plain", "POST /api/services/<role>/restart|stop|start\n");
      std::string why = d_->act(rest[0], rest[1]);
      if (!why.empty()) return respond(409, "Conflict", "text/plain", why + "\n");
      return respond(204, "No Content", "text/plain", "");
    }
    return respond(404, "Not Found", "text/plain", "not found\n");
  }

  void stream() {
    streaming_ = true;
    deadline_.cancel();
    d_->streams.push_back(weak_from_this());
    send(std::make_shared<const std::string>(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
        "Connection: keep-alive\r\n\r\nretry: 1000\n\nevent: snapshot\ndata: " + d_->snapshot_json() + "\n\n"));
    read();  // notices when the page goes away
  }

  void respond(int status, std::string_view reason, std::string_view type, std::string_view body, std::string extra = {}) {
    closing_ = true;
    send(std::make_shared<const std::string>(fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n{}\r\n{}",
        status, reason, type, body.size(), extra, body)));
  }

  void write() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(*out_.front()), [self = shared_from_this()](const error_code& ec, size_t) {
      self->on_write(ec);
    });
  }

  void on_write(const error_code& ec) {
    writing_ = false;
    if (ec) return close();
    backlog_ -= out_.front()->size();
    out_.pop_front();
    if (!out_.empty()) return write();
    if (closing_) close();
  }

  std::shared_ptr<Dashboard::Impl> d_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  std::array<char, 4096> buffer_{};
  std::string head_;
  std::deque<std::shared_ptr<const std::string>> out_;
  size_t backlog_ = 0;
  bool open_ = true, writing_ = false, closing_ = false, streaming_ = false;
};

// A read-only client of ExoCom's /observe: trace batches and, once a second, ExoCom's status.
// It reconnects every second while ExoCom is away (restarted by the supervisor).
class Observer : public std::enable_shared_from_this<Observer>, public ws::Events {
 public:
  Observer(std::shared_ptr<Dashboard::Impl> d, uint16_t port, std::string token)
      : d_(std::move(d)), port_(port), token_(std::move(token)), socket_(d_->io), retry_(d_->io) {}

  void start() { connect(); }

  void stop() {
    stopped_ = true;
    error_code ignored;
    retry_.cancel();
    socket_.close(ignored);
  }

 private:
  void connect() {
    if (stopped_) return;
    upgraded_ = false;
    in_.clear();
    decoder_ = ws::Decoder(false, 64u << 20);
    error_code ignored;
    socket_.close(ignored);
    socket_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port_),
                          [self = shared_from_this()](const error_code& ec) { self->on_connect(ec); });
  }

  void on_connect(const error_code& ec) {
    if (ec) return retry_later();
    std::array<char, 16> key{};
    random_bytes(key.data(), key.size());
    auto request = std::make_shared<std::string>(fmt::format(
        "GET /observe HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {}\r\n\r\n",
        port_, ws::base64(std::string_view(key.data(), key.size())), token_));
    asio::async_write(socket_, asio::buffer(*request), [self = shared_from_this(), request](const error_code& e, size_t) {
      if (e) return self->retry_later();
      self->read();
    });
  }

  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, size_t n) {
    if (stopped_) return;
    if (ec) return retry_later();
    in_.append(buffer_.data(), n);
    if (!upgraded_) {
      size_t end = in_.find("\r\n\r\n");
      if (end == std::string::npos) return in_.size() > kMaxRequestHead ? retry_later() : read();
      if (!in_.starts_with("HTTP/1.1 101")) return retry_later();  // an ExoCom without the token: try again later
      upgraded_ = true;
      in_.erase(0, end + 4);
    }
    size_t used = decoder_.feed(in_.data(), in_.size(), *this);
    in_.erase(0, used);
    if (decoder_.stopped()) return retry_later();
    read();
  }

  void retry_later() {
    if (stopped_) return;
    error_code ignored;
    socket_.close(ignored);
    retry_.expires_after(1s);
    retry_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->connect();
    });
  }

  void send(ws::Opcode opcode, std::string_view payload) {
    std::array<uint8_t, 4> mask{};
    random_bytes(mask.data(), mask.size());
    auto frame = std::make_shared<std::string>();
    ws::append_frame(*frame, opcode, payload, mask.data());
    asio::async_write(socket_, asio::buffer(*frame), [frame](const error_code&, size_t) {});
  }

  void on_text(std::string_view message) override {
    if (message.starts_with("{\"status\":")) {
      json::value v;
      std::string error;
      if (!parse_json_limited(message, 16, v, error) || !v.is_object()) return;
      const auto* status = v.as_object().if_contains("status");
      const auto* roles = status && status->is_object() ? status->as_object().if_contains("roles") : nullptr;
      if (!roles || !roles->is_object()) return;
      for (const auto& [role, r] : roles->as_object()) {
        if (!r.is_object()) continue;
        int64_t count = 0;
        for (const char* key : {"instances", "remote"})
          if (const auto* n = r.as_object().if_contains(key); n && n->is_int64()) count += n->as_int64();
        d_->instances[std::string(role)] = count;
      }
      return;
    }
    d_->add_trace(message);
  }
  void on_binary(std::string_view) override {}
  void on_close(uint16_t, std::string_view) override { retry_later(); }
  void on_ping(std::string_view payload) override { send(ws::Opcode::pong, payload); }
  void on_pong(std::string_view) override {}
  void on_protocol_error(uint16_t, std::string_view) override { retry_later(); }

  std::shared_ptr<Dashboard::Impl> d_;
  uint16_t port_;
  std::string token_;
  tcp::socket socket_;
  asio::steady_timer retry_;
  std::array<char, 65536> buffer_{};
  std::string in_;
  ws::Decoder decoder_{false, 64u << 20};
  bool upgraded_ = false, stopped_ = false;
};

}  // namespace

void Dashboard::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    if (self->closed) return;
    if (!ec) std::make_shared<HttpSession>(self, std::move(socket))->start();
    if (ec == asio::error::operation_aborted) return;
    self->accept();
  });
}

// Once a second, while a page is open: CPU and memory, and the services table for every page.
void Dashboard::Impl::tick() {
  ticker.expires_after(1s);
  ticker.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closed) return;
    if (self->watched()) {
      auto views = self->list();
      self->measure(views);
      self->broadcast("services", self->services_json(views));
    }
    self->tick();
  });
}

void Dashboard::Impl::measure(const std::vector<ServiceView>& views) {
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto now = Clock::now();
  auto groups = usage_by_group();
  std::map<int, std::pair<uint64_t, Clock::time_point>> seen;
  usage.clear();
  for (const auto& s : views) {
    if (s.pid <= 0) continue;
    auto it = groups.find(s.pid);
    if (it == groups.end()) continue;
    double percent = 0;
    if (auto before = cpu_seen.find(s.pid); before != cpu_seen.end() && it->second.ticks >= before->second.first) {
      double seconds = std::chrono::duration<double>(now - before->second.second).count();
      if (seconds > 0) percent = 100.0 * static_cast<double>(it->second.ticks - before->second.first) / ticks_per_second / seconds;
    }
    seen[s.pid] = {it->second.ticks, now};
    usage[s.pid] = {percent, it->second.rss};
  }
  cpu_seen = std::move(seen);
}

std::string Dashboard::Impl::services_json(const std::vector<ServiceView>& views) {
  std::string out = "[";
  bool first = true;
  for (const auto& s : views) {
    if (!first) out += ',';
    first = false;
    out += fmt::format(R"({{"role":{},"state":{},"pid":{},"restarts":{},"controllable":{})", json_quoted(s.role), json_quoted(s.state),
                       s.pid, s.restarts, s.controllable ? "true" : "false");
    if (s.uptime >= 0) out += fmt::format(",\"uptime\":{}", s.uptime);
    if (auto u = usage.find(s.pid); s.pid > 0 && u != usage.end())
      out += fmt::format(",\"cpu\":{:.2f},\"memory\":{}", u->second.first, u->second.second);
    if (auto i = instances.find(s.role); i != instances.end()) out += fmt::format(",\"instances\":{}", i->second);
    out += '}';
  }
  return out + "]";
}

std::string Dashboard::Impl::snapshot_json() {
  std::string out = model + ",\"services\":" + services_json(list()) + ",\"logs\":[";
  for (size_t i = 0; i < logs.size(); ++i) out += (i ? "," : "") + logs[i];
  out += "],\"trace\":[";
  for (size_t i = 0; i < trace.size(); ++i) out += (i ? "," : "") + trace[i];
  return out + "]}";
}

// An event serialized once, shared by every page.
void Dashboard::Impl::broadcast(std::string_view event, std::string_view data) {
  auto text = std::make_shared<const std::string>(fmt::format("event: {}\ndata: {}\n\n", event, data));
  std::erase_if(streams, [&](const std::weak_ptr<HttpSession>& w) {
    auto s = w.lock();
    if (s) s->send(text);
    return !s;
  });
}

void Dashboard::Impl::add_trace(std::string_view batch) {
  json::value v;
  std::string error;
  if (!parse_json_limited(batch, 64, v, error) || !v.is_object()) return;
  const auto* events = v.as_object().if_contains("events");
  if (!events || !events->is_array()) return;
  for (const auto& e : events->as_array()) {
    trace.push_back(json::serialize(e));
    if (trace.size() > kMaxTrace) trace.pop_front();
  }
  broadcast("trace", batch);
}

Dashboard::Dashboard(asio::io_context& io, const config::Application& app,
                     const std::map<std::string, config::Service>& services, Services list, Act act, uint16_t port)
    : impl_(std::make_shared<Impl>(io, model_json(app, services), std::move(list), std::move(act))) {
  error_code ec;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec == asio::error::address_in_use)
    throw UserError(fmt::format("--dashboard-port {}: the port is in use; pick another one or leave it out", port));
  if (ec) throw UserError(fmt::format("the dashboard cannot listen on 127.0.0.1:{}: {}", port, ec.message()));
  impl_->accept();
  impl_->tick();
}

Dashboard::~Dashboard() { close(); }

std::string Dashboard::url() const { return fmt::format("http://localhost:{}/?token={}", impl_->port(), impl_->token); }

void Dashboard::log(std::string_view role, std::string_view text) {
  if (impl_->closed) return;
  std::string line = fmt::format(R"({{"time":{:.3f},"role":{},"text":{}}})", epoch_ms(), json_quoted(role), json_quoted(text));
  impl_->broadcast("log", line);
  impl_->logs.push_back(std::move(line));
  if (impl_->logs.size() > kMaxLogs) impl_->logs.pop_front();
}

void Dashboard::services_changed() {
  if (!impl_->closed && impl_->watched()) impl_->broadcast("services", impl_->services_json(impl_->list()));
}

void Dashboard::observe(uint16_t port, const std::string& token) {
  if (impl_->closed) return;
  if (auto it = impl_->observers.find(port); it != impl_->observers.end()) it->second->stop();
  auto o = std::make_shared<Observer>(impl_, port, token);
  impl_->observers[port] = o;
  o->start();
}

void Dashboard::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->ticker.cancel();
  for (auto& [port, o] : impl_->observers) o->stop();
  impl_->observers.clear();
  for (auto& w : impl_->streams)
    if (auto s = w.lock()) s->close();
  impl_->streams.clear();
}

}  // namespace exo::runner
