#include "support/ws_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.hpp"
#include "common/net.hpp"

namespace exo::test {

namespace json = boost::json;

namespace {
void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}
}  // namespace

WsClient WsClient::connect(uint16_t port, std::string_view path, std::string_view extra_headers) {
  int fd = connect_loopback(port);
  if (fd < 0) throw std::runtime_error("cannot connect to port " + std::to_string(port));
  WsClient c(fd);
  std::string key = ws::base64(random_hex(8));
  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" +
                    std::string(extra_headers) + "\r\n";
  write_all(fd, req);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (c.in_.find("\r\n\r\n") == std::string::npos)
    if (!c.read_more(deadline)) throw std::runtime_error("no handshake response");
  size_t end = c.in_.find("\r\n\r\n");
  std::string head = c.in_.substr(0, end);
  c.in_.erase(0, end + 4);
  if (head.rfind("HTTP/1.1 101", 0) != 0) throw std::runtime_error("handshake refused: " + head);
  if (head.find("Sec-WebSocket-Accept: " + ws::accept_key(key)) == std::string::npos)
    throw std::runtime_error("wrong Sec-WebSocket-Accept: " + head);
  return c;
}

WsClient::WsClient(WsClient&& o) noexcept { *this = std::move(o); }
WsClient& WsClient::operator=(WsClient&& o) noexcept {
  std::swap(fd_, o.fd_);
  in_ = std::move(o.in_);
  fragments_ = std::move(o.fragments_);
  closed_ = o.closed_;
  pending = std::move(o.pending);
  return *this;
}
WsClient::~WsClient() {
  if (fd_ >= 0) ::close(fd_);
}

void WsClient::send_raw(std::string_view bytes) { write_all(fd_, bytes); }

void WsClient::send_frame(ws::Opcode opcode, std::string_view payload, bool fin) {
  uint8_t mask[4];
  random_bytes(mask, sizeof mask);
  std::string frame;
  ws::append_frame(frame, opcode, payload, mask);
  if (!fin) frame[0] = static_cast<char>(frame[0] & 0x7f);
  write_all(fd_, frame);
}

void WsClient::send_text(std::string_view message) { send_frame(ws::Opcode::text, message); }
void WsClient::send_json(const json::value& message) { send_text(json::serialize(message)); }

void WsClient::register_as(std::string_view role, std::string_view payload_json) {
  send_text("{\"name\":\"exocom.register-service\",\"sender\":\"" + std::string(role) + "\",\"id\":\"" + new_uuid() +
            "\",\"payload\":" + std::string(payload_json) + "}");
}

void WsClient::send_message(std::string_view name, std::string_view sender, std::string_view payload_json,
                            std::string_view activity_id) {
  std::string aid = activity_id.empty() ? new_uuid() : std::string(activity_id);
  send_text("{\"name\":\"" + std::string(name) + "\",\"sender\":\"" + std::string(sender) + "\",\"id\":\"" + new_uuid() +
            "\",\"activityId\":\"" + aid + "\",\"payload\":" + std::string(payload_json) + "}");
}

bool WsClient::read_more(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    if (!closed_) closed_ = Close{ws::close_code::abnormal, "connection dropped", false};
    return false;
  }
  in_.append(buf, static_cast<size_t>(n));
  return true;
}

// The next text message, or nullopt when the deadline passes or the connection ends.
std::optional<std::string> WsClient::next_event(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    if (in_.size() >= 2) {
      auto* p = reinterpret_cast<const uint8_t*>(in_.data());
      uint64_t len = p[1] & 0x7f;
      size_t header = 2;
      if (len == 126 && in_.size() >= 4) { len = (uint64_t(p[2]) << 8) | p[3]; header = 4; }
      else if (len == 127 && in_.size() >= 10) { len = 0; for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i]; header = 10; }
      else if (len >= 126) { header = 0; }
      if (header && in_.size() >= header + len) {
        auto op = static_cast<ws::Opcode>(p[0] & 0x0f);
        bool fin = p[0] & 0x80;
        std::string payload = in_.substr(header, static_cast<size_t>(len));
        in_.erase(0, header + static_cast<size_t>(len));
        if (op == ws::Opcode::ping) { send_frame(ws::Opcode::pong, payload); continue; }
        if (op == ws::Opcode::pong) continue;
        if (op == ws::Opcode::close) {
          Close c;
          c.clean = true;
          if (payload.size() >= 2) {
            c.code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
            c.reason = payload.substr(2);
          } else {
            c.code = ws::close_code::no_status;
          }
          closed_ = c;
          return std::nullopt;
        }
        fragments_ += payload;
        if (!fin) continue;
        std::string msg = std::move(fragments_);
        fragments_.clear();
        return msg;
      }
    }
    if (closed_ || !read_more(deadline)) return std::nullopt;
  }
}

std::optional<std::string> WsClient::receive(std::chrono::milliseconds timeout) {
  if (!pending.empty()) {
    std::string m = std::move(pending.front());
    pending.erase(pending.begin());
    return m;
  }
  return next_event(std::chrono::steady_clock::now() + timeout);
}

std::optional<json::object> WsClient::receive_json(std::chrono::milliseconds timeout) {
  auto m = receive(timeout);
  if (!m) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*m, ec);
  if (ec || !v.is_object()) throw std::runtime_error("not a JSON object: " + *m);
  return v.get_object();
}

std::optional<json::object> WsClient::receive_named(std::string_view name, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto m = receive_json(left);
    if (!m) return std::nullopt;
    if (m->contains("name") && m->at("name").is_string() && m->at("name").get_string() == name) return m;
  }
}

std::optional<WsClient::Close> WsClient::wait_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    auto m = next_event(deadline);
    if (m) pending.push_back(*m);
    else if (std::chrono::steady_clock::now() >= deadline) break;
  }
  return closed_;
}

std::optional<WsClient::Close> WsClient::close(uint16_t code, std::chrono::milliseconds timeout) {
  send_frame(ws::Opcode::close, ws::close_payload(code, "bye"));
  return wait_close(timeout);
}

void WsClient::abort() {
  linger l{1, 0};  // RST instead of FIN: as abrupt as a crash
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd_);
  fd_ = -1;
  closed_ = Close{ws::close_code::abnormal, "aborted", false};
}

std::string send_marker(WsClient& sender, std::string_view role, std::string_view name) {
  std::string marker = new_uuid();
  sender.send_message(name, role, "{\"marker\":\"" + marker + "\"}");
  return marker;
}

::testing::AssertionResult next_is_marker(WsClient& receiver, const std::string& marker) {
  auto m = receiver.receive_json();
  if (!m) return ::testing::AssertionFailure() << "nothing arrived, not even the marker";
  if (auto* a = m->if_contains("activityId"); a && a->is_string() && a->get_string() == marker)
    return ::testing::AssertionSuccess();
  if (auto* p = m->if_contains("payload"); p && p->is_object())
    if (auto* k = p->get_object().if_contains("marker"); k && k->is_string() && k->get_string() == marker)
      return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "received before the marker: " << json::serialize(*m);
}

}  // namespace exo::test
