// MockExoCom: a small real WebSocket server (blocking sockets, a thread per connection) that
// speaks ExoCom's protocol to one service under test.
#include "exosphere/testing/mock_exocom.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json/serialize.hpp>

#include "common/ids.hpp"
#include "common/signals.hpp"
#include "common/websocket.hpp"
#include "exosphere/status.hpp"
#include "sdk/wire.hpp"

namespace exosphere::testing {

namespace {

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string server_frame(std::string_view payload, exo::ws::Opcode op = exo::ws::Opcode::text) {
  std::string f;
  exo::ws::append_frame(f, op, payload);
  return f;
}

}  // namespace

struct MockExoCom::Impl {
  int listener = -1;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;

  struct Connection {
    int fd;
    std::string role;
    std::mutex write_mutex;
    std::thread reader;
  };
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::list<std::unique_ptr<Connection>> connections;
  std::vector<Message> received;
  std::map<std::string, std::pair<std::string, json::value>> replies;

  Impl() {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 64) != 0)
      throw Error(Status::not_connected, std::string("MockExoCom cannot listen: ") + std::strerror(errno));
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    acceptor = exo::quiet_thread([this] { accept_loop(); });
  }

  ~Impl() {
    stopping = true;
    ::shutdown(listener, SHUT_RDWR);
    ::close(listener);
    acceptor.join();
    std::list<std::unique_ptr<Connection>> all;
    {
      std::lock_guard lock(mutex);
      all.swap(connections);
    }
    for (auto& c : all) {
      ::shutdown(c->fd, SHUT_RDWR);
      c->reader.join();
      ::close(c->fd);
    }
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p{listener, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      Connection* raw = c.get();
      {
        std::lock_guard lock(mutex);
        connections.push_back(std::move(c));
      }
      raw->reader = exo::quiet_thread([this, raw] { serve(*raw); });
    }
  }

  struct Reader : exo::ws::Events {
    Impl& mock;
    Connection& c;
    bool done = false;
    Reader(Impl& m, Connection& conn) : mock(m), c(conn) {}
    void on_text(std::string_view text) override { mock.on_message(c, text); }
    void on_binary(std::string_view) override {}
    void on_close(uint16_t code, std::string_view) override {
      std::lock_guard lock(c.write_mutex);
      send_all(c.fd, server_frame(exo::ws::close_payload(code == 1005 ? 1000 : code, ""), exo::ws::Opcode::close));
      done = true;
    }
    void on_ping(std::string_view p) override {
      std::lock_guard lock(c.write_mutex);
      send_all(c.fd, server_frame(p, exo::ws::Opcode::pong));
    }
    void on_pong(std::string_view) override {}
    void on_protocol_error(uint16_t, std::string_view) override { done = true; }
  };

  void serve(Connection& c) {
    std::string in;
    char buf[65536];
    // The handshake.
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    size_t end = in.find("\r\n\r\n");
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    std::string key;
    for (size_t pos = 0; pos < head.size();) {
      size_t eol = head.find("\r\n", pos);
      std::string line = head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
      std::string lower = line;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower.rfind("sec-websocket-key:", 0) == 0) {
        key = line.substr(18);
        while (!key.empty() && key.front() == ' ') key.erase(0, 1);
      }
      if (eol == std::string::npos) break;
      pos = eol + 2;
    }
    {
      std::lock_guard lock(c.write_mutex);
      send_all(c.fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " + exo::ws::accept_key(key) + "\r\n\r\n");
    }
    exo::ws::Decoder decoder(true, 64u << 20);
    Reader reader(*this, c);
    while (!reader.done) {
      if (!in.empty()) {
        size_t used = decoder.feed(in.data(), in.size(), reader);
        in.erase(0, used);
        if (decoder.stopped()) break;
      }
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    std::lock_guard lock(mutex);
    c.role.clear();
    changed.notify_all();
  }

  void on_message(Connection& c, std::string_view text) {
    Message m;
    std::string error;
    if (!sdk::parse_message(text, m, error)) return;
    std::optional<std::pair<std::string, json::value>> scripted;
    bool ack = false;
    {
      std::lock_guard lock(mutex);
      if (m.name == "exocom.register-service") {
        c.role = m.sender;
        if (auto* o = m.payload.if_object(); o && o->contains("ack") && o->at("ack") == true) ack = true;
      }
      if (auto it = replies.find(m.name); it != replies.end()) scripted = it->second;
      received.push_back(m);
    }
    changed.notify_all();
    if (ack) write(c, "exocom.registered", json::object{{"role", m.sender}}, m.activity_id, {});
    if (scripted) write(c, scripted->first, scripted->second, m.activity_id, {});
  }

  Message write(Connection& c, const std::string& name, json::value payload, std::string activity,
                const SendOptions& options) {
    if (activity.empty()) activity = exo::new_uuid();
    Message m;
    m.name = name;
    m.id = exo::new_uuid();
    m.activity_id = activity;
    m.sender = "exocom";
    m.payload = std::move(payload);
    m.auth = options.auth;
    m.is_security = options.is_security;
    std::lock_guard lock(c.write_mutex);
    send_all(c.fd, server_frame(sdk::message_json(m.name, m.sender, m.id, m.activity_id, m.payload, options)));
    return m;
  }

  Connection* find(const std::string& role) {
    for (auto& c : connections)
      if (c->role == role) return c.get();
    return nullptr;
  }
};

MockExoCom::MockExoCom() : impl_(std::make_unique<Impl>()) {}
MockExoCom::~MockExoCom() = default;

std::uint16_t MockExoCom::port() const { return impl_->port; }

bool MockExoCom::wait_for_registration(const std::string& role, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->find(role) != nullptr; });
}

Message MockExoCom::send(const std::string& role, const std::string& name, json::value payload, SendOptions options) {
  Impl::Connection* c;
  {
    std::lock_guard lock(impl_->mutex);
    c = impl_->find(role);
    if (!c) throw Error(Status::not_connected, "MockExoCom: no service registered as '" + role + "'");
  }
  return impl_->write(*c, name, std::move(payload), options.activity_id, options);
}

void MockExoCom::send_text(const std::string& role, const std::string& text) {
  Impl::Connection* c;
  {
    std::lock_guard lock(impl_->mutex);
    c = impl_->find(role);
    if (!c) throw Error(Status::not_connected, "MockExoCom: no service registered as '" + role + "'");
  }
  std::lock_guard lock(c->write_mutex);
  send_all(c->fd, server_frame(text));
}

std::vector<Message> MockExoCom::received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::optional<Message> MockExoCom::wait_for(const std::string& name, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  std::optional<Message> found;
  impl_->changed.wait_for(lock, timeout, [&] {
    for (size_t i = 0; i < impl_->received.size(); ++i)
      if (impl_->received[i].name == name) {
        found = impl_->received[i];
        return true;
      }
    return false;
  });
  return found;
}

std::optional<Message> MockExoCom::request(const std::string& role, const std::string& name, json::value payload,
                                           std::chrono::milliseconds timeout) {
  size_t mark;
  {
    std::lock_guard lock(impl_->mutex);
    mark = impl_->received.size();
  }
  Message sent = send(role, name, std::move(payload));
  std::unique_lock lock(impl_->mutex);
  std::optional<Message> found;
  impl_->changed.wait_for(lock, timeout, [&] {
    for (size_t i = mark; i < impl_->received.size(); ++i)
      if (impl_->received[i].activity_id == sent.activity_id) {
        found = impl_->received[i];
        return true;
      }
    return false;
  });
  return found;
}

void MockExoCom::reply_to(const std::string& request_name, const std::string& reply_name, json::value payload) {
  std::lock_guard lock(impl_->mutex);
  impl_->replies[request_name] = {reply_name, std::move(payload)};
}

void MockExoCom::reset() {
  std::lock_guard lock(impl_->mutex);
  impl_->received.clear();
  impl_->replies.clear();
}

void MockExoCom::drop_connections() {
  std::lock_guard lock(impl_->mutex);
  for (auto& c : impl_->connections) ::shutdown(c->fd, SHUT_RDWR);
}

}  // namespace exosphere::testing
