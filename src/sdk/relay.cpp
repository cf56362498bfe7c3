// The relay: one WebSocket connection to ExoCom (to one node of an ExoCom cluster at a time).
//
// Two threads. The I/O thread connects, reconnects (moving to the next node when its node is
// gone), reads, decodes, and completes the replies that waiting requests expect; it never runs
// user code. The handler thread runs handlers, request callbacks and connection callbacks, one at
// a time, in arrival order. Sends leave from the calling thread when the socket takes them; the I/O
// thread writes whatever is left once the socket has room again.
#include "exosphere/relay.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/envelope.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/signals.hpp"
#include "common/websocket.hpp"
#include "sdk/outbox.hpp"
#include "sdk/wire.hpp"

namespace exosphere {

using Clock = std::chrono::steady_clock;
using SharedMessage = std::shared_ptr<const Message>;
using SharedHandler = std::function<void(const SharedMessage&)>;

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
    case Status::busy: return "busy";
  }
  return "unknown";
}

namespace {

struct Node {
  std::string host;
  std::uint16_t port;
};

// "host", "host:port", "[v6]:port", separated by commas; `what` names the setting in errors.
std::vector<Node> parse_nodes(const std::string& list, std::uint16_t default_port, const std::string& what) {
  std::vector<Node> nodes;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string entry = list.substr(pos, comma - pos);
    pos = comma + 1;
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (entry.empty()) {
      if (comma == list.size() && !nodes.empty()) break;
      throw Error(Status::config_error, what + " '" + list + "' has an empty entry; list ExoCom nodes as host:port,host:port");
    }
    Node n{entry, default_port};
    std::string port_text;
    if (entry.front() == '[') {
      size_t close = entry.find(']');
      if (close == std::string::npos)
        throw Error(Status::config_error, what + " entry '" + entry + "' opens '[' without closing it; write [::1]:4100");
      n.host = entry.substr(1, close - 1);
      if (close + 1 < entry.size()) {
        if (entry[close + 1] != ':') throw Error(Status::config_error, what + " entry '" + entry + "' is not [address]:port");
        port_text = entry.substr(close + 2);
      }
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      n.host = entry.substr(0, entry.find(':'));
      port_text = entry.substr(entry.find(':') + 1);
    }
    if (!port_text.empty() || (entry.back() == ':')) {
      char* end = nullptr;
      long v = std::strtol(port_text.c_str(), &end, 10);
      if (port_text.empty() || *end || v < 1 || v > 65535)
        throw Error(Status::config_error, what + " entry '" + entry + "' has no valid port (1-65535)");
      n.port = static_cast<std::uint16_t>(v);
    }
    if (n.host.empty()) throw Error(Status::config_error, what + " entry '" + entry + "' has no host");
    nodes.push_back(std::move(n));
    if (comma == list.size()) break;
  }
  return nodes;
}

std::string no_reply(const std::string& name, std::chrono::milliseconds timeout) {
  return "no reply to '" + name + "' within " + std::to_string(timeout.count()) + "ms";
}

}  // namespace

struct Reply::State {
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<bool> done{false};
  Result result;
  std::function<void(Result)> callback;  // the callback form of request()
  Clock::time_point deadline;
  std::string activity, name;
  std::chrono::milliseconds timeout{0};
  std::chrono::microseconds spin{0};
  std::weak_ptr<Relay::Impl> relay;
};

struct Relay::Subscription::State {
  std::weak_ptr<Relay::Impl> relay;
  std::string activity_id;
};

struct Relay::Impl : std::enable_shared_from_this<Relay::Impl>, exo::ws::Events {
  RelayConfig config;
  std::vector<Node> nodes;
  std::thread io_thread, handler_thread;
  int wake_fd = -1;  // wakes the I/O thread out of poll()

  // Connection state, handlers and requests: guarded by `mutex`.
  mutable std::mutex mutex;
  std::condition_variable changed;
  bool started = false, closing = false, connected = false, is_online = false;
  bool stop_begun = false;          // close() was called
  Clock::time_point close_by = Clock::time_point::max();  // when the I/O thread gives up finishing
  int fd = -1;
  std::string address;  // of the node connected to now (or last)
  size_t next_candidate = 0;  // where the next connection attempt starts in the list of addresses
  std::map<std::string, SharedHandler> handlers;
  Handler unknown_handler;
  std::vector<std::function<void()>> online_callbacks, offline_callbacks;
  std::unordered_map<std::string, std::shared_ptr<Reply::State>> pending;
  std::unordered_map<std::string, Handler> streams;
  Clock::time_point wakes_at = Clock::time_point::max();  // when the I/O thread's poll() ends at the latest

  // The handler thread's queue: guarded by `task_mutex`. A task that handles a frame of the
  // connection carries its number: ExoCom is told of a frame (exocom.received) only once its task
  // has started, so what is still queued when the service stops goes back to ExoCom.
  struct Task {
    std::function<void()> run;
    uint64_t frame = 0;    // 0: a callback, not a received message
    uint64_t id_hash = 0;  // the message id's, forgotten again when the task is dropped
  };
  std::mutex task_mutex;
  std::condition_variable task_cv;
  std::deque<Task> tasks;
  std::deque<uint64_t> queued_frames;  // the frames of `tasks`, oldest first
  bool tasks_closed = false;
  // From close() on no frame task starts: `hand_back_from` is the first frame left to ExoCom.
  bool stopping = false;
  uint64_t hand_back_from = UINT64_MAX;
  size_t handed_back = 0;
  int running = 0;  // tasks being run (more than one while a handler waits for a reply)
  std::atomic<std::thread::id> handler_id{};
  std::atomic<int> nested_waiters{0};  // handlers waiting for a reply on the handler thread

  // Reading: the I/O thread alone.
  std::string in;
  exo::ws::Decoder decoder{false, 64u << 20};

  // Writing, and the messages ExoCom has not accepted yet (docs/protocol.md, "Receipts").
  sdk::Outbox outbox;
  // And the other way: how many text frames this connection received, and how many of them ExoCom
  // was told about (exocom.received), so it can forget them. The I/O thread alone.
  static constexpr uint64_t kAcknowledgeEvery = 128;
  static constexpr std::chrono::milliseconds kAcknowledgeWithin{5};
  bool acknowledging = false;
  std::atomic<uint64_t> text_received{0};
  uint64_t text_acknowledged = 0;
  Clock::time_point acknowledge_by = Clock::time_point::max();

  // Who this client is across reconnections (to any node): activities stay with it.
  const std::string instance = exo::random_hex(16);
  uint64_t epoch = 0;  // its connections so far; the newest wins

  // Messages already handled, by a hash of their id: a copy sent again after a node failed is
  // dropped. The I/O thread alone.
  static constexpr size_t kRememberedIds = 16384;
  std::vector<uint64_t> seen_order = std::vector<uint64_t>(kRememberedIds);
  std::unordered_set<uint64_t> seen;
  size_t seen_next = 0;

  explicit Impl(RelayConfig c)
      : config(std::move(c)),
        nodes(parse_nodes(config.host, config.port, "the ExoCom address")),
        outbox(config.max_queued_bytes, config.send_timeout, where()) {
    if (!config.log) config.log = [](const std::string& line) { std::cerr << "exosphere: " << line << std::endl; };
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Impl() override {
    if (wake_fd >= 0) ::close(wake_fd);
    if (fd >= 0) ::close(fd);
  }

  void log(const std::string& line) { config.log(line); }
  std::string where() const {
    std::string out;
    for (const auto& n : nodes) out += (out.empty() ? "" : ",") + n.host + ":" + std::to_string(n.port);
    return out;
  }
  void wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  // --- the handler thread --------------------------------------------------------------------

  // Queues user code for the handler thread; false once the relay is closed.
  bool post(std::function<void()> task) {
    {
      std::lock_guard lock(task_mutex);
      if (tasks_closed) return false;
      tasks.push_back({std::move(task)});
    }
    task_cv.notify_all();
    return true;
  }

  // Queues the handler of received frame `frame`; once the relay stops, the frame is left to
  // ExoCom instead (it is never acknowledged).
  void post_frame(std::function<void()> task, uint64_t frame, uint64_t id_hash) {
    {
      std::lock_guard lock(task_mutex);
      if (stopping || tasks_closed) {
        hand_back_from = std::min(hand_back_from, frame);
        ++handed_back;
        return;
      }
      tasks.push_back({std::move(task), frame, id_hash});
      queued_frames.push_back(frame);
    }
    task_cv.notify_all();
  }

  // The oldest task, taken to be run (task_mutex held); it is running until finished() is called.
  Task take(std::unique_lock<std::mutex>&) {
    Task t = std::move(tasks.front());
    tasks.pop_front();
    ++running;
    if (t.frame) {
      queued_frames.pop_front();
      // The I/O thread tells ExoCom of started frames on its own timer (kAcknowledgeWithin); a
      // handler thread working through a backlog wakes it once a batch, so the window keeps moving.
      if (t.frame % kAcknowledgeEvery == 0 && !queued_frames.empty()) wake();
    }
    return t;
  }

  void finished() {
    {
      std::lock_guard lock(task_mutex);
      --running;
    }
    task_cv.notify_all();
  }

  void run_handlers() {
    handler_id = std::this_thread::get_id();
    while (true) {
      Task task;
      {
        std::unique_lock lock(task_mutex);
        task_cv.wait(lock, [&] { return !tasks.empty() || tasks_closed; });
        if (tasks.empty()) return;
        task = take(lock);
      }
      task.run();
      finished();
    }
  }

  // Drops the queued tasks of received frames (task_mutex held); returns how many.
  size_t drop_queued_frames(bool forget_ids) {
    size_t dropped = 0;
    for (auto it = tasks.begin(); it != tasks.end();) {
      if (!it->frame) {
        ++it;
        continue;
      }
      if (forget_ids && it->id_hash) seen.erase(it->id_hash);
      hand_back_from = std::min(hand_back_from, it->frame);
      ++dropped;
      it = tasks.erase(it);
    }
    queued_frames.clear();
    return dropped;
  }

  void run_handler(const std::function<void()>& call, const std::string& name) {
    try {
      call();
    } catch (const std::exception& e) {
      log("the handler for '" + name + "' failed: " + e.what());
    } catch (...) {
      log("the handler for '" + name + "' failed");
    }
  }

  // --- the I/O thread ------------------------------------------------------------------------

  void run_io() {
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
          log("cannot reach ExoCom at " + where() + " (" + why + "); retrying in " + std::to_string(delay.count()) + "ms");
        announced = true;
        if (!sleep_unless_closed(delay)) return;
        delay = std::min(delay * 2, config.retry_max);
        continue;
      }
      if (announced) log("connected to ExoCom at " + address);
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

  struct Candidate {
    sockaddr_storage addr;
    socklen_t len;
    std::string name;
  };

  // Every address of every node, in the configured order (a name with several addresses counts
  // as several nodes).
  std::vector<Candidate> candidates(std::string& why) {
    std::vector<Candidate> out;
    for (const auto& n : nodes) {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (int rc = ::getaddrinfo(n.host.c_str(), std::to_string(n.port).c_str(), &hints, &res); rc != 0) {
        why = "cannot resolve host '" + n.host + "': " + gai_strerror(rc);
        continue;
      }
      for (addrinfo* a = res; a; a = a->ai_next) {
        Candidate c{};
        std::memcpy(&c.addr, a->ai_addr, a->ai_addrlen);
        c.len = a->ai_addrlen;
        c.name = n.host + ":" + std::to_string(n.port);
        out.push_back(std::move(c));
      }
      ::freeaddrinfo(res);
    }
    return out;
  }

  static int connect_to(const Candidate& c, std::string& why) {
    int s = ::socket(c.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
      why = std::strerror(errno);
      return -1;
    }
    if (::connect(s, reinterpret_cast<const sockaddr*>(&c.addr), c.len) != 0 && errno != EINPROGRESS) {
      why = std::strerror(errno);
      ::close(s);
      return -1;
    }
    pollfd p{s, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    // A node that is gone without refusing (a dead machine) must not hold up failover for long.
    if (::poll(&p, 1, 2000) != 1 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      why = err ? std::strerror(err) : "timed out";
      ::close(s);
      return -1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
  }

  // One round over the addresses, starting after the node whose connection was lost last.
  bool connect(std::string& why) {
    auto all = candidates(why);
    if (all.empty()) return false;
    size_t start;
    {
      std::lock_guard lock(mutex);
      start = next_candidate;
    }
    for (size_t i = 0; i < all.size(); ++i) {
      size_t index = (start + i) % all.size();
      int s = connect_to(all[index], why);
      if (s < 0) continue;
      if (!handshake(s, all[index].name, why)) {
        ::close(s);
        continue;
      }
      {
        std::lock_guard lock(mutex);
        if (fd >= 0) ::close(fd);
        fd = s;
        connected = true;
        address = all[index].name;
        next_candidate = index + 1;  // when this node goes away, the next attempt starts elsewhere
      }
      changed.notify_all();
      {
        // The frames of the last connection that no handler started went back to the role with
        // it (ExoCom had no receipt for them); should they come here again, they are new.
        std::lock_guard tasks_lock(task_mutex);
        if (acknowledging) drop_queued_frames(true);
        queued_frames.clear();
        hand_back_from = stopping ? 1 : UINT64_MAX;
      }
      acknowledging = false;
      text_received = 0;
      text_acknowledged = 0;
      acknowledge_by = Clock::time_point::max();
      // The registration goes first, then what the last node did not accept, then the rest.
      auto write = [s](const iovec* iov, int count) {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = static_cast<size_t>(count);
        return ::sendmsg(s, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      };
      outbox.connected(write, sdk::mask_frame(sdk::register_message(config.role, config.feedback, instance, ++epoch)),
                       config.feedback);
      if (!config.feedback) go_online();
      return true;
    }
    return false;
  }

  bool handshake(int s, const std::string& host, std::string& why) {
    std::string key = exo::ws::base64(exo::random_hex(16).substr(0, 16));
    std::string request = "GET /services HTTP/1.1\r\nHost: " + host +
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
    outbox.disconnected();
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
    if (was_online) mark_online(false);
    if (!closing && was_online) {
      log("lost the connection to ExoCom at " + address + " (" + why + "); reconnecting");
      for (auto& cb : callbacks) post([this, cb] { run_handler(cb, "offline"); });
    }
  }

  // The online file follows the registration; trouble with it is said, never fatal.
  void mark_online(bool online) {
    if (config.online_file.empty()) return;
    if (online) {
      int f = ::open(config.online_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (f < 0) return log("cannot create the online file " + config.online_file + ": " + std::strerror(errno));
      ::close(f);
    } else if (::unlink(config.online_file.c_str()) != 0 && errno != ENOENT) {
      log("cannot remove the online file " + config.online_file + ": " + std::strerror(errno));
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
    mark_online(true);
    changed.notify_all();
    for (auto& cb : callbacks) post([this, cb] { run_handler(cb, "online"); });
  }

  // Reads and writes until the connection is gone, or, once the relay closes, until it is finished.
  void serve() {
    bool close_sent = false;
    while (true) {
      int sock;
      bool finishing;
      {
        std::lock_guard lock(mutex);
        if (!connected) return;
        sock = fd;
        finishing = closing;
      }
      if (finishing && !close_sent && (finished_sending() || Clock::now() >= close_by)) {
        send_close();
        close_sent = true;
      }
      bool want_write = outbox.waiting();
      if (close_sent && !want_write && Clock::now() >= close_by + kCloseHandshake) return connection_lost("closed");
      pollfd p[2] = {{sock, static_cast<short>(POLLIN | (want_write ? POLLOUT : 0)), 0}, {wake_fd, POLLIN, 0}};
      int n = ::poll(p, 2, finishing ? std::min(next_timeout(), 10) : next_timeout());
      if (n < 0 && errno != EINTR) return connection_lost(std::strerror(errno));
      expire_requests();
      if (n <= 0) {
        acknowledge();
        continue;
      }
      if (p[1].revents & POLLIN) {
        uint64_t v;
        (void)!::read(wake_fd, &v, sizeof v);
      }
      if (p[0].revents & POLLOUT) outbox.flush();
      if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !read_available(sock)) return;
      acknowledge();
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

  // Milliseconds poll() may sleep: until the earliest deadline of a callback request (a waiting
  // thread keeps its own deadline), at most a second.
  // Tells ExoCom what arrived: every kAcknowledgeEvery frames, or kAcknowledgeWithin after the
  // first one not told, so a busy stream costs a frame in a hundred and a quiet one a few ms.
  // Only frames whose handler has started are told: those still queued stay ExoCom's, so a service
  // that stops gives them back, and a handler slower than its input closes ExoCom's window.
  void acknowledge(bool now_or_never = false) {
    if (!acknowledging || text_received == text_acknowledged) return;
    auto now = Clock::now();
    if (!now_or_never && text_received - text_acknowledged < kAcknowledgeEvery && now < acknowledge_by) {
      if (acknowledge_by == Clock::time_point::max()) acknowledge_by = now + kAcknowledgeWithin;
      return;
    }
    uint64_t through = acknowledgeable();
    // What is not told yet is looked at again soon (the handler thread wakes this one, too).
    acknowledge_by = through == text_received ? Clock::time_point::max() : now + kAcknowledgeWithin;
    if (through <= text_acknowledged) return;
    text_acknowledged = through;
    write_frame(sdk::mask_frame(received_message(text_acknowledged)), Kind::control);
  }

  // The frames ExoCom may forget: every one before the first whose handler has not started.
  uint64_t acknowledgeable() {
    std::lock_guard lock(task_mutex);
    uint64_t through = queued_frames.empty() ? text_received.load() : queued_frames.front() - 1;
    return std::min(through, hand_back_from - 1);
  }

  std::string received_message(uint64_t count) const {
    return sdk::message_json("exocom.received", config.role, exo::new_uuid(), {}, json::object{{"count", count}}, {});
  }

  int next_timeout() {
    auto now = Clock::now();
    Clock::time_point next = std::min(now + std::chrono::seconds(1), acknowledge_by);
    {
      std::lock_guard lock(mutex);
      for (const auto& [id, p] : pending)
        if (p->callback) next = std::min(next, p->deadline);
      wakes_at = next;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
  }

  void expire_requests() {
    auto now = Clock::now();
    std::vector<std::shared_ptr<Reply::State>> expired;
    {
      std::lock_guard lock(mutex);
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second->deadline <= now) {
          expired.push_back(std::move(it->second));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : expired) complete(p, Result{Status::timeout, {}, no_reply(p->name, p->timeout)});
  }

  // ws::Events: each frame becomes a message, sorted here.
  void on_text(std::string_view text) override {
    uint64_t frame = ++text_received;
    auto m = std::make_shared<Message>();
    std::string error;
    if (!sdk::parse_message(text, *m, error)) {
      log("ignored a message from ExoCom that is not valid: " + error);
      return;
    }
    dispatch(std::move(m), frame);
  }
  void on_binary(std::string_view) override { log("ignored a binary frame from ExoCom"); }
  void on_close(uint16_t, std::string_view) override {}
  void on_ping(std::string_view payload) override {
    write_frame(sdk::mask_frame(payload, exo::ws::Opcode::pong), Kind::control);
  }
  void on_pong(std::string_view) override {}
  void on_protocol_error(uint16_t, std::string_view reason) override { log("ExoCom broke the protocol: " + std::string(reason)); }

  void dispatch(std::shared_ptr<Message> m, uint64_t frame) {
    if (m->name == "exocom.accepted") return accepted(*m);
    if (m->name == "exocom.registered") {
      registered(*m);
      return go_online();
    }
    uint64_t id_hash = m->id.empty() ? 0 : std::hash<std::string>{}(m->id);
    if (id_hash && !first_time(id_hash)) return;  // a copy of one already handled
    if (m->name == "__status") {
      SendOptions o;
      o.activity_id = m->activity_id;
      write_frame(sdk::mask_frame(sdk::message_json("__status-ok", config.role, exo::new_uuid(), o.activity_id, nullptr, o)),
                  Kind::answer);
      return;
    }
    if (m->name == "exocom.error") return refused(*m);
    std::unique_lock lock(mutex);
    if (!m->activity_id.empty()) {
      if (auto it = pending.find(m->activity_id); it != pending.end()) {
        auto state = std::move(it->second);
        pending.erase(it);
        lock.unlock();
        return complete(state, Result{Status::ok, std::move(*m), {}});
      }
      if (auto it = streams.find(m->activity_id); it != streams.end()) {
        Handler h = it->second;
        lock.unlock();
        post_frame([this, h, m] { run_handler([&] { h(*m); }, m->name); }, frame, id_hash);
        return;
      }
    }
    SharedHandler h;
    if (auto it = handlers.find(m->name); it != handlers.end()) h = it->second;
    else if (unknown_handler) h = [u = unknown_handler](const SharedMessage& msg) { u(*msg); };
    lock.unlock();
    if (!h) return log("received '" + m->name + "' from '" + m->sender + "', which this service does not handle; ignored");
    SharedMessage shared = std::move(m);
    post_frame([this, h, shared] { run_handler([&] { h(shared); }, shared->name); }, frame, id_hash);
  }

  // ExoCom gives receipts (or is an older one that does not: then nothing is kept).
  void registered(const Message& m) {
    const auto* o = m.payload.if_object();
    const auto* r = o ? o->if_contains("receipts") : nullptr;
    if (r && r->is_bool() && r->get_bool()) {
      acknowledging = true;
      return;
    }
    outbox.no_receipts();
  }

  void accepted(const Message& m) {
    const auto* o = m.payload.if_object();
    const auto* n = o ? o->if_contains("accepted") : nullptr;
    boost::system::error_code ec;
    uint64_t count = n ? n->to_number<uint64_t>(ec) : 0;
    if (!n || ec) return log("ignored a receipt from ExoCom without a count");
    outbox.accepted(count);
  }

  bool first_time(uint64_t h) {
    if (!seen.insert(h).second) return false;
    if (seen.size() > kRememberedIds) seen.erase(seen_order[seen_next]);
    seen_order[seen_next] = h;
    seen_next = (seen_next + 1) % kRememberedIds;
    return true;
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
    auto state = std::move(it->second);
    pending.erase(it);
    lock.unlock();
    complete(state, Result{Status::refused, {}, "ExoCom refused the request (" + code + "): " + text});
  }

  // The first outcome of a request wins; later ones (a reply after its timeout) are dropped.
  static void complete(const std::shared_ptr<Reply::State>& state, Result r) {
    {
      std::lock_guard lock(state->mutex);
      if (state->done) return;
      state->result = std::move(r);
      state->done = true;
    }
    state->cv.notify_all();
    auto impl = state->relay.lock();
    if (state->callback) {
      auto run = [state, impl] {
        try {
          state->callback(state->result);
        } catch (const std::exception& e) {
          if (impl) impl->log("a request callback failed: " + std::string(e.what()));
        }
      };
      if (!impl || !impl->post(run)) run();  // the relay is closed: nothing else would run it
    }
    if (impl && impl->nested_waiters > 0) {
      std::lock_guard lock(impl->task_mutex);  // a handler waits for this reply on the handler thread
      impl->task_cv.notify_all();
    }
  }

  // --- writing -------------------------------------------------------------------------------

  using Kind = sdk::Outbox::Kind;

  void write_frame(std::string frame, Kind kind = Kind::message) {
    if (outbox.send(std::move(frame), kind)) wake();  // the I/O thread then waits for the socket to take the rest
  }

  // --- sending -------------------------------------------------------------------------------

  Message prepare(const std::string& name, json::value payload, SendOptions& options) {
    if (name.empty()) throw Error(Status::invalid_argument, "cannot send a message without a name");
    if (int depth = exo::json_depth(payload); depth >= exo::wire::kMaxDepth)
      throw Error(Status::invalid_argument, "the payload of '" + name + "' nests objects and arrays " +
                                                std::to_string(depth) + " levels deep; ExoCom accepts at most " +
                                                std::to_string(exo::wire::kMaxDepth - 1));
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

  std::shared_ptr<Reply::State> start_request(const std::string& name, json::value payload,
                                              std::chrono::milliseconds timeout, SendOptions options,
                                              std::function<void(Result)> callback) {
    check_open();
    Message m = prepare(name, std::move(payload), options);
    auto state = std::make_shared<Reply::State>();
    state->callback = std::move(callback);
    state->deadline = Clock::now() + timeout;
    state->activity = m.activity_id;
    state->name = name;
    state->timeout = timeout;
    state->spin = config.reply_spin;
    state->relay = weak_from_this();
    bool sooner;
    {
      // Registered before sending, so even an instant reply finds its request.
      std::lock_guard lock(mutex);
      pending[m.activity_id] = state;
      sooner = state->callback && state->deadline < wakes_at;
    }
    try {
      write_frame(sdk::mask_frame(sdk::message_json(m.name, m.sender, m.id, m.activity_id, m.payload, options)));
    } catch (...) {
      std::lock_guard lock(mutex);
      pending.erase(m.activity_id);
      throw;
    }
    // Only a callback whose deadline comes before the I/O thread's next wake-up needs it woken; a
    // waiting thread gives up at its deadline by itself.
    if (sooner) wake();
    return state;
  }

  // The waiter gives up at the deadline itself rather than relying on the I/O thread's timer.
  void forget(const std::shared_ptr<Reply::State>& state) {
    {
      std::lock_guard lock(mutex);
      auto it = pending.find(state->activity);
      if (it != pending.end() && it->second == state) pending.erase(it);
    }
    complete(state, Result{Status::timeout, {}, no_reply(state->name, state->timeout)});
  }

  // A handler waiting on the handler thread runs the handlers of messages that arrive meanwhile.
  bool wait_nested(const std::shared_ptr<Reply::State>& state, Clock::time_point until) {
    ++nested_waiters;
    while (!state->done) {
      Task task;
      {
        std::unique_lock lock(task_mutex);
        if (!task_cv.wait_until(lock, until, [&] { return state->done || !tasks.empty() || tasks_closed; })) break;
        if (state->done || tasks.empty()) break;
        task = take(lock);
      }
      task.run();
      finished();
    }
    --nested_waiters;
    return state->done;
  }

  // --- closing -------------------------------------------------------------------------------

  // How long ExoCom may take to answer our close frame before the socket is dropped.
  static constexpr std::chrono::milliseconds kCloseHandshake{1000};

  // Everything sent is written and (with receipts) accepted; the I/O thread alone.
  bool finished_sending() {
    acknowledge(true);
    return outbox.finished();
  }

  // What was handled is told, then the close frame; ExoCom hands the rest to another instance.
  void send_close() {
    acknowledge(true);
    outbox.close(sdk::mask_frame(exo::ws::close_payload(exo::ws::close_code::going_away, "service stopping"),
                                 exo::ws::Opcode::close));
  }

  bool close() {
    auto deadline = Clock::now() + config.stop_timeout;
    bool from_handler = handler_id.load() == std::this_thread::get_id();
    {
      std::lock_guard lock(mutex);
      if (stop_begun) return true;
      stop_begun = true;
      is_online = false;
    }
    mark_online(false);
    // 1. No handler starts any more; those running finish (and may still send and ask).
    int still_running = 0;
    size_t handed;
    {
      std::unique_lock lock(task_mutex);
      stopping = true;
      handed_back += drop_queued_frames(false);
      // A handler that closes the relay waits for nothing on its own thread.
      if (!from_handler && !task_cv.wait_until(lock, deadline, [&] { return tasks.empty() && running == 0; }))
        still_running = running;
    }
    // 2. The I/O thread tells ExoCom what was handled, sends the rest, waits for its receipts and
    // closes with 1001, by the deadline.
    std::unordered_map<std::string, std::shared_ptr<Reply::State>> left;
    {
      std::lock_guard lock(mutex);
      closing = true;
      close_by = std::max(deadline, Clock::now());
      left.swap(pending);
    }
    wake();
    changed.notify_all();
    join(io_thread);
    size_t unsent = outbox.shut();
    {
      std::lock_guard lock(task_mutex);
      tasks_closed = true;
      handed = handed_back;
    }
    task_cv.notify_all();
    if (handed) log(std::to_string(handed) + " received messages no handler had started were left to ExoCom for another instance");
    if (still_running)
      log(std::to_string(still_running) + " handlers still ran " + std::to_string(config.stop_timeout.count()) +
          "ms after the stop began; what they had not sent is lost");
    if (unsent) log(std::to_string(unsent) + " sent messages had not reached ExoCom's keeping when the relay closed; they are lost");
    if (still_running) handler_thread.detach();  // it may never return; the relay's core outlives it
    else join(handler_thread);
    // Whoever still waits learns that nothing more will come.
    for (auto& [id, p] : left) complete(p, Result{Status::closed, {}, "the relay was closed"});
    return still_running == 0 && unsent == 0;
  }

  static void join(std::thread& t) {
    if (!t.joinable()) return;
    if (t.get_id() == std::this_thread::get_id()) t.detach();  // closed from its own thread
    else t.join();
  }
};

// --- Reply -------------------------------------------------------------------------------------

bool Reply::ready() const { return state_ && state_->done; }

std::future_status Reply::wait_until(Clock::time_point t) const {
  if (!state_) throw Error(Status::invalid_argument, "this Reply belongs to no request");
  auto& s = *state_;
  if (s.done) return std::future_status::ready;
  auto until = std::min(t, s.deadline);
  if (s.spin.count() > 0) {
    auto spin_until = std::min(until, Clock::now() + s.spin);
    while (!s.done && Clock::now() < spin_until) std::this_thread::yield();
    if (s.done) return std::future_status::ready;
  }
  auto impl = s.relay.lock();
  if (impl && impl->handler_id.load() == std::this_thread::get_id()) {
    impl->wait_nested(state_, until);
  } else {
    impl.reset();  // waiting elsewhere must not keep a closed relay's core alive
    std::unique_lock lock(s.mutex);
    s.cv.wait_until(lock, until, [&] { return s.done.load(); });
  }
  if (!s.done && Clock::now() >= s.deadline) {
    if (auto relay = s.relay.lock()) relay->forget(state_);
    else Relay::Impl::complete(state_, Result{Status::timeout, {}, no_reply(s.name, s.timeout)});
  }
  return s.done ? std::future_status::ready : std::future_status::timeout;
}

std::future_status Reply::wait_for(std::chrono::nanoseconds d) const { return wait_until(Clock::now() + d); }

Result Reply::result() const {
  if (!state_) throw Error(Status::invalid_argument, "this Reply belongs to no request");
  while (wait_until(state_->deadline) != std::future_status::ready) {
  }
  std::lock_guard lock(state_->mutex);
  return state_->result;
}

Message Reply::get() const {
  Result r = result();
  if (!r.ok()) throw Error(r.status, r.error);
  return std::move(r.reply);
}

// --- Relay -------------------------------------------------------------------------------------

std::chrono::milliseconds stop_timeout_from_environment() {
  try {
    return exo::stop_timeout_from_environment();
  } catch (const exo::UserError& e) {
    throw Error(Status::config_error, e.what());
  }
}

RelayConfig RelayConfig::from_environment() {
  RelayConfig c;
  const char* role = std::getenv("ROLE");
  if (!role || !*role)
    throw Error(Status::config_error, "ROLE is not set; set it to this service's role (exo run does this for you)");
  c.role = role;
  if (const char* port = std::getenv("EXOCOM_PORT"); port && *port) {
    char* end = nullptr;
    long v = std::strtol(port, &end, 10);
    if (*end || v < 1 || v > 65535)
      throw Error(Status::config_error, std::string("EXOCOM_PORT '") + port + "' is not a port number (1-65535)");
    c.port = static_cast<std::uint16_t>(v);
  }
  if (const char* host = std::getenv("EXOCOM_HOST"); host && *host) {
    c.host = host;
    parse_nodes(c.host, c.port, "EXOCOM_HOST");  // says which variable is wrong
  }
  if (const char* spin = std::getenv("EXOCOM_REPLY_SPIN_US"); spin && *spin) {
    char* end = nullptr;
    long v = std::strtol(spin, &end, 10);
    if (*end || v < 0 || v > 1'000'000)
      throw Error(Status::config_error, std::string("EXOCOM_REPLY_SPIN_US '") + spin + "' is not 0-1000000 microseconds");
    c.reply_spin = std::chrono::microseconds(v);
  }
  if (const char* file = std::getenv("EXOSPHERE_ONLINE_FILE")) c.online_file = file;
  c.stop_timeout = stop_timeout_from_environment();
  return c;
}

Relay::Relay(RelayConfig config) {
  if (config.role.empty()) throw Error(Status::config_error, "a relay needs a role");
  if (config.port == 0) throw Error(Status::config_error, "a relay needs ExoCom's port");
  impl_ = std::make_shared<Impl>(std::move(config));
}

Relay::~Relay() { close(); }

void Relay::on(const std::string& name, Handler handler) {
  if (!handler) throw Error(Status::invalid_argument, "the handler for '" + name + "' is empty");
  on_shared(name, [h = std::move(handler)](const SharedMessage& m) { h(*m); });
}

void Relay::on_shared(const std::string& name, std::function<void(const std::shared_ptr<const Message>&)> handler) {
  if (name.empty()) throw Error(Status::invalid_argument, "a handler needs a message name");
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
  impl_->handler_thread = exo::quiet_thread([self = impl_] { self->run_handlers(); });
  impl_->io_thread = exo::quiet_thread([self = impl_] { self->run_io(); });
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
  return send_through(*impl_, name, std::move(payload), std::move(options));
}

Reply Relay::request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                     SendOptions options) {
  return request_through(*impl_, name, std::move(payload), timeout, std::move(options));
}

void Relay::request(const std::string& name, json::value payload, std::chrono::milliseconds timeout,
                    std::function<void(Result)> callback, SendOptions options) {
  if (!callback) throw Error(Status::invalid_argument, "a request needs a callback");
  impl_->start_request(name, std::move(payload), timeout, std::move(options), std::move(callback));
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

bool Relay::close() { return impl_->close(); }

const RelayConfig& Relay::config() const { return impl_->config; }

// --- what Request reaches through the relay's core ------------------------------------------------

Message Relay::send_through(Impl& impl, const std::string& name, json::value payload, SendOptions options) {
  return impl.send(name, std::move(payload), std::move(options));
}

Reply Relay::request_through(Impl& impl, const std::string& name, json::value payload,
                             std::chrono::milliseconds timeout, SendOptions options) {
  return Reply(impl.start_request(name, std::move(payload), timeout, std::move(options), {}));
}

}  // namespace exosphere
