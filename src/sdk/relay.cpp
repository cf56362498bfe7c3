// The relay: one WebSocket connection to ExoCom. A background thread connects, reconnects, reads,
// and runs the handlers, one message at a time, in order. Sends go straight from the calling thread
// when the socket takes them. A thread waiting for a reply stays awake briefly before it sleeps.
//
// Why not an Asio I/O thread plus a handler thread: every request then costs two extra thread
// wake-ups; measured, that added 60% to a request/reply through ExoCom (docs/sdk.md).
#include "exosphere/relay.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/ids.hpp"
#include "common/websocket.hpp"
#include "sdk/wire.hpp"

namespace exosphere {

using Clock = std::chrono::steady_clock;
// How long a thread waiting for a reply stays awake (yielding its core) before it sleeps: about one
// round trip through ExoCom on loopback; sleeping and being woken costs more than that.
constexpr auto kAwakeWait = std::chrono::microseconds(300);

const char* to_string(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid argument";
    case Status::config_error: return "configuration error";
    case Status::not_connected: return "not connected";
    case Status::timeout: return "timeout";
    case Status::refused: return "refused";
    case Status::closed: return "closed";
    case Status::protocol_error: return "protocol error";
    case Status::store_error: return "store error";
  }
  return "unknown";
}

struct Relay::Subscription::State {
  std::weak_ptr<Relay::Impl> relay;
  std::string activity_id;
};

struct Relay::Impl : std::enable_shared_from_this<Relay::Impl>, exo::ws::Events {
  RelayConfig config;
  std::thread background;
  int wake_fd = -1;  // wakes the background thread out of poll()

  // Everything below up to the write side is guarded by `mutex`.
  mutable std::mutex mutex;
  std::condition_variable changed;
  bool started = false, closing = false, connected = false, is_online = false;
  int fd = -1;
  std::thread::id reader;  // the background thread, which alone reads (and runs handlers)
  std::map<std::string, Handler> handlers;
  Handler unknown_handler;
  std::vector<std::function<void()>> online_callbacks, offline_callbacks;
  struct Pending {
    std::shared_ptr<std::promise<Message>> promise;
    std::function<void(Result)> callback;
    Clock::time_point deadline{};
    std::string name;
    std::chrono::milliseconds timeout{0};
  };
  std::unordered_map<std::string, Pending> pending;
  std::unordered_map<std::string, Handler> streams;

  // Reading: only the thread holding the reader role touches these.
  std::string in;
  exo::ws::Decoder decoder{false, 64u << 20};
  std::deque<Message> inbox;  // decoded, waiting to be dispatched

  // Writing.
  std::mutex write_mutex;
  std::deque<std::string> outbox;
  size_t outbox_bytes = 0;
  size_t front_offset = 0;
  bool socket_open = false;  // the WebSocket is up; frames may be written

  explicit Impl(RelayConfig c) : config(std::move(c)) {
    if (!config.log) config.log = [](const std::string& line) { std::cerr << "exosphere: " << line << std::endl; };
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Impl() override {
    if (wake_fd >= 0) ::close(wake_fd);
    if (fd >= 0) ::close(fd);
  }

  void log(const std::string& line) { config.log(line); }
  std::string address() const { return config.host + ":" + std::to_string(config.port); }
  void wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  // --- the background thread -----------------------------------------------------------------

  void run() {
    auto delay = config.retry_min;
    bool announced = false;
    while (true) {
      {
        std::lock_guard lock(mutex);
        if (closing) return;
      }
      std::string why;
      if (!connect(why)) {
        // The first failure and every one at the slowest pace are shown: a missing bus is visible
        // without flooding the log.
        if (!announced || delay >= config.retry_max)
          log("cannot reach ExoCom at " + address() + " (" + why + "); retrying in " + std::to_string(delay.count()) + "ms");
        announced = true;
        if (!sleep_unless_closed(delay)) return;
        delay = std::min(delay * 2, config.retry_max);
        continue;
      }
      if (announced) log("connected to ExoCom at " + address());
      announced = false;
      delay = config.retry_min;
      serve();
    }
  }

  // Sleeps between connection attempts; requests still time out meanwhile.
  bool sleep_unless_closed(std::chrono::milliseconds d) {
    auto until = Clock::now() + d;
    while (Clock::now() < until) {
      {
        std::unique_lock lock(mutex);
        if (changed.wait_for(lock, std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(100)),
                             [&] { return closing; }))
          return false;
      }
      expire_requests();
    }
    return true;
  }

  // Reads and dispatches until the connection is gone or the relay closes.
  void serve() {
    {
      std::lock_guard lock(mutex);
      reader = std::this_thread::get_id();
    }
    pump(nullptr, Clock::time_point::max());
  }

  bool connect(std::string& why) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(config.host.c_str(), std::to_string(config.port).c_str(), &hints, &res); rc != 0) {
      why = "cannot resolve host '" + config.host + "': " + gai_strerror(rc);
      return false;
    }
    int s = -1;
    for (addrinfo* a = res; a && s < 0; a = a->ai_next) {
      s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (s < 0) continue;
      if (::connect(s, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        why = std::strerror(errno);
        ::close(s);
        s = -1;
        continue;
      }
      pollfd p{s, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, 5000) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        why = err ? std::strerror(err) : "timed out";
        ::close(s);
        s = -1;
      }
    }
    ::freeaddrinfo(res);
    if (s < 0) return false;
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!handshake(s, why)) {
      ::close(s);
      return false;
    }
    {
      std::lock_guard lock(mutex);
      if (fd >= 0) ::close(fd);
      fd = s;
      connected = true;
    }
    changed.notify_all();  // a thread waiting for a reply may read again
    {
      std::lock_guard lock(write_mutex);
      socket_open = true;
      // The registration goes first; a frame cut off by the last disconnect is sent again whole.
      front_offset = 0;
      outbox.push_front(sdk::mask_frame(sdk::register_message(config.role, config.feedback)));
      outbox_bytes += outbox.front().size();
      flush_locked();
    }
    if (!config.feedback) go_online();
    return true;
  }

  bool handshake(int s, std::string& why) {
    std::string key = exo::ws::base64(exo::random_hex(8));
    std::string request = "GET /services HTTP/1.1\r\nHost: " + address() +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                          "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(s, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      why = "could not send the WebSocket handshake";
      return false;
    }
    in.clear();
    decoder = exo::ws::Decoder(false, 64u << 20);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (in.find("\r\n\r\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{s, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
        why = "no answer to the WebSocket handshake";
        return false;
      }
      char buf[4096];
      ssize_t n = ::recv(s, buf, sizeof buf, 0);
      if (n <= 0) {
        why = "the connection closed during the handshake";
        return false;
      }
      in.append(buf, static_cast<size_t>(n));
      if (in.size() > 16384) {
        why = "the handshake answer is too long";
        return false;
      }
    }
    size_t end = in.find("\r\n\r\n");
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    if (head.rfind("HTTP/1.1 101", 0) != 0) {
      why = "ExoCom refused the WebSocket upgrade: " + head.substr(0, head.find('\r'));
      return false;
    }
    if (head.find(exo::ws::accept_key(key)) == std::string::npos) {
      why = "ExoCom answered the handshake with a wrong key";
      return false;
    }
    return true;
  }

  void connection_lost(const std::string& why) {
    {
      std::lock_guard lock(write_mutex);
      socket_open = false;
    }
    bool was_online;
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mutex);
      if (!connected) return;
      connected = false;
      was_online = is_online;
      is_online = false;
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
      if (!closing && was_online) callbacks = offline_callbacks;
    }
    changed.notify_all();
    if (!closing && was_online) {
      log("lost the connection to ExoCom at " + address() + " (" + why + "); reconnecting");
      for (auto& cb : callbacks) cb();
    }
  }

  void go_online() {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lock(mutex);
      if (is_online || !connected) return;
      is_online = true;
      callbacks = online_callbacks;
    }
    changed.notify_all();
    for (auto& cb : callbacks) cb();
  }

  // --- reading -------------------------------------------------------------------------------

  // The reader's loop: dispatches what is decoded and reads more, until `done` (a reply arrived),
  // the deadline passes, or the connection is gone. A handler that waits for a reply runs it nested.
  void pump(const std::function<bool()>& done, Clock::time_point deadline) {
    while (true) {
      if (done && done()) return;
      if (!inbox.empty()) {
        Message m = std::move(inbox.front());
        inbox.pop_front();
        dispatch(std::move(m));
        continue;
      }
      int sock;
      {
        std::lock_guard lock(mutex);
        if (closing || !connected) return;
        sock = fd;
      }
      auto now = Clock::now();
      if (now >= deadline) return;
      auto wait = next_timeout(now, deadline);
      bool want_write;
      {
        std::lock_guard lock(write_mutex);
        want_write = !outbox.empty();
      }
      pollfd p[2] = {{sock, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0}, {wake_fd, POLLIN, 0}};
      int n = ::poll(p, 2, wait);
      if (n < 0 && errno != EINTR) return connection_lost(std::strerror(errno));
      expire_requests();
      if (n <= 0) continue;
      if (p[1].revents & POLLIN) {
        uint64_t v;
        (void)!::read(wake_fd, &v, sizeof v);
      }
      if (p[0].revents & POLLOUT) {
        std::lock_guard lock(write_mutex);
        flush_locked();
      }
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!read_available(sock)) return;
      }
    }
  }

  bool read_available(int sock) {
    char buf[65536];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (n <= 0) {
      connection_lost(n == 0 ? "ExoCom closed the connection" : std::strerror(errno));
      return false;
    }
    in.append(buf, static_cast<size_t>(n));
    size_t used = decoder.feed(in.data(), in.size(), *this);
    in.erase(0, used);
    if (decoder.stopped()) {
      connection_lost("ExoCom closed the WebSocket");
      return false;
    }
    return true;
  }

  // Milliseconds poll() may sleep: until the deadline or the earliest request deadline.
  int next_timeout(Clock::time_point now, Clock::time_point deadline) {
    Clock::time_point next = deadline;
    {
      std::lock_guard lock(mutex);
      for (const auto& [id, p] : pending) next = std::min(next, p.deadline);
    }
    if (next == Clock::time_point::max()) return 1000;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
  }

  void expire_requests() {
    auto now = Clock::now();
    std::vector<Pending> expired;
    {
      std::lock_guard lock(mutex);
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.deadline <= now) {
          expired.push_back(std::move(it->second));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : expired)
      complete(p, Result{Status::timeout, {}, "no reply to '" + p.name + "' within " + std::to_string(p.timeout.count()) + "ms"});
    if (!expired.empty()) changed.notify_all();
  }

  // ws::Events: frames become messages in the inbox.
  void on_text(std::string_view text) override {
    Message m;
    std::string error;
    if (!sdk::parse_message(text, m, error)) {
      log("ignored a message from ExoCom that is not valid: " + error);
      return;
    }
    inbox.push_back(std::move(m));
  }
  void on_binary(std::string_view) override { log("ignored a binary frame from ExoCom"); }
  void on_close(uint16_t, std::string_view) override {}
  void on_ping(std::string_view payload) override { write_frame(sdk::mask_frame(payload, exo::ws::Opcode::pong), true); }
  void on_pong(std::string_view) override {}
  void on_protocol_error(uint16_t, std::string_view reason) override { log("ExoCom broke the protocol: " + std::string(reason)); }

  void dispatch(Message m) {
    if (m.name == "exocom.registered") return go_online();
    if (m.name == "__status") {
      SendOptions o;
      o.activity_id = m.activity_id;
      write_frame(sdk::mask_frame(sdk::message_json("__status-ok", config.role, exo::new_uuid(), o.activity_id, nullptr, o)), true);
      return;
    }
    if (m.name == "exocom.error") return refused(m);
    std::unique_lock lock(mutex);
    if (!m.activity_id.empty()) {
      if (auto it = pending.find(m.activity_id); it != pending.end()) {
        Pending p = std::move(it->second);
        pending.erase(it);
        lock.unlock();
        complete(p, Result{Status::ok, std::move(m), {}});
        changed.notify_all();
        return;
      }
      if (auto it = streams.find(m.activity_id); it != streams.end()) {
        Handler h = it->second;
        lock.unlock();
        return run_handler(h, m);
      }
    }
    auto it = handlers.find(m.name);
    Handler h = it != handlers.end() ? it->second : unknown_handler;
    lock.unlock();
    if (!h) return log("received '" + m.name + "' from '" + m.sender + "', which this service does not handle; ignored");
    run_handler(h, m);
  }

  void run_handler(const Handler& h, const Message& m) {
    try {
      h(m);
    } catch (const std::exception& e) {
      log("the handler for '" + m.name + "' failed: " + e.what());
    } catch (...) {
      log("the handler for '" + m.name + "' failed");
    }
  }

  void refused(const Message& m) {
    std::string code, text;
    if (const auto* o = m.payload.if_object()) {
      if (auto* c = o->if_contains("code"); c && c->is_string()) code = c->get_string();
      if (auto* t = o->if_contains("message"); t && t->is_string()) text = t->get_string();
    }
    std::unique_lock lock(mutex);
    auto it = m.activity_id.empty() ? pending.end() : pending.find(m.activity_id);
    if (it == pending.end()) {
      lock.unlock();
      return log("ExoCom refused a message: " + (text.empty() ? code : text));
    }
    Pending p = std::move(it->second);
    pending.erase(it);
    lock.unlock();
    complete(p, Result{Status::refused, {}, "ExoCom refused the request (" + code + "): " + text});
    changed.notify_all();
  }

  void complete(Pending& p, Result r) {
    if (p.callback) {
      try {
        p.callback(std::move(r));
      } catch (const std::exception& e) {
        log("a request callback failed: " + std::string(e.what()));
      }
    } else if (r.ok()) {
      p.promise->set_value(std::move(r.reply));
    } else {
      p.promise->set_exception(std::make_exception_ptr(Error(r.status, r.error)));
    }
  }

  // Waits for the reply of `activity`, which completes `reply`.
  void wait_for_reply(const std::string& activity, std::future<Message>& reply) {
    Clock::time_point deadline;
    bool on_reader;
    {
      std::lock_guard lock(mutex);
      auto it = pending.find(activity);
      if (it == pending.end()) return;  // answered already
      deadline = it->second.deadline;
      on_reader = reader == std::this_thread::get_id();
    }
    if (on_reader) {
      // A handler waits: the reading thread keeps reading (and dispatching) until the reply.
      pump([&] {
        std::lock_guard lock(mutex);
        return !pending.count(activity);
      }, deadline);
      std::unique_lock lock(mutex);
      auto it = pending.find(activity);
      if (it == pending.end()) return;
      Pending p = std::move(it->second);
      pending.erase(it);
      lock.unlock();
      // Nothing else will read while this handler waits, so it ends here either way.
      if (Clock::now() >= deadline)
        complete(p, Result{Status::timeout, {}, "no reply to '" + p.name + "' within " + std::to_string(p.timeout.count()) + "ms"});
      else
        complete(p, Result{Status::not_connected, {}, "lost the connection to ExoCom while waiting for a reply to '" + p.name + "'"});
      return;
    }
    auto awake_until = Clock::now() + kAwakeWait;
    while (reply.wait_for(std::chrono::seconds(0)) != std::future_status::ready && Clock::now() < awake_until)
      std::this_thread::yield();
    if (reply.wait_until(deadline) == std::future_status::ready) return;
    std::unique_lock lock(mutex);
    auto it = pending.find(activity);
    if (it == pending.end()) return;  // answered just now
    Pending p = std::move(it->second);
    pending.erase(it);
    lock.unlock();
    complete(p, Result{Status::timeout, {}, "no reply to '" + p.name + "' within " + std::to_string(p.timeout.count()) + "ms"});
  }

  // --- writing -------------------------------------------------------------------------------

  void write_frame(std::string frame, bool control = false) {
    std::lock_guard lock(write_mutex);
    if (!control && !socket_open && outbox_bytes + frame.size() > config.max_queued_bytes)
      throw Error(Status::not_connected, "ExoCom at " + address() + " is unreachable and " +
                                             std::to_string(outbox_bytes) + " bytes already wait to be sent");
    outbox_bytes += frame.size();
    outbox.push_back(std::move(frame));
    if (socket_open) flush_locked();
    if (!outbox.empty()) wake();  // the reader then waits for the socket to take the rest
  }

  void flush_locked() {
    int sock;
    {
      std::lock_guard lock(mutex);
      sock = fd;
    }
    while (!outbox.empty() && socket_open) {
      iovec iov[64];
      int count = 0;
      size_t offset = front_offset;
      for (auto& f : outbox) {
        if (count == 64) break;
        iov[count++] = {f.data() + offset, f.size() - offset};
        offset = 0;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // full (the reader polls for room) or broken (the reader notices and reconnects)
      }
      auto left = static_cast<size_t>(n);
      while (left > 0) {
        size_t rest = outbox.front().size() - front_offset;
        if (left < rest) {
          front_offset += left;
          break;
        }
        left -= rest;
        outbox_bytes -= outbox.front().size();
        outbox.pop_front();
        front_offset = 0;
      }
    }
  }

  // --- requests ------------------------------------------------------------------------------

  Message prepare(const std::string& name, json::value payload, SendOptions& options) {
    if (name.empty()) throw Error(Status::invalid_argument, "cannot send a message without a name");
    if (options.activity_id.empty()) options.activity_id = exo::new_uuid();
    Message m;
    m.name = name;
    m.id = exo::new_uuid();
    m.activity_id = options.activity_id;
    m.sender = config.role;
    m.payload = std::move(payload);
    m.auth = options.auth;
    m.is_security = options.is_security;
    return m;
  }

  void check_open() {
    std::lock_guard lock(mutex);
    if (closing) throw Error(Status::closed, "the relay is closed");
  }

  Message send(const std::string& name, json::value payload, SendOptions options) {
    check_open();
    Message m = prepare(name, std::move(payload), options);
    write_frame(sdk::mask_frame(sdk::message_json(m.name, m.sender, m.id, m.activity_id, m.payload, options)));
    return m;
  }

  std::string start_request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                            SendOptions options, Pending p) {
    check_open();
    Message m = prepare(name, std::move(payload), options);
    p.deadline = Clock::now() + timeout;
    p.name = name;
    p.timeout = timeout;
    {
      // Registered before sending, so even an instant reply finds its request.
      std::lock_guard lock(mutex);
      pending[m.activity_id] = std::move(p);
    }
    try {
      write_frame(sdk::mask_frame(sdk::message_json(m.name, m.sender, m.id, m.activity_id, m.payload, options)));
    } catch (...) {
      std::lock_guard lock(mutex);
      pending.erase(m.activity_id);
      throw;
    }
    return m.activity_id;
  }

  // --- closing -------------------------------------------------------------------------------

  void close() {
    std::unordered_map<std::string, Pending> left;
    {
      std::lock_guard lock(mutex);
      if (closing) return;
      closing = true;
      is_online = false;
      left.swap(pending);
    }
    {
      std::lock_guard lock(write_mutex);
      if (socket_open) {
        // A clean close: the bus hands whatever it still holds for us to another instance.
        outbox.push_back(sdk::mask_frame(exo::ws::close_payload(exo::ws::close_code::going_away, "service stopping"),
                                         exo::ws::Opcode::close));
        flush_locked();
      }
      socket_open = false;
    }
    {
      std::lock_guard lock(mutex);
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    wake();
    changed.notify_all();
    if (background.joinable()) {
      if (background.get_id() == std::this_thread::get_id()) background.detach();
      else background.join();
    }
    // Whoever still waits learns that nothing more will come.
    for (auto& [id, p] : left) complete(p, Result{Status::closed, {}, "the relay was closed"});
    changed.notify_all();
  }
};

RelayConfig RelayConfig::from_environment() {
  RelayConfig c;
  const char* role = std::getenv("ROLE");
  if (!role || !*role)
    throw Error(Status::config_error, "ROLE is not set; set it to this service's role (exo run does this for you)");
  c.role = role;
  if (const char* host = std::getenv("EXOCOM_HOST"); host && *host) c.host = host;
  if (const char* port = std::getenv("EXOCOM_PORT"); port && *port) {
    char* end = nullptr;
    long v = std::strtol(port, &end, 10);
    if (*end || v < 1 || v > 65535)
      throw Error(Status::config_error, std::string("EXOCOM_PORT '") + port + "' is not a port number (1-65535)");
    c.port = static_cast<std::uint16_t>(v);
  }
  return c;
}

Relay::Relay(RelayConfig config) {
  if (config.role.empty()) throw Error(Status::config_error, "a relay needs a role");
  if (config.port == 0) throw Error(Status::config_error, "a relay needs ExoCom's port");
  impl_ = std::make_shared<Impl>(std::move(config));
}

Relay::~Relay() { close(); }

void Relay::on(const std::string& name, Handler handler) {
  if (name.empty()) throw Error(Status::invalid_argument, "a handler needs a message name");
  if (!handler) throw Error(Status::invalid_argument, "the handler for '" + name + "' is empty");
  std::lock_guard lock(impl_->mutex);
  if (!impl_->handlers.emplace(name, std::move(handler)).second)
    throw Error(Status::invalid_argument, "there is already a handler for '" + name + "'");
}

void Relay::on_unknown(Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->unknown_handler = std::move(handler);
}

void Relay::on_online(std::function<void()> callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->online_callbacks.push_back(std::move(callback));
}

void Relay::on_offline(std::function<void()> callback) {
  std::lock_guard lock(impl_->mutex);
  impl_->offline_callbacks.push_back(std::move(callback));
}

void Relay::start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started || impl_->closing) return;
    impl_->started = true;
  }
  impl_->background = std::thread([self = impl_] { self->run(); });
}

bool Relay::wait_online(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->is_online || impl_->closing; });
  return impl_->is_online;
}

bool Relay::online() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->is_online;
}

Message Relay::send(const std::string& name, json::value payload, SendOptions options) {
  return impl_->send(name, std::move(payload), std::move(options));
}

std::future<Message> Relay::request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                                    SendOptions options) {
  Impl::Pending p;
  p.promise = std::make_shared<std::promise<Message>>();
  auto reply = p.promise->get_future();
  std::string activity = impl_->start_request(name, std::move(payload), timeout, std::move(options), std::move(p));
  // Deferred: get() runs in the waiting thread, which handles its own timeout.
  return std::async(std::launch::deferred, [impl = impl_, activity, reply = std::move(reply)]() mutable {
    impl->wait_for_reply(activity, reply);
    return reply.get();
  });
}

void Relay::request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                    std::function<void(Result)> callback, SendOptions options) {
  if (!callback) throw Error(Status::invalid_argument, "a request needs a callback");
  Impl::Pending p;
  p.callback = std::move(callback);
  impl_->start_request(name, std::move(payload), timeout, std::move(options), std::move(p));
  impl_->wake();  // the reader's poll timeout now includes this deadline
}

Relay::Subscription Relay::listen(const std::string& activity_id, Handler handler) {
  if (activity_id.empty()) throw Error(Status::invalid_argument, "listen() needs an activity id");
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->streams.emplace(activity_id, std::move(handler)).second)
      throw Error(Status::invalid_argument, "activity '" + activity_id + "' is already being listened to");
  }
  Subscription s;
  s.state_ = std::make_shared<Subscription::State>(Subscription::State{impl_, activity_id});
  return s;
}

Relay::Subscription::Subscription(Subscription&&) noexcept = default;
Relay::Subscription& Relay::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    cancel();
    state_ = std::move(o.state_);
  }
  return *this;
}
Relay::Subscription::~Subscription() { cancel(); }

void Relay::Subscription::cancel() {
  if (!state_) return;
  if (auto relay = state_->relay.lock()) {
    std::lock_guard lock(relay->mutex);
    relay->streams.erase(state_->activity_id);
  }
  state_.reset();
}

void Relay::close() { impl_->close(); }

const RelayConfig& Relay::config() const { return impl_->config; }

}  // namespace exosphere
